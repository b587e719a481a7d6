"""The scheduler (timer) function: start due jobs, relay the outbox, re-send stuck work, give up dead letters,
mirror CAS certificates and refresh resources. Every part is safe when two ticks overlap: each change is a
conditional update."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from certdeploy.app.deps import Deps
from certdeploy.app.execute import give_up_dead_lettered, give_up_worker
from certdeploy.app.jobs import start_due_jobs
from certdeploy.app.messages import (
    DeployWorker,
    InvalidMessage,
    QueueRole,
    RollbackWorker,
    VerifyWorker,
    outbox_message,
    parse_command,
)
from certdeploy.app.outbox import relay_pending
from certdeploy.app.resources import sync_resources
from certdeploy.app.rollback import give_up_rollback
from certdeploy.app.sources import source_accounts, sync_certificates
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.app.verify import give_up_verification
from certdeploy.app.windows import keep_waiting
from certdeploy.domain.deployment import PermanentDeployFailure
from certdeploy.domain.models import Worker
from certdeploy.domain.states import WorkerStatus, move_worker
from certdeploy.ports.queue import QueueError

log = logging.getLogger(__name__)
W = WorkerStatus


# Processed-message keys (consumers' and hosted-event marks) and sent outbox rows are kept this long: well past any
# redelivery window, short enough that the tables stay small. API nonces are kept only until they expire.
RETENTION = timedelta(days=2)


@dataclass(frozen=True)
class TickReport:
    started_jobs: int
    relayed_messages: int
    resent_workers: int
    dead_letters: int
    synced_certificates: int
    synced_resources: int


def _resend(deps: Deps, worker: Worker) -> bool:
    """A worker that stayed in flight past the deadline lost its message: send it again at the next attempt, or
    end it once the attempts are spent. One waiting for its maintenance window is not stuck: its message is on the
    way to the window's opening."""
    if keep_waiting(deps, worker):
        return False
    next_attempt = worker.attempt + 1
    if worker.status is not W.ROLLBACK and next_attempt >= deps.retry.max_attempts:
        give_up_worker(
            deps,
            worker,
            PermanentDeployFailure("DeployTimedOut", f"No deployment result after {deps.retry.max_attempts} attempts."),
            (worker.status,),
        )
        return True

    def step(unit: Step) -> bool:
        current = unit.ops.workers.get(worker.account_id, worker.id)
        if current.status is not worker.status or current.version != worker.version:
            return False
        attempt = current.attempt if current.status is W.ROLLBACK else next_attempt
        unit.ops.workers.transition(
            current.account_id,
            current.id,
            move_worker(current.status, current.status),
            expected_version=current.version,
            attempt=attempt,
        )
        common = {"account_id": current.account_id, "job_id": current.job_id, "worker_id": current.id}
        command = (RollbackWorker if current.status is W.ROLLBACK else DeployWorker)(**common, attempt=attempt)
        unit.send(outbox_message(command))
        return True

    return run_step(deps, step)


def resend_stuck_workers(deps: Deps, limit: int = 100) -> int:
    deadline = deps.clock.now() - timedelta(seconds=deps.stuck_after_seconds)
    stuck = deps.store.workers.stuck((W.SCHEDULING, W.PROCESSING, W.ROLLBACK), deadline, limit=limit)
    return sum(_resend(deps, worker) for worker in stuck)


def drain_dead_letters(deps: Deps, limit: int = 64) -> int:
    """End the work of messages that kept failing; nothing is dropped without a recorded cause."""
    queue = deps.queues.get(QueueRole.DEAD_LETTER)
    if queue is None:
        return 0
    handled = 0
    while handled < limit:
        try:
            batch = queue.receive_batch(16)
        except QueueError:
            log.warning("dead-letter queue unavailable", exc_info=True)
            break
        if not batch:
            break
        for message in batch:
            try:
                command = parse_command(message.body)
            except InvalidMessage:
                log.error(
                    "dead letter %s is not one of our messages; dropped: %.200r", message.message_id, message.body
                )
            else:
                if isinstance(command, DeployWorker):
                    give_up_dead_lettered(deps, command, message.receive_count)
                elif isinstance(command, RollbackWorker):
                    give_up_rollback(deps, command, message.receive_count)
                elif isinstance(command, VerifyWorker):
                    give_up_verification(deps, command, message.receive_count)
                else:
                    log.error(
                        "gave up %s message %s after %s receives",
                        command.kind,
                        message.message_id,
                        message.receive_count,
                    )
            queue.delete(message.receipt_handle)
            handled += 1
    return handled


def refresh_sources(deps: Deps) -> tuple[int, int]:
    """Mirror the certificate source's certificates, then sync the resources of the accounts whose sync is due (so a
    resource bound to a certificate new in CAS maps to ours at once), for each account the sources describe; one
    failure does not stop the rest. Returns (new certificates, resources reported)."""
    certificates = resources = 0
    for account in source_accounts(deps):
        try:
            certificates += sync_certificates(deps, account.id)
        except Exception:
            log.exception("certificate sync failed for account %s; the next tick tries again", account.id)
        try:
            resources += sync_resources(deps, account.id, due_only=True)
        except Exception:
            log.exception("resource sync failed for account %s; the next tick tries again", account.id)
    return certificates, resources


def forget_old_records(deps: Deps) -> None:
    cutoff = deps.clock.now() - RETENTION
    deps.store.processed.forget(cutoff)
    deps.store.nonces.forget_expired()
    deps.store.outbox.delete_sent(cutoff)


def tick(deps: Deps, *, sync: bool = True) -> TickReport:
    started_jobs = start_due_jobs(deps)
    relayed_messages = relay_pending(deps.store, deps.queues, deps.clock)
    resent_workers = resend_stuck_workers(deps)
    dead_letters = drain_dead_letters(deps)
    synced_certificates, synced_resources = refresh_sources(deps) if sync else (0, 0)
    report = TickReport(
        started_jobs=started_jobs,
        relayed_messages=relayed_messages,
        resent_workers=resent_workers,
        dead_letters=dead_letters,
        synced_certificates=synced_certificates,
        synced_resources=synced_resources,
    )
    forget_old_records(deps)
    busy = report.started_jobs or report.relayed_messages or report.resent_workers or report.dead_letters
    # Quiet ticks go to DEBUG: `serve` ticks every few seconds and would otherwise flood its log.
    log.log(logging.INFO if busy else logging.DEBUG, "scheduler tick: %s", report)
    return report
