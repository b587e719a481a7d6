"""Helpers for the store contract tests: one fresh (and migrated) database per backend and run, a store on it emptied
for each test, a settable clock, sample data.

PostgreSQL and MySQL/MariaDB come from `CERTDEPLOY_TEST_POSTGRES_URL` / `CERTDEPLOY_TEST_MYSQL_URL`. Each run
creates its own database on that server (named after the URL's database plus a random suffix) and drops it at the
end, so runs never see each other's rows and a second run starts clean. The URL's user needs CREATE/DROP DATABASE.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, text
from sqlalchemy.engine import make_url

from certdeploy.adapters.sql import SqlStore, create_store_engine, upgrade
from certdeploy.adapters.sql.engine import normalise_url, sqlite_url
from certdeploy.adapters.sql.schema import metadata
from certdeploy.domain.models import CertAlgorithm, CertificateInfo

BACKENDS = ("sqlite", "postgresql", "mysql")
SERVER_URL_VARIABLES = {"postgresql": "CERTDEPLOY_TEST_POSTGRES_URL", "mysql": "CERTDEPLOY_TEST_MYSQL_URL"}


class SettableClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@contextmanager
def fresh_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Yield the URL of an empty database on `backend`; skip when the backend's server is not configured."""
    if backend == "sqlite":
        yield sqlite_url(tmp_dir / "store.db")
        return
    variable = SERVER_URL_VARIABLES[backend]
    server_url = os.environ.get(variable)
    if not server_url:
        pytest.skip(f"{variable} is not set")
    base = normalise_url(server_url)
    name = f"{base.database or 'certdeploy'}_store_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    quoted = f'"{name}"' if backend == "postgresql" else f"`{name}`"
    charset = "" if backend == "postgresql" else " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {quoted}{charset}"))
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}{force}"))
        admin.dispose()


@contextmanager
def migrated_store_engine(backend: str, tmp_dir: Path) -> Iterator[Engine]:
    """An engine on a fresh database of `backend` migrated to the latest schema (see `fresh_database`)."""
    with fresh_database(backend, tmp_dir) as url:
        upgrade(url)
        engine = create_store_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def emptied_store(database: Engine, *, key_encryption_key: str, clock: SettableClock) -> SqlStore:
    """A store on `database` with every table emptied first."""
    with database.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
    return SqlStore(database, key_encryption_key=key_encryption_key, clock=clock)


def certificate_info(
    *names: str,
    not_before: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc),
    not_after: datetime = datetime(2027, 1, 1, tzinfo=timezone.utc),
) -> CertificateInfo:
    """Parsed facts of a certificate covering `names` (the store keeps them as given; no real PEM needed)."""
    return CertificateInfo(
        common_name=names[0] if names else None,
        sans=names,
        names=names,
        not_before=not_before,
        not_after=not_after,
        serial=secrets.token_hex(8),
        fingerprint_sha256=secrets.token_hex(32),
        issuer="CN=Test CA,O=certdeploy",
        issuer_common_name="Test CA",
        algorithm=CertAlgorithm.RSA,
        chain_length=2,
    )


def pem(label: str) -> str:
    body = secrets.token_urlsafe(600)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])
