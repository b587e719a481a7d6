"""Job and worker state machines: the CAS statuses plus `rolled_back`, exactly the transitions of docs/decisions.md.

Any other transition raises `InvalidStatus`, which the API answers as such.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from certdeploy.domain.errors import InvalidStatus
from certdeploy.domain.text_enum import TextEnum


class JobStatus(TextEnum):
    EDITING = "editing"
    PENDING = "pending"
    SCHEDULING = "scheduling"
    PROCESSING = "processing"
    SUCCESS = "success"
    ERROR = "error"
    ROLLED_BACK = "rolled_back"


class WorkerStatus(TextEnum):
    EDITING = "editing"
    PENDING = "pending"
    SCHEDULING = "scheduling"
    PROCESSING = "processing"
    SUCCESS = "success"
    ERROR = "error"
    ROLLBACK = "rollback"
    ROLLBACK_SUCCESS = "rollback_success"
    ROLLBACK_ERROR = "rollback_error"


J, W = JobStatus, WorkerStatus

JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    # Leaving editing: `pending` waits for ScheduleTime, `scheduling` runs now, `error` when nothing matched.
    J.EDITING: frozenset({J.PENDING, J.SCHEDULING, J.ERROR}),
    # A pending job can be taken back to editing (UpdateDeploymentJobStatus editing) until it starts.
    J.PENDING: frozenset({J.EDITING, J.SCHEDULING, J.ERROR}),
    J.SCHEDULING: frozenset({J.PROCESSING, J.ERROR}),
    J.PROCESSING: frozenset({J.SUCCESS, J.ERROR}),
    J.SUCCESS: frozenset({J.ROLLED_BACK}),
    # A job halted by its stages resumes (docs/decisions.md#staged-rollout); `domain/stages.py` says which may.
    J.ERROR: frozenset({J.ROLLED_BACK, J.SCHEDULING}),
    J.ROLLED_BACK: frozenset(),
}

WORKER_TRANSITIONS: dict[WorkerStatus, frozenset[WorkerStatus]] = {
    W.EDITING: frozenset({W.PENDING}),
    # Back to editing with its job (UpdateDeploymentJobStatus editing on a pending job).
    W.PENDING: frozenset({W.EDITING, W.SCHEDULING, W.ERROR}),
    W.SCHEDULING: frozenset({W.PROCESSING, W.ERROR}),
    W.PROCESSING: frozenset({W.SUCCESS, W.ERROR}),
    W.SUCCESS: frozenset({W.ROLLBACK}),
    W.ERROR: frozenset({W.ROLLBACK}),
    W.ROLLBACK: frozenset({W.ROLLBACK_SUCCESS, W.ROLLBACK_ERROR}),
    # A failed rollback may be asked for again; a successful one is final.
    W.ROLLBACK_ERROR: frozenset({W.ROLLBACK}),
    W.ROLLBACK_SUCCESS: frozenset(),
}

# Statuses in which a job may be deleted; refused while it runs or while one of its rollbacks runs.
JOB_DELETABLE: frozenset[JobStatus] = frozenset({J.EDITING, J.PENDING, J.SUCCESS, J.ERROR, J.ROLLED_BACK})
JOB_FINISHED: frozenset[JobStatus] = frozenset({J.SUCCESS, J.ERROR, J.ROLLED_BACK})
WORKER_FINISHED: frozenset[WorkerStatus] = frozenset({W.SUCCESS, W.ERROR})
WORKER_ROLLBACK_ACTIVE: frozenset[WorkerStatus] = frozenset({W.ROLLBACK})


def check_job_transition(current: JobStatus, target: JobStatus) -> JobStatus:
    """Return `target` if a job may move there from `current`; raise `InvalidStatus` otherwise."""
    if target not in JOB_TRANSITIONS[current]:
        raise InvalidStatus(f"A job in status '{current}' cannot move to '{target}'.")
    return target


def check_worker_transition(current: WorkerStatus, target: WorkerStatus) -> WorkerStatus:
    """Return `target` if a worker may move there from `current`; raise `InvalidStatus` otherwise."""
    if target not in WORKER_TRANSITIONS[current]:
        raise InvalidStatus(f"A worker in status '{current}' cannot move to '{target}'.")
    return target


@dataclass(frozen=True)
class JobMove:
    """A job status change the state machine allows (only `move_job` makes one); the store applies it if the job is
    still in `expected`. `expected == to` keeps the status and changes only fields."""

    expected: JobStatus
    to: JobStatus


@dataclass(frozen=True)
class WorkerMove:
    """As `JobMove`, for a worker; only `move_worker` makes one."""

    expected: WorkerStatus
    to: WorkerStatus


def move_job(current: JobStatus, target: JobStatus) -> JobMove:
    """The move from `current` to `target`; raise `InvalidStatus` if the state machine forbids it."""
    if current is not target:
        check_job_transition(current, target)
    return JobMove(current, target)


def move_worker(current: WorkerStatus, target: WorkerStatus) -> WorkerMove:
    """The move from `current` to `target`; raise `InvalidStatus` if the state machine forbids it."""
    if current is not target:
        check_worker_transition(current, target)
    return WorkerMove(current, target)


def check_job_deletable(status: JobStatus, worker_statuses: Iterable[WorkerStatus]) -> None:
    """Raise `InvalidStatus` unless a job in `status` whose workers are in `worker_statuses` may be deleted: not while
    it runs, nor while one of its rollbacks runs."""
    if status not in JOB_DELETABLE:
        raise InvalidStatus(f"A job in status '{status}' cannot be deleted while it runs.")
    if any(worker in WORKER_ROLLBACK_ACTIVE for worker in worker_statuses):
        raise InvalidStatus("A job cannot be deleted while a rollback in it runs.")


def check_workers_replaceable(worker_statuses: Iterable[WorkerStatus]) -> None:
    """Raise `InvalidStatus` unless every worker is still in `editing`: only then may a job's workers be matched
    afresh (a worker that left it may hold quota or be running)."""
    if any(worker is not W.EDITING for worker in worker_statuses):
        raise InvalidStatus("The job has workers that left 'editing'; they cannot be replaced.")


def job_outcome(worker_statuses: list[WorkerStatus]) -> JobStatus | None:
    """The status a processing job ends in once every worker finished: `success` only if all succeeded.

    None while any worker is still running. A job with no workers is an `error`.
    """
    if any(status not in WORKER_FINISHED for status in worker_statuses):
        return None
    if worker_statuses and all(status is W.SUCCESS for status in worker_statuses):
        return J.SUCCESS
    return J.ERROR
