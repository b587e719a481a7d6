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
from certdeploy.app.unit_of_work import run_step
from certdeploy.domain.errors import NotFound
from certdeploy.domain.failures import NotificationFailed, Retry
from certdeploy.domain.models import Job
from certdeploy.domain.notifications import NotificationEvent, build_job_report
from certdeploy.ports.notifier import Notifier
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
    workers = store.workers.of_job(job.account_id, job.id)
    if command.event is NotificationEvent.ROLLBACK_FINISHED and command.worker_id is not None:
        workers = [w for w in workers if w.id == command.worker_id]
    resources = {r.id: r for r in store.resources.get_many(job.account_id, {w.resource_id for w in workers})}
    report = build_job_report(job, workers, resources, command.event, job.end_time or deps.clock.now())
    already = store.notifications.sent(job.account_id, command.key)
    budget = _Budget(store.notifications, deps.notify_limits, job.account_id, deps.clock.now() - _HOUR)
    delivered = 0
    failed: list[tuple[str, NotificationFailed]] = []
    for contact in store.contacts.get_many(job.account_id, job.contact_ids):
        for result in notifier.notify(contact, report, skip_keys=already, admit=budget.admit):
            if result.failure is None:
                store.notifications.record(
                    job.account_id, command.key, contact.id, result.key, address_digest=result.address_digest
                )
                delivered += 1
            else:
                failed.append((result.label, result.failure))
    _after_failures(deps, command, job, failed)
    return delivered


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
    deps: Deps, command: NotifyContacts, job: Job, failed: list[tuple[str, NotificationFailed]]
) -> None:
    """Send the message again when a failed delivery (by its label) is to be retried; log the ones given up on."""
    retries: list[Retry] = []
    for label, failure in failed:
        outcome = deps.retry.after(failure, command.attempt)
        if isinstance(outcome, Retry):
            log.info("notification to %s for job %s will be retried: %s", label, job.id, failure.message)
            retries.append(outcome)
        else:
            log.warning("notification to %s for job %s failed for good: %s", label, job.id, outcome.message)
    if retries:
        run_step(deps, lambda unit: resend(unit, command, retries[0]))
