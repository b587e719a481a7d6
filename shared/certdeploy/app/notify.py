"""Tell a job's contacts how it ended (the `notify` function): once per contact, channel and address per event.

A delivery is recorded as sent right after it succeeds, under the event's key; a redelivered or retried message
skips what was recorded, so only failed deliveries are tried again. Failures follow docs/failures.md: while a
transient one may be retried, the message is sent again at its next attempt; a permanent one, or the last
attempt's, is logged with its cause and that delivery is not tried again.

Deliveries are rate-limited per account and per address over the last hour (`NotifyLimits`, counted in the store's
sent notifications, docs/decisions.md#notifications): one over a limit is not sent, and is a permanent failure.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from certdeploy.app.deps import Deps, NotifyLimits
from certdeploy.app.messages import NotifyContacts
from certdeploy.app.retry import resend
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.domain.errors import NotFound
from certdeploy.domain.failures import NotificationFailed, Retry
from certdeploy.domain.models import Job
from certdeploy.domain.notifications import NotificationEvent, build_job_report
from certdeploy.domain.timeline import JobEventType, NewJobEvent, job_event, mask_address
from certdeploy.ports.notifier import DeliveryResult, Notifier
from certdeploy.ports.store.messages import SentNotifications

log = logging.getLogger(__name__)


def notify_contacts(deps: Deps, notifier: Notifier, command: NotifyContacts) -> int:
    """Returns how many deliveries were made now."""
    store = deps.store
    try:
        job = store.jobs.get(command.account_id, command.job_id)
    except NotFound:
        log.info("job %s was deleted before its contacts were told", command.job_id)
        return 0
    if command.event is NotificationEvent.JOB_FINISHED and command.outcome is not None:
        # Told after a rollback already ran, the report still says how the job ended.
        job = job.model_copy(update={"status": command.outcome})
    contacts = store.contacts.get_many(job.account_id, job.contact_ids)
    if not contacts:
        # Nobody to tell: the report, a read of every worker of the job, is not built.
        return 0
    workers = store.workers.of_job(job.account_id, job.id)
    if command.event is NotificationEvent.ROLLBACK_FINISHED and command.worker_id is not None:
        workers = [w for w in workers if w.id == command.worker_id]
    resources = {r.id: r for r in store.resources.get_many(job.account_id, {w.resource_id for w in workers})}
    verifications = store.verifications.of_workers(job.account_id, [w.id for w in workers])
    finished_at = job.end_time or deps.clock.now()
    report = build_job_report(job, workers, resources, command.event, finished_at, verifications, command.halt_reason)
    already = store.notifications.sent(job.account_id, command.key)
    budget = _Budget(store.notifications, deps.notify_limits, job.account_id, deps.clock.now() - _HOUR)
    delivered = 0
    failed: list[tuple[DeliveryResult, NotificationFailed]] = []
    for contact in contacts:
        for result in notifier.notify(contact, report, skip_keys=already, admit=budget.admit):
            if result.failure is None:
                _record_delivery(deps, command, job, result)
                delivered += 1
            else:
                failed.append((result, result.failure))
    _after_failures(deps, command, job, failed)
    return delivered


def _delivery_event(command: NotifyContacts, job: Job, result: DeliveryResult, outcome: str) -> NewJobEvent:
    where = f"{result.channel} to {mask_address(str(result.channel), result.label)}"
    event_type = JobEventType.NOTIFICATION_SENT if result.failure is None else JobEventType.NOTIFICATION_FAILED
    detail = f"{command.event} report {outcome} by {where}"
    return job_event(job.account_id, job.id, event_type, detail, result.failure, worker_id=command.worker_id)


def _record_delivery(deps: Deps, command: NotifyContacts, job: Job, result: DeliveryResult) -> None:
    """Record the delivery made, and tell the job's timeline the first time only."""
    with deps.store.transaction() as ops:
        first = ops.notifications.record(
            job.account_id, command.key, result.contact_id, result.key, address_digest=result.address_digest
        )
        if first:
            ops.job_events.append([_delivery_event(command, job, result, "sent")])


_HOUR = timedelta(hours=1)


class _Budget:
    """What the notification rate limits leave for this message: the deliveries of the last hour are counted once
    per account and once per address, and each delivery admitted counts against both."""

    def __init__(self, sent: SentNotifications, limits: NotifyLimits, account_id: int, since: datetime) -> None:
        self._sent = sent
        self._limits = limits
        self._since = since
        self._account = sent.count(account_id, since) if limits.per_account_per_hour else 0
        self._addresses: dict[str, int] = {}

    def admit(self, address_digest: str) -> bool:
        limits = self._limits
        if limits.per_account_per_hour and self._account >= limits.per_account_per_hour:
            return False
        if limits.per_address_per_hour:
            if address_digest not in self._addresses:
                self._addresses[address_digest] = self._sent.count_to(address_digest, self._since)
            if self._addresses[address_digest] >= limits.per_address_per_hour:
                return False
            self._addresses[address_digest] += 1
        self._account += 1
        return True


def _after_failures(
    deps: Deps, command: NotifyContacts, job: Job, failed: list[tuple[DeliveryResult, NotificationFailed]]
) -> None:
    """Send the message again when a failed delivery is to be retried; log the ones given up on. Each failure goes
    on the job's timeline, with whether it is retried, in the transaction that queues the retry."""
    if not failed:
        return
    retries: list[Retry] = []
    events: list[NewJobEvent] = []
    for result, failure in failed:
        outcome = deps.retry.after(failure, command.attempt)
        if isinstance(outcome, Retry):
            log.info("notification to %s for job %s will be retried: %s", result.label, job.id, failure.message)
            retries.append(outcome)
            events.append(_delivery_event(command, job, result, f"not sent (retried in {outcome.delay_seconds} s)"))
        else:
            log.warning("notification to %s for job %s failed for good: %s", result.label, job.id, outcome.message)
            events.append(_delivery_event(command, job, result, "not sent (given up)"))

    def step(unit: Step) -> None:
        unit.ops.job_events.append(events)
        if retries:
            resend(unit, command, retries[0])

    run_step(deps, step)
