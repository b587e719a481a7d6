"""What every repository of the SQL store shares: a connection source, the cipher, the clock and query helpers.

A repository asks `connect(write=...)` for a connection inside a transaction: the store opens one per call, a unit
of work hands out the one of its `transaction()` block. Conditional updates carry the expected status/version in
their WHERE clause; a zero row count then means the race was lost.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, CursorResult, Executable, Row, Select, Table, func, select
from sqlalchemy.exc import IntegrityError

from certdeploy.adapters.sql.crypto import KeyCipher
from certdeploy.adapters.sql.schema import accounts, jobs
from certdeploy.domain.errors import NotFound, Thing
from certdeploy.ports.clock import Clock
from certdeploy.ports.store.errors import AlreadyExists, StaleState

# Keys that become indexed VARCHAR(191) columns (the utf8mb4 limit of older InnoDB row formats).
MAX_KEY_LENGTH = 191
# Rows per IN (...) list; well under every database's bound-parameter limit.
_CHUNK = 500

Connect = Callable[..., AbstractContextManager[Connection]]


def chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def check_key(key: str, what: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"A {what} must be 1 to {MAX_KEY_LENGTH} characters long.")


def _check_page(page: int, page_size: int) -> None:
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size start at 1.")


class SqlRepository:
    """Base of the repositories: each operation is written once against a connection already in a transaction."""

    def __init__(self, connect: Connect, cipher: KeyCipher, clock: Clock) -> None:
        self._connection = connect
        self._cipher = cipher
        self._clock = clock

    def _now(self) -> datetime:
        return self._clock.now()

    def _owned_rows(
        self, table: Table, column: ColumnElement[Any], account_id: int, values: Collection[Any]
    ) -> list[Row[Any]]:
        """The account's rows of `table` whose `column` is one of `values`, by id; other accounts' rows are absent."""
        rows: list[Row[Any]] = []
        with self._connection(write=False) as conn:
            for chunk in chunks(sorted(set(values))):
                rows += conn.execute(select(table).where(table.c.account_id == account_id, column.in_(chunk))).all()
        return sorted(rows, key=lambda row: row.id)

    @staticmethod
    def _insert_unique(conn: Connection, statement: Executable, conflict: str, params: Any = None) -> CursorResult[Any]:
        """Run an INSERT in a savepoint so a unique-key violation leaves the surrounding transaction usable."""
        try:
            with conn.begin_nested():
                return conn.execute(statement, params)
        except IntegrityError as exc:
            raise AlreadyExists(conflict) from exc

    @staticmethod
    def _insert_if_absent(conn: Connection, statement: Executable) -> bool:
        try:
            with conn.begin_nested():
                conn.execute(statement)
        except IntegrityError:
            return False
        return True

    @staticmethod
    def _page(
        conn: Connection, query: Select[Any], order_by: Sequence[Any], page: int, page_size: int
    ) -> tuple[int, Sequence[Row[Any]]]:
        _check_page(page, page_size)
        total = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
        rows = conn.execute(query.order_by(*order_by).offset((page - 1) * page_size).limit(page_size)).all()
        return total, rows

    @staticmethod
    def _stale(conn: Connection, table: Table, thing: Thing, entity_id: int, account_id: int) -> StaleState:
        """Why a conditional update of one row matched nothing: NotFound (raised) or the row's real state."""
        row = conn.execute(
            select(table.c.status, table.c.version).where(table.c.id == entity_id, table.c.account_id == account_id)
        ).one_or_none()
        if row is None:
            raise NotFound.of(thing, entity_id)
        return StaleState(thing.value.lower(), entity_id, row.status, row.version)

    @staticmethod
    def _require_account(conn: Connection, account_id: int) -> None:
        if conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
            raise NotFound.of(Thing.ACCOUNT, account_id)

    @staticmethod
    def _lock_account(conn: Connection, account_id: int) -> Row[Any]:
        row = conn.execute(select(accounts).where(accounts.c.id == account_id).with_for_update()).one_or_none()
        if row is None:
            raise NotFound.of(Thing.ACCOUNT, account_id)
        return row

    @staticmethod
    def _require_job(conn: Connection, account_id: int, job_id: int) -> None:
        """NotFound unless the account has the job; reads only its id (a job row holds lists as long as the job)."""
        if conn.execute(select(jobs.c.id).where(jobs.c.id == job_id, jobs.c.account_id == account_id)).first() is None:
            raise NotFound.of(Thing.JOB, job_id)

    @staticmethod
    def _job_row(conn: Connection, account_id: int, job_id: int, *, for_update: bool = False) -> Row[Any]:
        query = select(jobs).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
        row = conn.execute(query.with_for_update() if for_update else query).one_or_none()
        if row is None:
            raise NotFound.of(Thing.JOB, job_id)
        return row
