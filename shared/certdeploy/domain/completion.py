"""What a worker's end does: its own status, the quota unit it gives back, and whether its job finishes.

The use cases apply these decisions with the job row locked, so concurrent completions of one job queue and the
last one always sees every other worker ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from certdeploy.domain.errors import InvalidStatus
from certdeploy.domain.failures import Failure
from certdeploy.domain.models import Worker
from certdeploy.domain.quota import LedgerEntry, refund_entry
from certdeploy.domain.states import (
    WORKER_FINISHED,
    JobMove,
    JobStatus,
    WorkerMove,
    WorkerStatus,
    job_outcome,
    move_job,
    move_worker,
)


@dataclass(frozen=True)
class WorkerEnd:
    """A worker's end: its move, the failure to record, the refund to apply, and whether its resource now serves
    the worker's certificate."""

    move: WorkerMove
    failure: Failure | None
    refund: LedgerEntry | None

    @property
    def binds_certificate(self) -> bool:
        return self.failure is None


def end_worker(worker: Worker, failure: Failure | None) -> WorkerEnd:
    """`success`, or `error` with the cause and the worker's quota unit given back (a no-op if it was never
    charged). Raise `InvalidStatus` if the worker cannot end from where it is, or has ended already."""
    if worker.status in WORKER_FINISHED:
        raise InvalidStatus(f"Worker {worker.id} has ended already ('{worker.status}').")
    if failure is None:
        return WorkerEnd(move_worker(worker.status, WorkerStatus.SUCCESS), None, None)
    refund = refund_entry(worker.account_id, worker.job_id, worker.id)
    return WorkerEnd(move_worker(worker.status, WorkerStatus.ERROR), failure, refund)


def finish_job(job_status: JobStatus, worker_statuses: Iterable[WorkerStatus]) -> JobMove | None:
    """The move that finishes a processing job once every worker ended (`success` only if all succeeded); None while
    one still runs, or when the job is not processing."""
    if job_status is not JobStatus.PROCESSING:
        return None
    outcome = job_outcome(list(worker_statuses))
    return None if outcome is None else move_job(job_status, outcome)
