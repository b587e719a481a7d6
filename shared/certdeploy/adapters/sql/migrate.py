"""Create or upgrade the store's schema with the Alembic migrations shipped inside this package.

`upgrade()` is safe to run again (a database at head is left alone) and safe to run from two processes at once: it
holds a database-wide lock while it migrates (an advisory lock on PostgreSQL, a named lock on MySQL, the write lock
of an IMMEDIATE transaction on SQLite), so the second run waits and then finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

from certdeploy.adapters.sql.engine import WRITE_OPTION, create_store_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_LOCK_NAME = "certdeploy_migrate"
_PG_LOCK_KEY = 0x63657274  # any constant shared by every certdeploy process; "cert" in ASCII
_MYSQL_LOCK_WAIT_SECONDS = 300


def _config(connection: Connection | None = None, key_encryption_key: str | bytes | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["key_encryption_key"] = key_encryption_key
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _migration_lock(conn: Connection) -> Iterator[None]:
    """Held around the migrations' transaction, from before it begins until after it is committed, so a process
    waiting for it sees the new revision. MySQL's named lock belongs to the session: it is taken and released in
    transactions of their own, because every ALTER there commits by itself and the revision's update would otherwise
    be committed after the release (the waiting process would then run the last migration again). PostgreSQL's
    advisory lock is taken inside the transaction and ends with its commit; SQLite's IMMEDIATE transaction is the
    lock."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        yield
        return
    got = conn.execute(
        text("SELECT GET_LOCK(:name, :wait)"), {"name": _LOCK_NAME, "wait": _MYSQL_LOCK_WAIT_SECONDS}
    ).scalar()
    conn.commit()
    if got != 1:
        raise TimeoutError(f"Another process has held the migration lock for {_MYSQL_LOCK_WAIT_SECONDS} s.")
    try:
        yield
    finally:
        conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})
        conn.commit()


def upgrade(
    target: str | URL | Engine, revision: str = "head", *, key_encryption_key: str | bytes | None = None
) -> None:
    """Bring the database at `target` (a URL or an engine) to `revision`. A migration that seals values kept in clear
    (0003, contacts' webhooks) needs `key_encryption_key` when there are any."""
    engine = target if isinstance(target, Engine) else create_store_engine(target)
    try:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with _migration_lock(conn), conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                command.upgrade(_config(conn, key_encryption_key), revision)
    finally:
        if engine is not target:
            engine.dispose()
