"""A job's worker counters, kept on its row by every write of its workers, in the same transaction.

The row is locked before the workers change (the order every writer takes: job, then worker), so concurrent
completions queue on it and each counts on the others' committed results; reading the counters is one row, whatever
the job's size. A transaction that moves many workers of one job (a batch of completions) locks and reads the row
once, keeps the counters on its connection, and writes them once, just before it commits (`write_held`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from sqlalchemy import Connection, distinct, func, select, update

from certdeploy.adapters.sql.schema import jobs, workers
from certdeploy.domain.errors import NotFound, Thing

CountKey = tuple[str, str]
# Where a transaction keeps the counters of the jobs it locked, by (account id, job id), on its connection.
_HELD = "certdeploy_held_job_counts"


def _held(conn: Connection) -> dict[tuple[int, int], Counter[CountKey]]:
    held: dict[tuple[int, int], Counter[CountKey]] = conn.info.setdefault(_HELD, {})
    return held


def locked_counts(conn: Connection, account_id: int, job_id: int) -> Counter[CountKey] | None:
    """The job's counters, its row locked until the transaction ends; None if the account has no such job. Changes
    made to them (`adjust`) are written by `write_held`."""
    held = _held(conn)
    if (account_id, job_id) not in held:
        row = conn.execute(
            select(jobs.c.worker_counts).where(jobs.c.id == job_id, jobs.c.account_id == account_id).with_for_update()
        ).one_or_none()
        if row is None:
            return None
        held[(account_id, job_id)] = Counter(row.worker_counts or {})
    return held[(account_id, job_id)]


def read_counts(conn: Connection, account_id: int, job_id: int) -> dict[CountKey, int]:
    counts = conn.info.get(_HELD, {}).get((account_id, job_id))
    if counts is None:
        row = conn.execute(
            select(jobs.c.worker_counts).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
        ).one_or_none()
        if row is None:
            raise NotFound.of(Thing.JOB, job_id)
        counts = row.worker_counts or {}
    return {key: count for key, count in counts.items() if count}


def adjust(counts: Counter[CountKey], changes: Mapping[CountKey, int]) -> None:
    """Change `counts` (from `locked_counts`) by `changes`."""
    counts.update(changes)


def write_held(conn: Connection) -> None:
    """Write the counters the transaction changed; called last before its commit."""
    for (_, job_id), counts in conn.info.pop(_HELD, {}).items():
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
