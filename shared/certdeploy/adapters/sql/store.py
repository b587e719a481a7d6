"""The `Store` port on SQLAlchemy Core: one implementation for SQLite, PostgreSQL and MySQL/MariaDB.

Each repository (one module per aggregate) only asks for a connection in a transaction. `SqlStore` hands its
repositories one per call; `SqlStore.transaction()` yields a `SqlTransaction` whose repositories share the block's
connection, so a state change and the outbox messages it causes commit together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from certdeploy.adapters.sql import job_counters
from certdeploy.adapters.sql.accounts import SqlAccounts
from certdeploy.adapters.sql.certificates import SqlCertificates
from certdeploy.adapters.sql.contacts import SqlContacts
from certdeploy.adapters.sql.crypto import KeyCipher
from certdeploy.adapters.sql.engine import WRITE_OPTION, create_store_engine
from certdeploy.adapters.sql.job_events import SqlJobEvents
from certdeploy.adapters.sql.job_stages import SqlJobStages
from certdeploy.adapters.sql.jobs import SqlJobs
from certdeploy.adapters.sql.messages import SqlNonces, SqlOutbox, SqlProcessedMessages, SqlSentNotifications
from certdeploy.adapters.sql.quota import SqlQuota
from certdeploy.adapters.sql.repository import Connect
from certdeploy.adapters.sql.resources import SqlResources
from certdeploy.adapters.sql.verifications import SqlVerifications
from certdeploy.adapters.sql.windows import SqlMaintenanceWindows
from certdeploy.adapters.sql.workers import SqlWorkers
from certdeploy.ports.clock import Clock
from certdeploy.ports.store.errors import StoreUnavailable


class SqlTransaction:
    """The `UnitOfWork` port: every repository, on connections from `connect`."""

    def __init__(self, connect: Connect, cipher: KeyCipher, clock: Clock) -> None:
        self.accounts = SqlAccounts(connect, cipher, clock)
        self.quota = SqlQuota(connect, cipher, clock)
        self.certificates = SqlCertificates(connect, cipher, clock)
        self.contacts = SqlContacts(connect, cipher, clock)
        self.resources = SqlResources(connect, cipher, clock)
        self.jobs = SqlJobs(connect, cipher, clock)
        self.workers = SqlWorkers(connect, cipher, clock)
        self.job_events = SqlJobEvents(connect, cipher, clock)
        self.job_stages = SqlJobStages(connect, cipher, clock)
        self.outbox = SqlOutbox(connect, cipher, clock)
        self.processed = SqlProcessedMessages(connect, cipher, clock)
        self.nonces = SqlNonces(connect, cipher, clock)
        self.notifications = SqlSentNotifications(connect, cipher, clock)
        self.verifications = SqlVerifications(connect, cipher, clock)
        self.windows = SqlMaintenanceWindows(connect, cipher, clock)


class SqlStore(SqlTransaction):
    """The `Store` port on a SQLAlchemy engine: each repository call in its own transaction. The schema comes from
    `certdeploy.adapters.sql.migrate.upgrade`."""

    def __init__(self, engine: Engine, *, key_encryption_key: str | bytes, clock: Clock) -> None:
        self._cipher = KeyCipher(key_encryption_key)
        self._clock = clock
        self.engine = engine
        super().__init__(self._connection, self._cipher, clock)

    @classmethod
    def from_url(cls, url: str | URL, *, key_encryption_key: str | bytes, clock: Clock) -> SqlStore:
        return cls(create_store_engine(url), key_encryption_key=key_encryption_key, clock=clock)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: write})
                try:
                    with conn.begin():
                        yield conn
                        job_counters.write_held(conn)
                finally:
                    job_counters.forget_held(conn)
        except OperationalError as exc:
            raise StoreUnavailable(f"The database failed: {exc.orig}") from exc

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """One transaction for several operations: use only the yielded unit of work inside the block."""
        with self._connection(write=True) as conn:

            @contextmanager
            def same_connection(*, write: bool) -> Iterator[Connection]:
                yield conn

            yield SqlTransaction(same_connection, self._cipher, self._clock)
