"""Deploy one worker (the `execute` function), and give up on one whose message was dead-lettered.

At-least-once delivery means this can run twice for one message, or for an old message after a newer attempt:
every step re-reads the worker and acts only if it is still its turn. Before the resource is changed, its current
binding is recorded on the worker, so rollback always knows what to put back. Failures: docs/failures.md.
"""

from __future__ import annotations

import logging
from typing import Any

from certdeploy.app.deps import Deps
from certdeploy.app.job_run import apply_worker_end
from certdeploy.app.messages import DeployWorker
from certdeploy.app.retry import retry_worker
from certdeploy.app.sources import cas_identifier, certificate_with_content
from certdeploy.app.stages import continue_job
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.app.verification import start_verification
from certdeploy.app.windows import wait_for_window
from certdeploy.domain.completion import end_worker as domain_end_worker
from certdeploy.domain.deployment import (
    CAS_ID_PRODUCTS,
    CAS_IDENTIFIER_PRODUCTS,
    Binding,
    DeployableCertificate,
    DeployFailed,
    PermanentDeployFailure,
)
from certdeploy.domain.errors import NotFound
from certdeploy.domain.failures import Failure
from certdeploy.domain.models import Product, Resource, Worker
from certdeploy.domain.states import WorkerStatus, move_worker
from certdeploy.ports.store.jobs import Workers

log = logging.getLogger(__name__)
W = WorkerStatus
_RUNNING = (W.SCHEDULING, W.PROCESSING)


def _claim(deps: Deps, command: DeployWorker, previous: dict[str, Any]) -> Worker | None:
    """Mark the worker `processing` at this attempt, recording `previous` (what its resource served) unless an attempt
    already did; None if it is not this message's turn any more. One transaction: it is durable before the bind."""

    def step(unit: Step) -> Worker | None:
        worker = _its_turn(unit.ops.workers, command)
        if worker is None:
            return None
        # An attempt records before it binds, so while nothing is recorded no attempt reached the cloud and what was
        # read before this transaction is still the previous binding; once recorded, a retry must not record again.
        record = previous if worker.resource_domain is None else {}
        if worker.status is W.PROCESSING and command.attempt == worker.attempt and not record:
            return worker  # a redelivery of the message being worked on: carry on, every step is idempotent
        return unit.ops.workers.transition(
            command.account_id,
            worker.id,
            move_worker(worker.status, W.PROCESSING),
            expected_version=worker.version,
            attempt=command.attempt,
            **record,
        )

    return run_step(deps, step)


def _its_turn(workers: Workers, command: DeployWorker) -> Worker | None:
    """The worker as `workers` sees it now, if this message may still deploy it (None once its job was deleted)."""
    try:
        worker = workers.get(command.account_id, command.worker_id)
    except NotFound:
        return None
    if worker.status not in _RUNNING or command.attempt < worker.attempt:
        return None
    return worker


def _resource(deps: Deps, worker: Worker) -> Resource:
    found = [r for r in deps.store.resources.get_many(worker.account_id, [worker.resource_id]) if not r.gone]
    if not found:
        raise PermanentDeployFailure("ResourceNotFound", f"Resource {worker.resource_id} no longer exists.")
    return found[0]


def load_deployable(deps: Deps, account_id: int, cert_id: int, product: Product) -> DeployableCertificate:
    """A certificate with its key and CAS id, as `product`'s deployer takes it; a deleted one fails the deployment
    for good. A CAS certificate's content is fetched (once, then kept) only when `product` cannot bind it by CAS id,
    its CAS `CertIdentifier` only for the products that bind by it."""
    try:
        cert = deps.store.certificates.get(account_id, cert_id)
    except NotFound as exc:
        raise PermanentDeployFailure("CertificateNotFound", f"Certificate {cert_id} was deleted.") from exc
    if product not in CAS_ID_PRODUCTS:
        cert = certificate_with_content(deps, cert)
    key = deps.store.certificates.private_key(account_id, cert_id)
    identifier = cas_identifier(deps, cert) if product in CAS_IDENTIFIER_PRODUCTS else None
    return DeployableCertificate(
        cert_id=cert.id,
        name=cert.name,
        algorithm=cert.algorithm,
        cert_pem=cert.cert_pem,
        key_pem=key or "",
        cas_cert_id=cert.cas_cert_id,
        cas_identifier=identifier,
    )


def _our_certificate_id(deps: Deps, worker: Worker, resource: Resource, binding: Binding) -> int | None:
    """Our id of the certificate a resource serves, when we know it: the product reports ours, or its CAS id is one we
    mirror, or it is what we bound there last (cloud products do not know our ids)."""
    if binding.cert_id is not None:
        return binding.cert_id
    if binding.cas_cert_id is not None:
        mirrored = deps.store.certificates.by_cas_ids(worker.account_id, [binding.cas_cert_id])
        if mirrored:
            return mirrored[0].id
    if resource.bound_cert_id is not None and binding.cert_name == resource.bound_cert_name:
        return resource.bound_cert_id
    return None


