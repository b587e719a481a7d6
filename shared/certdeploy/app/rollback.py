"""Per-resource rollback: the resource gets back the certificate it had before the job.

Asked for with UpdateWorkerResourceStatus(rollback) or CreateRollbackTask once the job has run; carried out by the
`rollback` function from the binding recorded on the worker before deployment. The job reads `rolled_back` once a
rollback in it has completed, and its contacts are told. Failures follow docs/failures.md; the worker's `attempt`
counts the attempts of its rollback while it is in `rollback`.
"""

from __future__ import annotations

import logging

from certdeploy.app.deps import Deps
from certdeploy.app.execute import load_deployable
from certdeploy.app.messages import NotifyContacts, RollbackWorker, outbox_message
from certdeploy.app.retry import retry_worker
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.app.windows import wait_for_window
from certdeploy.domain.deployment import Binding, DeployableCertificate, PermanentDeployFailure
from certdeploy.domain.errors import InvalidStatus, NotFound, Thing
from certdeploy.domain.failures import Failure, Permanent
from certdeploy.domain.models import Worker
from certdeploy.domain.notifications import NotificationEvent
from certdeploy.domain.states import JOB_FINISHED, JobStatus, WorkerStatus, move_job, move_worker
from certdeploy.domain.timeline import JobEventType, worker_event

log = logging.getLogger(__name__)
W = WorkerStatus
_ROLLABLE = (W.SUCCESS, W.ERROR, W.ROLLBACK_ERROR)


def request_rollback(deps: Deps, account_id: int, job_id: int, worker_id: int) -> Worker:
    """Queue the rollback of one worker of a job that has run."""

    def step(unit: Step) -> Worker:
        ops = unit.ops
        job = ops.jobs.get(account_id, job_id)
        worker = ops.workers.get(account_id, worker_id)
        if worker.job_id != job.id:
            raise NotFound(Thing.WORKER, f"Worker {worker_id} does not exist in job {job_id}.")
        if job.status not in JOB_FINISHED:
            raise InvalidStatus(f"Job {job_id} is '{job.status}': a rollback is possible once the job has run.")
        if worker.status not in _ROLLABLE:
            raise InvalidStatus(f"Worker {worker_id} is '{worker.status}': it cannot be rolled back now.")
        if worker.resource_domain is None:
            raise InvalidStatus(
                f"Worker {worker_id} never changed its resource ({worker.error_message or 'it did not run'}): "
                "there is nothing to roll back."
            )
        worker = ops.workers.transition(
            account_id, worker_id, move_worker(worker.status, W.ROLLBACK), expected_version=worker.version, attempt=0
        )
        ops.job_events.append([worker_event(worker, JobEventType.ROLLBACK_REQUESTED, "rollback requested")])
        unit.send(outbox_message(RollbackWorker(account_id=account_id, job_id=job_id, worker_id=worker_id)))
        return worker

    return run_step(deps, step)


def _finish_rollback(deps: Deps, worker: Worker, failure: Failure | None) -> None:
    def step(unit: Step) -> None:
        ops = unit.ops
        current = ops.workers.get(worker.account_id, worker.id)
        if current.status is not W.ROLLBACK:
            return
        if failure is None:
            ended = ops.workers.transition(
                current.account_id, current.id, move_worker(W.ROLLBACK, W.ROLLBACK_SUCCESS), clear_error=True
            )
            ops.resources.set_binding(
                current.account_id, current.resource_id, current.resource_cert_id, current.resource_cert_name
            )
            job = ops.jobs.lock(current.account_id, current.job_id)
            if job.status is not JobStatus.ROLLED_BACK:
                ops.jobs.transition(
                    job.account_id,
                    job.id,
                    move_job(job.status, JobStatus.ROLLED_BACK),
                    expected_version=job.version,
                    rolled_back=True,
                )
            restored = current.resource_cert_name or "the recorded binding"
            ops.job_events.append([worker_event(ended, JobEventType.ROLLED_BACK, f"rolled back to {restored}")])
        else:
            ended = ops.workers.transition(
                current.account_id,
                current.id,
                move_worker(W.ROLLBACK, W.ROLLBACK_ERROR),
                error_code=failure.code,
                error_message=failure.message,
            )
            ops.job_events.append([worker_event(ended, JobEventType.ROLLBACK_FAILED, "rollback failed", failure)])
        unit.send(
            outbox_message(
                NotifyContacts(
                    account_id=current.account_id,
                    job_id=current.job_id,
                    worker_id=current.id,
                    event=NotificationEvent.ROLLBACK_FINISHED,
                    # Each finish is told: a rollback asked for again after it failed finishes again.
                    sequence=ended.version,
                )
            )
        )

    run_step(deps, step)


def _our_previous_certificate(deps: Deps, worker: Worker) -> DeployableCertificate | None:
    """The certificate the resource had before, when it is one of ours and still exists."""
    if worker.resource_cert_id is None:
        return None
    try:
        return load_deployable(deps, worker.account_id, worker.resource_cert_id, worker.product)
    except PermanentDeployFailure:
        return None


def rollback_worker(deps: Deps, command: RollbackWorker) -> None:
    """Put the recorded binding back on the resource (the `rollback` function), once its maintenance window is open."""
    try:
        worker = deps.store.workers.get(command.account_id, command.worker_id)
    except NotFound:
        return
    if worker.status is not W.ROLLBACK or command.attempt < worker.attempt:
        return  # not in rollback any more, or a late redelivery of an attempt that was retried
    if wait_for_window(deps, worker, command):
        return
    previous = (
        Binding.model_validate_json(worker.resource_binding)
        if worker.resource_binding
        else Binding(
            cert_id=worker.resource_cert_id, cert_name=worker.resource_cert_name, domain=worker.resource_domain
        )
    )
    try:
        resources = [r for r in deps.store.resources.get_many(worker.account_id, [worker.resource_id]) if not r.gone]
        if not resources:
            raise NotFound(Thing.RESOURCE, f"Resource {worker.resource_id} no longer exists.")
        deployer = deps.deployers.for_product(resources[0].product)
        ours = _our_previous_certificate(deps, worker)
        if ours is not None:
            # Binding our own previous certificate again works on every product, even those (FC) that never
            # give a private key back and so cannot restore from what they reported.
            deployer.bind(resources[0], ours)
        else:
            deployer.restore(resources[0], previous)
    except NotFound as exc:
        _finish_rollback(deps, worker, PermanentDeployFailure("ResourceNotFound", exc.message))
        return
    except Failure as failure:
        log.info("rollback of worker %s attempt %s failed: %s", worker.id, command.attempt, failure)
        given_up = retry_worker(deps, command, W.ROLLBACK, failure)
        if given_up is not None:
            _finish_rollback(deps, worker, given_up)
        return
    _finish_rollback(deps, worker, None)


def give_up_rollback(deps: Deps, command: RollbackWorker, receive_count: int) -> None:
    """A rollback message that kept failing reached the dead-letter queue."""
    try:
        worker = deps.store.workers.get(command.account_id, command.worker_id)
    except NotFound:
        return
    _finish_rollback(
        deps,
        worker,
        Permanent("RollbackMessageDeadLettered", f"The rollback failed {receive_count} times and was given up."),
    )
