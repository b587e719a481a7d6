"""Engines for the three supported databases, chosen by one URL.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the API process and CLI commands can share the
file. SQLAlchemy takes over BEGIN from the sqlite3 driver (recipe in SQLAlchemy's SQLite dialect docs, "Enabling
Non-Legacy SQLite Transactional Modes"), so write transactions start with BEGIN IMMEDIATE: they queue for the write
lock up front instead of failing with SQLITE_BUSY when a read snapshot turns out to be stale. PostgreSQL and
MySQL/MariaDB run at READ COMMITTED, so every statement sees the latest committed rows once it holds its row locks,
and InnoDB takes no gap locks that would deadlock concurrent inserts.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from certdeploy.adapters.private_files import private_database_file, private_directory

# Execution option that marks a connection's transaction as one that will write.
WRITE_OPTION = "certdeploy_write"
SQLITE_BUSY_TIMEOUT_SECONDS = 30
_HOLDS_WRITER = "certdeploy_holds_writer"

# A bare scheme picks the driver we ship (SQLAlchemy's defaults, psycopg2 and mysqlclient, are not installed).
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite database file, creating its directory."""
    private_directory(path.parent)
    return f"sqlite:///{path.resolve()}"


def normalise_url(url: str | URL) -> URL:
    parsed = make_url(url)
    if parsed.drivername in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS[parsed.drivername])
    if parsed.get_backend_name() in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def create_store_engine(url: str | URL, **engine_options: Any) -> Engine:
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, engine_options)
    if backend in ("postgresql", "mysql", "mariadb"):
        options: dict[str, Any] = {"isolation_level": "READ COMMITTED", "pool_pre_ping": True}
        if backend != "postgresql":
            options["pool_recycle"] = 3600  # below MySQL's default wait_timeout of 8 hours
        return create_engine(parsed, **{**options, **engine_options})
    raise ValueError(f"Unsupported database '{backend}': use sqlite, postgresql or mysql/mariadb.")


def _sqlite_engine(url: URL, engine_options: dict[str, Any]) -> Engine:
    if url.database and url.database != ":memory:":
        private_database_file(Path(url.database))
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
    engine = create_engine(url, connect_args=connect_args, **engine_options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see the module docstring
        cursor = dbapi_connection.cursor()
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    # One writer at a time per process, queued here rather than in SQLite: a writer that finds the write lock taken
    # waits in SQLite's busy handler, which sleeps 1 to 100 ms between tries whenever the lock is freed, so threads
    # writing at once (the runner's deploy consumers) would spend most of their time asleep. Other processes still
    # meet at the busy handler.
    writer = threading.RLock()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        if write:
            writer.acquire()
            connection.info[_HOLDS_WRITER] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        except BaseException:
            _release(connection)
            raise

    def _release(connection: Connection, *_: Any) -> None:
        if connection.info.pop(_HOLDS_WRITER, False):
            writer.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL, retrying while another connection holds it.

    The switch needs an exclusive lock, and SQLite may answer SQLITE_BUSY without calling the busy handler "if SQLite
    determines that invoking the busy handler could result in a deadlock" (sqlite.org/c3ref/busy_handler.html), which
    happens when two processes open a new database file at the same moment.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
