"""Tell a job's contacts how it ended (the `notify` function): once per contact, channel and address per event.

A delivery is recorded as sent right after it succeeds; a redelivered message skips what was recorded. A
transient failure re-raises so the queue delivers the message again (only the failed deliveries are retried);
a permanent one is logged with its cause and not retried.
"""

from __future__ import annotations

import logging

from certdeploy.app.deps import Deps
from certdeploy.app.messages import NotifyContacts
from certdeploy.domain.errors import NotFound
from certdeploy.domain.notifications import NotificationEvent, build_job_report
from certdeploy.ports.notifier import Notifier

log = logging.getLogger(__name__)


class NotificationsPending(Exception):
    """Some deliveries failed transiently; delivering the message again retries just those."""


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
    delivered = 0
    pending: list[str] = []
    for contact in store.contacts.get_many(job.account_id, job.contact_ids):
        for result in notifier.notify(contact, report, skip_keys=already):
            if result.delivered:
                store.notifications.record(job.account_id, command.key, contact.id, result.key)
                delivered += 1
            elif result.transient:
                pending.append(f"{result.label}: {result.error}")
            else:
                log.warning("notification to %s for job %s failed for good: %s", result.label, job.id, result.error)
    if pending:
        raise NotificationsPending("; ".join(pending))
    return delivered
