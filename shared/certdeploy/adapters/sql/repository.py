"""What every repository of the SQL store shares: a connection source, the cipher, the clock and query helpers.

A repository asks `connect(write=...)` for a connection inside a transaction: the store opens one per call, a unit
of work hands out the one of its `transaction()` block. Conditional updates carry the expected status/version in
their WHERE clause; a zero row count then means the race was lost.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Executable,
    Row,
    Select,
    Table,
    Update,
    func,
    insert,
    select,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
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
# Values spread over at most this many times their number are read as one range (see `_owned_rows`).
_DENSE_SPAN = 2

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

    @staticmethod
    def _update_one(conn: Connection, statement: Update, table: Table, row_id: int) -> Row[Any] | None:
        """Run an update of the row of `table` whose id is `row_id`; the row as written, None when it matched nothing.
        Read in the same statement where the database can (SQLite, PostgreSQL), else after it (MySQL)."""
        if conn.dialect.update_returning:
            return conn.execute(statement.returning(*table.c)).one_or_none()
        if conn.execute(statement).rowcount == 0:
            return None
        return conn.execute(select(table).where(table.c.id == row_id)).one()

    def _owned_rows(
        self,
        table: Table,
        column: ColumnElement[int],
        account_id: int,
        values: Collection[int],
        *,
        columns: Sequence[ColumnElement[Any]] = (),
        where: Sequence[ColumnElement[bool]] = (),
    ) -> list[Row[Any]]:
        """The account's rows of `table` whose `column` is one of `values` and which meet `where`, by id; other
        accounts' rows are absent. Only `columns` are read when given (they include `id` and `column`)."""
        wanted = sorted(set(values))
        selected = list(columns) or list(table.c)
        names = [c.key for c in selected]
        at, id_at = names.index(column.key), names.index("id")
        # By id, the account's condition is written so that no index serves it: SQLite would otherwise read every row
        # of the account by an index that starts with `account_id` (resources have several) rather than the few ids
        # by primary key.
        account = table.c.account_id + 0 if column is table.c.id else table.c.account_id
        owned = select(*selected).where(account == account_id, *where)
        rows: list[Row[Any]] = []
        with self._connection(write=False) as conn:
            if len(wanted) > _CHUNK and wanted[-1] - wanted[0] < _DENSE_SPAN * len(wanted):
                # Many values close together (a job over most of an account's resources): one range read, filtered
                # here, costs a third of the lists of values it replaces.
                keep = set(wanted)
                in_range = owned.where(column.between(wanted[0], wanted[-1]))
                rows = [row for row in conn.execute(in_range) if row[at] in keep]
            else:
                for chunk in chunks(wanted):
                    rows += conn.execute(owned.where(column.in_(chunk))).all()
        return sorted(rows, key=lambda row: row[id_at])

    @staticmethod
    @contextmanager
    def _unique(conn: Connection, conflict: str) -> Iterator[None]:
        """A savepoint in which a unique-key violation raises `AlreadyExists(conflict)` and leaves the surrounding
        transaction usable."""
        try:
            with conn.begin_nested():
                yield
        except IntegrityError as exc:
            raise AlreadyExists(conflict) from exc

    @classmethod
    def _insert_unique(
        cls, conn: Connection, statement: Executable, conflict: str, params: Any = None
    ) -> CursorResult[Any]:
        """Run an INSERT in a savepoint so a unique-key violation leaves the surrounding transaction usable."""
        with cls._unique(conn, conflict):
            result = conn.execute(statement, params)
        return result

    @staticmethod
    def _insert_many(
        conn: Connection, table: Table, shared: dict[str, Any], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """INSERT many `rows` of plain integer and text values for `columns`, all with `shared` besides: `shared` is
        converted for the database once and the rows go to the driver as they are, in one executemany of a statement
        compiled once, not converted and bound per row by SQLAlchemy (which made 10,000 workers' insert twice as
        long)."""
        converted = []
        for name, value in shared.items():
            process = table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            converted.append(value if process is None else process(value))
        names = [*shared, *columns]
        compiled = insert(sql_table(table.name, *(sql_column(name) for name in names))).compile(dialect=conn.dialect)
        params = [(*converted, *row) for row in rows]
        if compiled.positional:  # the INSERT binds its columns in the order named
            conn.exec_driver_sql(compiled.string, params)
        else:
            conn.exec_driver_sql(compiled.string, [dict(zip(names, row, strict=True)) for row in params])

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
    def _indexed_page(
        conn: Connection, table: Table, conditions: Sequence[ColumnElement[bool]], page: int, page_size: int
    ) -> tuple[int, Sequence[Row[Any]]]:
        """A page of `table`'s rows meeting `conditions`, in id order, and how many rows meet them.

        Written for an index on the conditions' columns followed by `id` (docs/decisions.md#indexed-reads): the count
        and the page's ids are read from that index alone, and only the page's rows from the table, so a page costs
        the same whatever the rows before it; a condition the index lacks makes both scan instead."""
        _check_page(page, page_size)
        total = conn.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one()
        ids = (
            select(table.c.id)
            .where(*conditions)
            .order_by(table.c.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
            .subquery()
        )
        # The page is put in order here: at most `page_size` rows, where the database would sort in a temporary table.
        rows = conn.execute(select(table).join(ids, table.c.id == ids.c.id)).all()
        return total, sorted(rows, key=lambda row: row.id)

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
        """NotFound unless the job is the account's; reads the id alone, not the job's lists."""
        if conn.execute(select(jobs.c.id).where(jobs.c.id == job_id, jobs.c.account_id == account_id)).first() is None:
            raise NotFound.of(Thing.JOB, job_id)

    @staticmethod
    def _job_row(conn: Connection, account_id: int, job_id: int, *, for_update: bool = False) -> Row[Any]:
        query = select(jobs).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
        row = conn.execute(query.with_for_update() if for_update else query).one_or_none()
        if row is None:
            raise NotFound.of(Thing.JOB, job_id)
        return row
