"""A job's worker counters, kept on its row by every write of its workers, in the same transaction.

A transaction keeps the changes it makes to a job's counters on its connection and applies them last, just before it
commits (`write_held`): the job's row is locked only then, and held only for that write and the commit, so the
transactions of many consumers that end workers of one job overlap instead of queueing on its row for their whole
length (docs/runtime.md#job-execution) — except on MySQL (see `_LOCK_AT_ONCE`). A worker's writers take their locks
in that order — its row, then job rows by id — and the writers that lock a job first (starting it, `transition_all`)
move only workers that are not running, so the two cannot deadlock. Reading the counters is one row, whatever the
job's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Select, distinct, func, select, update

from certdeploy.adapters.sql.schema import jobs, workers
from certdeploy.domain.errors import NotFound, Thing

CountKey = tuple[str, str]
# InnoDB's foreign key checks take shared locks on the job row that a later lock for update would have to upgrade,
# which deadlocks two transactions ending workers of one job: there the row is locked at the first change.
_LOCK_AT_ONCE = frozenset({"mysql", "mariadb"})
# Where a transaction keeps the changes it made to jobs' counters, by (account id, job id), on its connection.
_HELD = "certdeploy_held_job_counts"


def _held(conn: Connection) -> dict[tuple[int, int], Counter[CountKey]]:
    held: dict[tuple[int, int], Counter[CountKey]] = conn.info.setdefault(_HELD, {})
    return held


def changes(conn: Connection, account_id: int, job_id: int) -> Counter[CountKey]:
    """The changes the transaction made to the job's counters so far; `adjust` them, `write_held` writes them."""
    held = _held(conn)
    if (account_id, job_id) not in held and conn.dialect.name in _LOCK_AT_ONCE:
        lock_job(conn, account_id, job_id)
    return held.setdefault((account_id, job_id), Counter())


def lock_job(conn: Connection, account_id: int, job_id: int) -> bool:
    """Lock the job's row until the transaction ends; False if the account has no such job."""
    query = select(jobs.c.id).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
    return conn.execute(for_job_update(query)).one_or_none() is not None


def for_job_update(query: Select[Any]) -> Select[Any]:
    """`query` locking the job rows it reads against other writers of them, but not against inserts of rows that refer
    to them (PostgreSQL's FOR NO KEY UPDATE): a transaction that added a job event may still lock its job last."""
    return query.with_for_update(key_share=True)


def read_counts(conn: Connection, account_id: int, job_id: int) -> dict[CountKey, int]:
    """The job's counters as committed (the latest, once its row is locked) plus the transaction's own changes."""
    row = conn.execute(
        select(jobs.c.worker_counts).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
    ).one_or_none()
    if row is None:
        raise NotFound.of(Thing.JOB, job_id)
    counts = Counter(row.worker_counts or {})
    counts.update(conn.info.get(_HELD, {}).get((account_id, job_id), {}))
    return {key: count for key, count in counts.items() if count}


def adjust(counts: Counter[CountKey], moved: Mapping[CountKey, int]) -> None:
    """Change `counts` (from `changes`) by `moved`."""
    counts.update(moved)


def write_held(conn: Connection) -> None:
    """Apply the transaction's changes to its jobs' rows, locking each (in id order); called last before commit."""
    held = conn.info.pop(_HELD, {})
    for account_id, job_id in sorted(held, key=lambda key: key[1]):
        query = select(jobs.c.worker_counts).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
        row = conn.execute(for_job_update(query)).one_or_none()
        if row is None:
            continue  # deleted with its workers in this transaction
        counts = Counter(row.worker_counts or {})
        counts.update(held[(account_id, job_id)])
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(worker_counts=+counts))


def forget_held(conn: Connection) -> None:
    """Drop what a transaction that ended kept (the connection goes back to the pool with its `info`)."""
    conn.info.pop(_HELD, None)


def recount(conn: Connection, job_id: int) -> None:
    """Count the job's workers afresh: when its workers are written while it is edited, never per completion."""
    of_job = workers.c.job_id == job_id
    grouped = (
        select(workers.c.product, workers.c.status, func.count())
        .where(of_job)
        .group_by(workers.c.product, workers.c.status)
    )
    counts = {(product, status): count for product, status, count in conn.execute(grouped)}
    cert_count = conn.execute(select(func.count(distinct(workers.c.cert_id))).where(of_job)).scalar_one()
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(worker_counts=counts, worker_cert_count=cert_count))
    for key in [key for key in _held(conn) if key[1] == job_id]:
        del _held(conn)[key]
