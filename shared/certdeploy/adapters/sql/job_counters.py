"""A job's worker counters, kept on its row by every write of its workers, in the same transaction.

The row is locked before the workers change (the order every writer takes: job, then worker), so concurrent
completions queue on it and each counts on the others' committed results; reading the counters is one row, whatever
the job's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from sqlalchemy import Connection, distinct, func, select, update

from certdeploy.adapters.sql.schema import jobs, workers
from certdeploy.domain.errors import NotFound, Thing

CountKey = tuple[str, str]


def locked_counts(conn: Connection, account_id: int, job_id: int) -> Counter[CountKey] | None:
    """The job's counters, its row locked until the transaction ends; None if the account has no such job."""
    row = conn.execute(
        select(jobs.c.worker_counts).where(jobs.c.id == job_id, jobs.c.account_id == account_id).with_for_update()
    ).one_or_none()
    return None if row is None else Counter(row.worker_counts or {})


def read_counts(conn: Connection, account_id: int, job_id: int) -> dict[CountKey, int]:
    row = conn.execute(
        select(jobs.c.worker_counts).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
    ).one_or_none()
    if row is None:
        raise NotFound.of(Thing.JOB, job_id)
    return {key: count for key, count in (row.worker_counts or {}).items() if count}


def adjust(conn: Connection, job_id: int, counts: Counter[CountKey], changes: Mapping[CountKey, int]) -> None:
    """Write `counts` (read with `locked_counts`) plus `changes`."""
    counts.update(changes)
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(worker_counts=+counts))


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
