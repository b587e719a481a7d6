"""Verify what a worker's resource serves after its certificate was bound (docs/verification.md).

After a bind, `start_verification` (`app/verification.py`) records the worker's verification as `pending` and
queues its first check. `verify_worker` (the `execute` function, on the deploy queue) makes one check: it reads the
chain served for the resource's domain (SNI) and judges it. A slowly propagating product that does not serve the
certificate yet is checked again after the next delay of the schedule — a delayed queue message, never a sleeping
function — until it does or the schedule is spent. The final result stays on the worker; what a final mismatch does
is the job's `VerifyMismatch` option:
- `report` (default): the worker ended when it was bound; the result is only reported;
- `fail`: the worker waits in `processing` for its verification and ends in `error` on a mismatch (its quota unit
  given back, as for any failure), else in `success`;
- `rollback`: as `fail`, and the worker is then rolled back (the ordinary rollback, once its job has finished).
An unreachable resource or a skipped check never fails a worker: nothing contradicts what the product's API said.
"""

from __future__ import annotations

import logging

from certdeploy.app.deps import Deps
from certdeploy.app.execute import end_worker
from certdeploy.app.messages import VerifyWorker, outbox_message
from certdeploy.app.rollback import request_rollback
from certdeploy.app.sources import certificate_with_content
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.domain.deployment import PermanentDeployFailure
from certdeploy.domain.errors import InvalidStatus, NotFound
from certdeploy.domain.failures import Failure
from certdeploy.domain.models import Worker
from certdeploy.domain.states import JOB_FINISHED, WorkerStatus
from certdeploy.domain.timeline import JobEventType, worker_event
from certdeploy.domain.verification import (
    Judgement,
    Verification,
    VerifyMismatch,
    VerifyStatus,
    concrete_name,
    next_recheck,
)
from certdeploy.ports.verify import Unreachable

log = logging.getLogger(__name__)
# How long a worker failed by its verification waits between looks at whether its job has finished, to roll back.
ROLLBACK_WAIT_SECONDS = 10


def _check(deps: Deps, worker: Worker) -> tuple[str | None, Judgement]:
    """One look at what the resource serves: the SNI name used, and the judgement."""
    assert deps.served_chains is not None
    found = [r for r in deps.store.resources.get_many(worker.account_id, [worker.resource_id]) if not r.gone]
    if not found:
        return None, Judgement(status=VerifyStatus.SKIPPED, detail="the resource no longer exists")
    resource = found[0]
    try:
        cert = certificate_with_content(deps, deps.store.certificates.get(worker.account_id, worker.cert_id))
    except (NotFound, Failure) as exc:
        return None, Judgement(status=VerifyStatus.SKIPPED, detail=f"the certificate cannot be read: {exc}")
    domain = worker.resource_domain or resource.domain
    name = concrete_name(domain, cert.names)
    if name is None:
        reason = f"the resource's domain {domain} is a wildcard and the certificate names no host under it"
        return None, Judgement(status=VerifyStatus.SKIPPED, detail=reason)
    # X.509 parsing loads where a check runs, not at each cold start of the functions that import this module.
    from certdeploy.domain.served_chain import judge

    try:
        chain = deps.served_chains.served_chain(name, resource.port)
    except Unreachable as exc:
        return name, Judgement(status=VerifyStatus.UNREACHABLE, detail=str(exc))
    return name, judge(chain, cert.cert_pem)