def _previous_binding(deps: Deps, worker: Worker, resource: Resource) -> dict[str, Any]:
    """What the resource serves now, as the claim records it; nothing when an attempt recorded it already."""
    if worker.resource_domain is not None:
        return {}
    binding = deps.deployers.for_product(resource.product).current_binding(resource)
    # Known as ours, the previous certificate is what a rollback binds again.
    cert_id = _our_certificate_id(deps, worker, resource, binding)
    return {
        "resource_cert_id": cert_id,
        "resource_cert_name": binding.cert_name,
        "resource_domain": binding.domain or resource.domain,
        "resource_binding": binding.model_copy(update={"cert_id": cert_id}).model_dump_json(),
    }


def end_worker(deps: Deps, worker: Worker, *, failure: Failure | None, expected: tuple[WorkerStatus, ...]) -> None:
    """The worker ends in `success`, or in `error` with the cause and its quota unit given back; the job finishes
    when it was the last one (or its next stage starts, or it halts: app/stages.py)."""

    def step(unit: Step) -> None:
        current = unit.ops.workers.get(worker.account_id, worker.id)
        if current.status not in expected:
            return
        # Locked first: concurrent completions of one job queue on its row (rather than fail and retry), and each
        # reads the others' outcomes only after they committed, so the last one always finishes the job.
        job = unit.ops.jobs.lock_state(current.account_id, current.job_id)
        apply_worker_end(unit, current, domain_end_worker(current, failure))
        continue_job(unit, job, deps.clock.now())

    run_step(deps, step)


def _already_served(deps: Deps, worker: Worker) -> bool:
    """Whether the worker's resource serves its certificate now: an attempt may have bound it and died before it
    could say so. Only an attempt that recorded the previous binding can have reached the cloud."""
    if worker.resource_domain is None:
        return False
    try:
        resource = _resource(deps, worker)
        binding = deps.deployers.for_product(resource.product).current_binding(resource)
    except DeployFailed:
        return False
    return _our_certificate_id(deps, worker, resource, binding) == worker.cert_id


def give_up_worker(deps: Deps, worker: Worker, failure: Failure, expected: tuple[WorkerStatus, ...]) -> None:
    """End a worker whose deployment is given up on (its messages were lost or kept failing): in `error` with the
    cause, unless the cloud shows its certificate in place — then it succeeded, and the resource must not be left
    serving a certificate whose deployment is reported failed (and refunded)."""
    end_worker(deps, worker, failure=None if _already_served(deps, worker) else failure, expected=expected)


def deploy_worker(deps: Deps, command: DeployWorker) -> None:
    """Deploy one worker (once its maintenance window is open): claim it recording the current binding, bind the
    certificate, start its verification, end the worker (and maybe the job) — or leave that to its verification when
    the job's `VerifyMismatch` option says so.

    A failure follows the retry policy (docs/failures.md): retried by re-sending the message, or the worker ends in
    `error` with the cause. Other exceptions propagate to the queue's own retry and dead-letter queue.
    """
    seen = _its_turn(deps.store.workers, command)
    if seen is None or wait_for_window(deps, seen, command):
        return
    # Read before the claim so that the claim records it in the same transaction; a failure to read is the attempt's
    # failure once the worker is claimed.
    read_failure: Failure | None = None
    previous: dict[str, Any] = {}
    try:
        resource = _resource(deps, seen)
        previous = _previous_binding(deps, seen, resource)
    except Failure as failure:
        read_failure = failure
    worker = _claim(deps, command, previous)
    if worker is None:
        return
    try:
        if read_failure is not None:
            raise read_failure
        deps.deployers.for_product(resource.product).bind(
            resource, load_deployable(deps, worker.account_id, worker.cert_id, resource.product)
        )
    except Failure as failure:
        log.info("worker %s attempt %s failed: %s", worker.id, command.attempt, failure)
        given_up = retry_worker(deps, command, W.PROCESSING, failure)
        if given_up is not None:
            end_worker(deps, worker, failure=given_up, expected=(W.PROCESSING,))
        return
    if not start_verification(deps, worker):
        end_worker(deps, worker, failure=None, expected=(W.PROCESSING,))


def give_up_dead_lettered(deps: Deps, command: DeployWorker, receive_count: int) -> None:
    """A deploy message that kept failing reached the dead-letter queue: its worker ends in `error` with the cause."""
    try:
        worker = deps.store.workers.get(command.account_id, command.worker_id)
    except NotFound:
        return
    failure = PermanentDeployFailure(
        "DeployMessageDeadLettered",
        f"The deployment failed unexpectedly {receive_count} times and was given up"
        + (f"; last cause: {worker.error_code}: {worker.error_message}" if worker.error_code else "."),
    )
    give_up_worker(deps, worker, failure, _RUNNING)
