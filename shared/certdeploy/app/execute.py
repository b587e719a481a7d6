"""Deploy one worker (the `execute` function), and give up on one whose message was dead-lettered.

At-least-once delivery means this can run twice for one message, or for an old message after a newer attempt:
every step re-reads the worker and acts only if it is still its turn. Before the resource is changed, its current
binding is recorded on the worker, so rollback always knows what to put back. Failures: docs/failures.md.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from certdeploy.app.deps import Deps
from certdeploy.app.job_run import apply_worker_ends
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
from certdeploy.ports.cloud import Deployer, bind_each, current_bindings
from certdeploy.ports.store.jobs import WorkerChange, WorkerFields

log = logging.getLogger(__name__)
W = WorkerStatus
_RUNNING = (W.SCHEDULING, W.PROCESSING)


def _claim(deps: Deps, attempts: Sequence[_Attempt]) -> list[tuple[_Attempt, Worker]]:
    """Mark each attempt's worker `processing` at its attempt, recording `previous` (what its resource served) unless
    an attempt already did; an attempt whose message's turn has passed drops out. One transaction for the batch, one
    conditional update per shape of change for all its workers: it is durable before any bind."""

    tries = 0

    def step(unit: Step) -> list[tuple[_Attempt, Worker]]:
        nonlocal tries
        tries += 1
        seen = _seen(unit, attempts) if tries == 1 else _now_in_turn(unit, attempts)
        claimed: dict[_Attempt, Worker] = {}
        changes: dict[int, list[tuple[_Attempt, WorkerChange]]] = defaultdict(list)
        for attempt, worker in seen:
            if _carries_on(attempt, worker):
                claimed[attempt] = worker
                continue
            fields: WorkerFields = {"attempt": attempt.command.attempt, **_to_record(attempt, worker)}
            change = WorkerChange(worker, move_worker(worker.status, W.PROCESSING), fields)
            changes[worker.account_id].append((attempt, change))
        for account_id, of_account in changes.items():
            written = unit.ops.workers.transition_each(account_id, [change for _, change in of_account])
            claimed.update(zip((attempt for attempt, _ in of_account), written, strict=True))
        return [(attempt, claimed[attempt]) for attempt in attempts if attempt in claimed]

    return run_step(deps, step) if attempts else []


def _seen(unit: Step, attempts: Sequence[_Attempt]) -> list[tuple[_Attempt, Worker]]:
    """The workers as seen before the transaction, which the claim's condition on their version checks (a lost race
    runs the step again, reading); a redelivery carrying on is confirmed on a read in the transaction."""
    carrying = {attempt for attempt in attempts if _carries_on(attempt, attempt.seen)}
    confirmed = dict(_now_in_turn(unit, [attempt for attempt in attempts if attempt in carrying])) if carrying else {}
    return [
        (attempt, confirmed[attempt] if attempt in carrying else attempt.seen)
        for attempt in attempts
        if attempt in confirmed or attempt not in carrying
    ]


def _to_record(attempt: _Attempt, worker: Worker) -> WorkerFields:
    """An attempt records before it binds, so while nothing is recorded no attempt reached the cloud and what was
    read before the claim is still the previous binding; once recorded, a retry must not record again."""
    return attempt.previous if worker.resource_domain is None else {}


def _carries_on(attempt: _Attempt, worker: Worker) -> bool:
    """A redelivery of the message being worked on: it carries on (every step is idempotent) without a claim."""
    return (
        worker.status is W.PROCESSING and attempt.command.attempt == worker.attempt and not _to_record(attempt, worker)
    )


def _now_in_turn(unit: Step, attempts: Sequence[_Attempt]) -> list[tuple[_Attempt, Worker]]:
    """The attempts whose message may still deploy its worker as read now, with the worker (none once its job was
    deleted)."""
    by_account: dict[int, list[_Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_account[attempt.command.account_id].append(attempt)
    found: dict[_Attempt, Worker] = {}
    for account_id, of_account in by_account.items():
        current = {w.id: w for w in unit.ops.workers.get_many(account_id, [a.command.worker_id for a in of_account])}
        for attempt in of_account:
            worker = current.get(attempt.command.worker_id)
            if worker is not None and _in_turn(worker, attempt.command):
                found[attempt] = worker
    return [(attempt, found[attempt]) for attempt in attempts if attempt in found]


def _in_turn(worker: Worker, command: DeployWorker) -> bool:
    return worker.status in _RUNNING and command.attempt >= worker.attempt


def _resource(deps: Deps, worker: Worker) -> Resource:
    found = [r for r in deps.store.resources.get_many(worker.account_id, [worker.resource_id]) if not r.gone]
    if not found:
        raise _resource_gone(worker)
    return found[0]


def _resource_gone(worker: Worker) -> PermanentDeployFailure:
    return PermanentDeployFailure("ResourceNotFound", f"Resource {worker.resource_id} no longer exists.")


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


def _previous_bindings(deps: Deps, reads: Sequence[tuple[Worker, Resource]]) -> list[WorkerFields | Failure]:
    """What each worker's resource serves now, as the claim records it, or why it cannot be read; nothing when an
    attempt recorded it already. The resources of one deployer are read at once (`ports/cloud.py`)."""
    previous: list[WorkerFields | Failure] = [WorkerFields() for _ in reads]
    by_deployer: dict[int, tuple[Deployer, list[int]]] = {}
    for index, (worker, resource) in enumerate(reads):
        if worker.resource_domain is not None:
            continue
        try:
            deployer = deps.deployers.for_product(resource.product)
        except Failure as failure:
            previous[index] = failure
            continue
        by_deployer.setdefault(id(deployer), (deployer, []))[1].append(index)
    for deployer, indexes in by_deployer.values():
        bindings = current_bindings(deployer, [reads[index][1] for index in indexes])
        for index, binding in zip(indexes, bindings, strict=True):
            previous[index] = binding if isinstance(binding, Failure) else _to_be_recorded(deps, *reads[index], binding)
    return previous


def _to_be_recorded(deps: Deps, worker: Worker, resource: Resource, binding: Binding) -> WorkerFields:
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
    end_workers(deps, [(worker, failure)], expected=expected)


def end_workers(
    deps: Deps, ends: Sequence[tuple[Worker, Failure | None]], *, expected: tuple[WorkerStatus, ...]
) -> None:
    """`end_worker` for several workers, in one transaction; each job goes on (`continue_job`) once, after its
    workers of the batch ended. The workers are ended as given (each end is conditional on the worker's version), and
    read again only if one of them changed since (a lost race runs the step again)."""
    tries = 0

    def step(unit: Step) -> None:
        nonlocal tries
        tries += 1
        by_job: dict[tuple[int, int], list[tuple[Worker, Failure | None]]] = defaultdict(list)
        for worker, failure in ends:
            by_job[(worker.account_id, worker.job_id)].append((worker, failure))
        ended_jobs = []
        for (account_id, job_id), of_job in by_job.items():
            given = [worker for worker, _ in of_job]
            currents = {
                current.id: current
                for current in (given if tries == 1 else unit.ops.workers.get_many(account_id, [w.id for w in given]))
            }
            to_end = [
                (current, domain_end_worker(current, failure))
                for worker, failure in of_job
                if (current := currents.get(worker.id)) is not None and current.status in expected
            ]
            if to_end:
                apply_worker_ends(unit, account_id, to_end)
                ended_jobs.append((account_id, job_id))
        # The jobs' rows last, in id order, as every writer of workers locks them (adapters/sql/job_counters.py): held
        # only to the commit, and once locked they show every end committed before, so of two transactions ending a
        # job's last workers the later one sees the other's ends and finishes the job.
        for account_id, job_id in sorted(ended_jobs, key=lambda key: key[1]):
            continue_job(unit, unit.ops.jobs.lock_state(account_id, job_id), deps.clock.now())

    if ends:
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
    """Deploy one worker: `deploy_workers` of one."""
    deploy_workers(deps, [command])


@dataclass(frozen=True, eq=False)
class _Attempt:
    """A message whose worker was seen in its turn, with what its resource serves (or why that could not be read)."""

    command: DeployWorker
    seen: Worker
    resource: Resource | None = None
    previous: WorkerFields = field(default_factory=lambda: WorkerFields())
    read_failure: Failure | None = None


def deploy_workers(deps: Deps, commands: Sequence[DeployWorker]) -> None:
    """Deploy the workers of a batch of messages (one receive), each once its maintenance window is open (one whose
    window is closed waits for it, `app/windows.py`): claim them recording each current binding (one
    transaction), bind each certificate, start each verification, end them (one transaction, their jobs going on
    to the next stage or the end) — or leave a worker's end to its verification when its job's `VerifyMismatch` says so.
    Of several workers on one resource, the first is deployed so, then the others (`_one_per_resource`).

    A failure follows the retry policy (docs/failures.md): retried by re-sending the message, or the worker ends in
    `error` with the cause. Any other exception propagates to the queue's own retry and dead-letter queue, after the
    batch's other workers ended: their messages are done, a redelivery finds it is not their turn any more.
    """
    now, later = _one_per_resource(_read(deps, commands))
    claimed = _claim(deps, now)
    ends, unexpected = _bind_all(deps, claimed)
    end_workers(deps, ends, expected=(W.PROCESSING,))
    if later:
        try:
            deploy_workers(deps, [attempt.command for attempt in later])
        except Exception as exc:
            unexpected = unexpected or exc
    if unexpected is not None:
        raise unexpected


def _one_per_resource(attempts: Sequence[_Attempt]) -> tuple[list[_Attempt], list[_Attempt]]:
    """The attempts to deploy now, one per resource, and those whose resource another of the batch deploys first
    (workers of two jobs): they are read again after it, so that each records what it replaces, as one after the other
    would have, and a rollback of the later job restores the earlier job's certificate."""
    now: list[_Attempt] = []
    later: list[_Attempt] = []
    resources: set[tuple[int, int]] = set()
    for attempt in attempts:
        resource = (attempt.seen.account_id, attempt.seen.resource_id)
        (later if resource in resources else now).append(attempt)
        resources.add(resource)
    return now, later


def _read(deps: Deps, commands: Sequence[DeployWorker]) -> list[_Attempt]:
    """The attempts of the messages whose turn it is (of several for one worker, the latest attempt's), with their
    resources' bindings read before the claim so that the claim records them in the same transaction; a failure to
    read is the attempt's failure once the worker is claimed. Workers and resources are read for the batch at once."""
    latest: dict[tuple[int, int], DeployWorker] = {}
    for command in commands:
        key = (command.account_id, command.worker_id)
        if key not in latest or command.attempt > latest[key].attempt:
            latest[key] = command
    by_account: dict[int, list[DeployWorker]] = defaultdict(list)
    for command in latest.values():
        by_account[command.account_id].append(command)
    attempts: list[_Attempt] = []
    for account_id, of_account in by_account.items():
        workers = {
            worker.id: worker for worker in deps.store.workers.get_many(account_id, [c.worker_id for c in of_account])
        }
        in_turn = [
            (command, workers[command.worker_id])
            for command in of_account
            if command.worker_id in workers and _in_turn(workers[command.worker_id], command)
        ]
        found = deps.store.resources.get_many(account_id, {worker.resource_id for _, worker in in_turn})
        resources = {resource.id: resource for resource in found if not resource.gone}
        # An account without maintenance windows (most) costs the batch one read, not one per worker.
        windowed = bool(in_turn) and bool(deps.store.windows.of_account(account_id))
        reads = [
            (command, seen, resources.get(seen.resource_id))
            for command, seen in in_turn
            if not (windowed and wait_for_window(deps, seen, command))
        ]
        found_reads = [(seen, resource) for _, seen, resource in reads if resource is not None]
        previous = iter(_previous_bindings(deps, found_reads))
        for command, seen, resource in reads:
            read = _resource_gone(seen) if resource is None else next(previous)
            if isinstance(read, Failure):
                attempts.append(_Attempt(command, seen, read_failure=read))
            else:
                attempts.append(_Attempt(command, seen, resource, read))
    return attempts


def _bind_all(
    deps: Deps, claimed: Sequence[tuple[_Attempt, Worker]]
) -> tuple[list[tuple[Worker, Failure | None]], Exception | None]:
    """Bind each claimed worker's certificate (loaded once per way its products take it; the resources of one
    deployer at once, `ports/cloud.py`) and start its verification: the workers that end now with the failure each
    ends with, and the first unexpected error. A retried failure leaves the worker to its next message."""
    certificates: dict[tuple[int, int, bool, bool], DeployableCertificate] = {}
    outcomes: list[Exception | None] = [None] * len(claimed)
    by_deployer: dict[int, tuple[Deployer, list[tuple[int, Resource, DeployableCertificate]]]] = {}
    for index, (attempt, worker) in enumerate(claimed):
        try:
            if attempt.read_failure is not None:
                raise attempt.read_failure
            assert attempt.resource is not None
            product = attempt.resource.product
            # The batch's workers mostly share a certificate.
            key = (worker.account_id, worker.cert_id, product in CAS_ID_PRODUCTS, product in CAS_IDENTIFIER_PRODUCTS)
            if key not in certificates:
                certificates[key] = load_deployable(deps, worker.account_id, worker.cert_id, product)
            deployer = deps.deployers.for_product(product)
        except Exception as exc:
            outcomes[index] = exc
            continue
        by_deployer.setdefault(id(deployer), (deployer, []))[1].append((index, attempt.resource, certificates[key]))
    for deployer, binds in by_deployer.values():
        bound = bind_each(deployer, [(resource, certificate) for _, resource, certificate in binds])
        for (index, _, _), outcome in zip(binds, bound, strict=True):
            outcomes[index] = outcome
    ends: list[tuple[Worker, Failure | None]] = []
    unexpected: Exception | None = None
    for (attempt, worker), outcome in zip(claimed, outcomes, strict=True):
        try:
            ended, failure = _after_bind(deps, attempt, worker, outcome)
        except Exception as exc:
            unexpected = unexpected or exc
            continue
        if ended:
            ends.append((worker, failure))
    return ends, unexpected


def _after_bind(
    deps: Deps, attempt: _Attempt, worker: Worker, outcome: Exception | None
) -> tuple[bool, Failure | None]:
    """Whether the worker ends now after its bind's `outcome`, and the failure it ends with."""
    if isinstance(outcome, Failure):
        log.info("worker %s attempt %s failed: %s", worker.id, attempt.command.attempt, outcome)
        given_up = retry_worker(deps, attempt.command, W.PROCESSING, outcome)
        return given_up is not None, given_up
    if outcome is not None:
        raise outcome
    return not start_verification(deps, worker), None


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