def verify_worker(deps: Deps, command: VerifyWorker) -> None:
    """One check of a worker's resource (or, with `roll_back`, its rollback after a failed verification)."""
    try:
        worker = deps.store.workers.get(command.account_id, command.worker_id)
    except NotFound:
        return  # its job was deleted
    if command.roll_back:
        _roll_back_when_finished(deps, worker, command)
        return
    current = deps.store.verifications.of_workers(worker.account_id, [worker.id]).get(worker.id)
    if current is None or current.final or current.checks >= command.check or deps.served_chains is None:
        return  # a duplicate or late message
    name, judgement = _check(deps, worker)
    delay = (
        next_recheck(worker.product, command.check, deps.verify_recheck_seconds)
        if judgement.status in (VerifyStatus.MISMATCH, VerifyStatus.UNREACHABLE)
        else None
    )
    verification = Verification(
        worker_id=worker.id,
        job_id=worker.job_id,
        account_id=worker.account_id,
        status=VerifyStatus.PENDING if delay is not None else judgement.status,
        checks=command.check,
        server_name=name,
        detail=judgement.detail,
        served=judgement.served,
        checked_at=deps.clock.now(),
    )

    def step(unit: Step) -> None:
        unit.ops.verifications.record(verification)
        unit.ops.job_events.append(
            [worker_event(worker, JobEventType.VERIFY_CHECKED, _check_text(verification, delay))]
        )
        if delay is not None:
            again = command.model_copy(update={"check": command.check + 1})
            unit.send(outbox_message(again, delay_seconds=delay))

    run_step(deps, step)
    log.info("worker %s check %s: %s %s", worker.id, command.check, judgement.status, judgement.detail or "")
    if verification.final:
        _act(deps, worker, verification)


def _check_text(verification: Verification, delay: int | None) -> str:
    """`check 1 of www.example.com: mismatch: another certificate is served (CN=legacy-www); check 2 in 30 s`."""
    found = verification.detail or ""
    if verification.served is not None:
        found += f" ({verification.served.subject})"
    status = str(verification.status) if delay is None else "not yet"
    text = f"check {verification.checks} of {verification.server_name or 'no name'}: {status}"
    text += f": {found}" if found else ""
    return text + (f"; check {verification.checks + 1} in {delay} s" if delay is not None else "")


def _act(deps: Deps, worker: Worker, verification: Verification) -> None:
    """What the final result does to a worker held for its verification (the job's `VerifyMismatch` option)."""
    policy = deps.store.verifications.mismatch_policy(worker.account_id, worker.job_id)
    if not policy.holds_worker:
        return
    failed = verification.status is VerifyStatus.MISMATCH
    failure = (
        PermanentDeployFailure("VerifyMismatch", f"The resource does not serve the certificate: {verification.detail}.")
        if failed
        else None
    )
    end_worker(deps, worker, failure=failure, expected=(WorkerStatus.PROCESSING,))
    if failed and policy is VerifyMismatch.ROLLBACK:
        again = VerifyWorker(account_id=worker.account_id, job_id=worker.job_id, worker_id=worker.id, roll_back=True)
        _roll_back_when_finished(deps, worker, again)


def _roll_back_when_finished(deps: Deps, worker: Worker, command: VerifyWorker) -> None:
    """Roll back a worker its verification failed; a rollback waits for the job to finish, so until it has, look
    again later (a delayed message)."""
    job = deps.store.jobs.get(worker.account_id, worker.job_id)
    if job.status not in JOB_FINISHED:
        later = command.model_copy(update={"check": command.check + 1})
        run_step(deps, lambda unit: unit.send(outbox_message(later, delay_seconds=ROLLBACK_WAIT_SECONDS)))
        return
    try:
        request_rollback(deps, worker.account_id, worker.job_id, worker.id)
    except InvalidStatus as refused:
        log.info("worker %s not rolled back after its verification: %s", worker.id, refused)


def give_up_verification(deps: Deps, command: VerifyWorker, receive_count: int) -> None:
    """A verify message that kept failing reached the dead-letter queue: the verification ends `unreachable`, and a
    worker held for it ends as its product's API said (in `success`)."""
    try:
        worker = deps.store.workers.get(command.account_id, command.worker_id)
    except NotFound:
        return
    if command.roll_back:
        return
    detail = f"the check failed unexpectedly {receive_count} times and was given up"
    verification = Verification(
        worker_id=worker.id,
        job_id=worker.job_id,
        account_id=worker.account_id,
        status=VerifyStatus.UNREACHABLE,
        checks=command.check,
        detail=detail,
        checked_at=deps.clock.now(),
    )
    deps.store.verifications.record(verification)
    _act(deps, worker, verification)
