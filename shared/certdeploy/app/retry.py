"""How a queue consumer follows the retry policy after a failure (docs/failures.md): a `Transient` failure sends its
own message again at the next attempt, after the policy's delay; a `Permanent` one, or the last attempt's, is recorded.
"""

from __future__ import annotations

from datetime import timedelta

from certdeploy.app.deps import Deps
from certdeploy.app.messages import Command, DeployWorker, RollbackWorker, outbox_message
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.domain.failures import Failure, Permanent, Retry
from certdeploy.domain.states import WorkerStatus, move_worker
from certdeploy.domain.timeline import JobEventType, retry_detail, worker_event

WorkerCommand = DeployWorker | RollbackWorker


def resend(unit: Step, command: Command, retry: Retry) -> None:
    """Queue `command` again as the retry's attempt, sent after its delay once the step commits."""
    unit.send(outbox_message(command.model_copy(update={"attempt": retry.attempt}), delay_seconds=retry.delay_seconds))


def _retry_worker(deps: Deps, command: WorkerCommand, status: WorkerStatus, failure: Failure, retry: Retry) -> None:
    """Move the worker to the next attempt with the cause, and send its message again, in one transaction. The
    worker's attempt moves now, so a late redelivery of this attempt's message is stale."""

    def step(unit: Step) -> None:
        current = unit.ops.workers.get(command.account_id, command.worker_id)
        if current.status is not status or current.attempt != command.attempt:
            return
        moved = unit.ops.workers.transition(
            current.account_id,
            current.id,
            move_worker(status, status),
            expected_version=current.version,
            attempt=retry.attempt,
            error_code=failure.code,
            error_message=f"{failure.message} (attempt {retry.attempt + 1} of {deps.retry.max_attempts} "
            f"in {retry.delay_seconds} s)",
        )
        what = "rollback" if status is WorkerStatus.ROLLBACK else "deployment"
        at = deps.clock.now() + timedelta(seconds=retry.delay_seconds)
        detail = retry_detail(what, command.attempt + 1, deps.retry.max_attempts, retry.delay_seconds, at)
        unit.ops.job_events.append([worker_event(moved, JobEventType.RETRY_SCHEDULED, detail, failure)])
        resend(unit, command, retry)

    run_step(deps, step)


def retry_worker(deps: Deps, command: WorkerCommand, status: WorkerStatus, failure: Failure) -> Permanent | None:
    """After `failure` of a worker's `command` (the worker in `status`): None when it is retried, or the permanent
    failure the worker is to end with."""
    outcome = deps.retry.after(failure, command.attempt)
    if isinstance(outcome, Permanent):
        return outcome
    _retry_worker(deps, command, status, failure, outcome)
    return None
