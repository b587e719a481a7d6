"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`):
the reads a console polls are served by an index, on every backend (docs/decisions.md#indexed-reads).

The statements are the ones the store really runs, caught on their way to the database, then explained there. A page
or a count read by index costs the same however many rows the account or the job has; a table scan or a sort of every
row grows with them, which is what these plans must not show. PostgreSQL is told to avoid scans and sorts wherever it
can, so that on these small tables its plan shows whether an index can serve the query at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event

from certdeploy.adapters.sql import SqlStore
from certdeploy.domain.models import Product
from certdeploy.domain.states import WorkerStatus
from certdeploy.ports.store.jobs import WorkerSpec
from certdeploy.ports.store.resources import ResourceSpec
from tests.contract.store_fixtures import new_job

RESOURCES = 240
WORKERS = 2000
PRODUCTS = list(Product)


@contextmanager
def statements_run(engine: Engine, kinds: tuple[str, ...] = ("SELECT",)) -> Iterator[list[tuple[str, Any]]]:
    """The statements of `kinds` (text and parameters) the engine runs inside the block."""
    caught: list[tuple[str, Any]] = []

    def catch(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith(kinds):
            caught.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", catch)
    try:
        yield caught
    finally:
        event.remove(engine, "before_cursor_execute", catch)


def _plan_lines(engine: Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return [str(row[-1]) for row in cursor.fetchall()]
        if engine.dialect.name == "postgresql":
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SET enable_sort = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            lines = [str(row[0]) for row in cursor.fetchall()]
            cursor.execute("RESET ALL")
            return lines
        cursor.execute("EXPLAIN " + statement, parameters)
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return [f"{row['table']}|{row['key']}|{row['Extra']}" for row in rows]


def _grows_with_rows(dialect: str, table: str, line: str) -> bool:
    """Whether a line of a plan reads or sorts every row of `table` the query's conditions allow."""
    if dialect == "sqlite":
        return "TEMP B-TREE" in line or (line.startswith(f"SCAN {table}") and "INDEX" not in line)
    if dialect == "postgresql":
        return line.lstrip(" ->").startswith("Sort") or f"Seq Scan on {table}" in line
    read_table, key, extra = line.split("|")
    return read_table == table and (key == "None" or "filesort" in extra)


def _assert_indexed(engine: Engine, table: str, read: Callable[[], object]) -> None:
    with statements_run(engine) as caught:
        read()
    on_table = [(statement, parameters) for statement, parameters in caught if f"FROM {table}" in statement]
    assert on_table, f"no statement read {table}"
    for statement, parameters in on_table:
        plan = _plan_lines(engine, statement, parameters)
        growing = [line for line in plan if _grows_with_rows(engine.dialect.name, table, line)]
        assert not growing, f"{statement}\n→ {plan}"


def _analyze(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.exec_driver_sql("ANALYZE TABLE resources, workers")
        else:
            conn.exec_driver_sql("ANALYZE")


@pytest.fixture
def account_with_resources(store: SqlStore) -> tuple[int, list[int]]:
    """Two accounts' resources over the twelve products (some gone); the first account's id and its resource ids."""

    def specs(name: str) -> list[ResourceSpec]:
        return [
            ResourceSpec(
                product=PRODUCTS[index % len(PRODUCTS)],
                region="cn-hangzhou",
                instance_id=f"instance-{index}",
                domain=f"host{index}.{name}.example.com",
            )
            for index in range(RESOURCES)
        ]

    acme, other = store.accounts.create("acme"), store.accounts.create("other")
    ids = store.resources.upsert(acme.id, specs("acme"))
    store.resources.upsert(other.id, specs("other"))
    store.resources.set_gone(acme.id, ids[::10])
    return acme.id, ids


def test_pages_of_resources_are_read_by_index(
    store: SqlStore, database: Engine, account_with_resources: tuple[int, list[int]]
) -> None:
    # GIVEN two accounts of resources over the twelve products
    account_id, _ = account_with_resources
    _analyze(database)

    # WHEN a page of the account's resources is listed, all products or one
    # THEN the count and the page come from an index, with no scan or sort of the account's rows
    _assert_indexed(database, "resources", lambda: store.resources.search(account_id, page=3, page_size=50))
    _assert_indexed(
        database, "resources", lambda: store.resources.search(account_id, product=Product.ALB, page=2, page_size=5)
    )


def test_pages_of_a_jobs_workers_are_read_by_index(
    store: SqlStore, database: Engine, account_with_resources: tuple[int, list[int]]
) -> None:
    # GIVEN a job of thousands of workers and another job beside it
    account_id, _ = account_with_resources
    for name in ("big", "beside"):
        job = new_job(store, account_id, name=name)
        specs = [WorkerSpec(cert_id=1, resource_id=rid, product=Product.CDN) for rid in range(1, WORKERS + 1)]
        store.workers.create(account_id, job.id, specs)
    _analyze(database)

    # WHEN a page of the job's workers is listed, all statuses or one
    # THEN the count and the page come from an index, with no scan or sort of the job's workers
    _assert_indexed(database, "workers", lambda: store.workers.search(account_id, job.id, page=2, page_size=50))
    _assert_indexed(
        database,
        "workers",
        lambda: store.workers.search(account_id, job.id, status=WorkerStatus.EDITING, page=1, page_size=50),
    )


def _by_primary_key(dialect: str, line: str) -> bool:
    """Whether a line of a plan finds rows by the table's primary key."""
    if dialect == "sqlite":
        return "PRIMARY KEY" in line
    if dialect == "postgresql":
        return "_pkey" in line
    return line.split("|")[1] == "PRIMARY"


def test_a_few_resources_of_an_account_are_read_and_bound_by_their_ids(
    store: SqlStore, database: Engine, account_with_resources: tuple[int, list[int]]
) -> None:
    # GIVEN an account's resources, in a database never analyzed (as `certdeploy serve`'s)
    account_id, ids = account_with_resources

    # WHEN a batch of deployments reads a few of them and records the certificate bound on them
    few = ids[100:116]
    with statements_run(database, ("SELECT", "UPDATE")) as caught:
        store.resources.get_many(account_id, few)
        store.resources.bind_certificate(account_id, few, 1, "bound")

    # THEN each statement finds them by their ids, not by reading every resource of the account (a job deploys to
    # thousands of them a batch at a time)
    assert len(caught) == 2
    for statement, parameters in caught:
        plan = _plan_lines(database, statement, parameters)
        assert any(_by_primary_key(database.dialect.name, line) for line in plan), f"{statement}\n→ {plan}"
