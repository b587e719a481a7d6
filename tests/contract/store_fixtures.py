"""Helpers for the store contract tests: one fresh (and migrated) database per backend and run, a store on it emptied
for each test, a settable clock, sample data.

PostgreSQL and MySQL/MariaDB come from `CERTDEPLOY_TEST_POSTGRES_URL` / `CERTDEPLOY_TEST_MYSQL_URL`. Each run
creates its own database on that server (named after the URL's database plus a random suffix) and drops it at the
end, so runs never see each other's rows and a second run starts clean. The URL's user needs CREATE/DROP DATABASE.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, delete, text
from sqlalchemy.engine import make_url

from certdeploy.adapters.sql import SqlStore, create_store_engine, generate_key_encryption_key, upgrade
from certdeploy.adapters.sql.engine import normalise_url, sqlite_url
from certdeploy.adapters.sql.schema import metadata
from certdeploy.domain.models import CertAlgorithm, Certificate, CertificateInfo, CertOrigin, Job, Product
from certdeploy.domain.quota import Ledger
from certdeploy.domain.states import JobStatus, WorkerStatus, move_job, move_worker
from certdeploy.ports.store.jobs import WorkerSpec

BACKENDS = ("sqlite", "postgresql", "mysql")
KEK = generate_key_encryption_key()
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
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


def upload_certificate(
    store: SqlStore,
    account_id: int,
    *,
    private_key_pem: str | None,
    name: str = "web",
    domain: str = "a.com",
    **options: Any,
) -> Certificate:
    """An uploaded certificate of `account_id` for `domain`."""
    return store.certificates.add(
        account_id,
        name=name,
        origin=CertOrigin.UPLOAD,
        info=certificate_info(domain),
        cert_pem=pem("CERTIFICATE"),
        private_key_pem=private_key_pem,
        **options,
    )


def race(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    """Run `attempt(i)` on `count` threads released together; each result is a return value or the exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = attempt(index)
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


J, W = JobStatus, WorkerStatus


def new_job(store: SqlStore, account_id: int, **fields: Any) -> Job:
    values: dict[str, Any] = {"name": "job", "cert_origin": CertOrigin.UPLOAD, "cert_ids": (1,)}
    return store.jobs.create(account_id, **{**values, **fields})


def pending_job_with_workers(store: SqlStore, account_id: int, count: int) -> tuple[Job, list[int]]:
    job = new_job(store, account_id)
    specs = [WorkerSpec(cert_id=1, resource_id=100 + i, product=Product.CDN) for i in range(count)]
    worker_ids = store.workers.create(account_id, job.id, specs)
    store.workers.transition_all(account_id, job.id, move_worker(W.EDITING, W.PENDING))
    return store.jobs.transition(account_id, job.id, move_job(J.EDITING, J.PENDING)), worker_ids


def ledger_net(store: SqlStore, account_id: int) -> int:
    entries = store.quota.entries(account_id)
    return Ledger(account_id, 0, {entry.key: entry for entry in entries}).use_count
