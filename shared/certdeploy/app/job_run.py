"""What the running of a job shares: its timeline, its workers a page at a time, a worker's end, the job's finish.

The use cases that start, stage, halt and resume jobs (app/stages.py) and those that edit and submit them
(app/jobs.py) write through these, in the transaction of the change they make.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime

from certdeploy.app.messages import NotifyContacts, outbox_message
from certdeploy.app.unit_of_work import Step
from certdeploy.domain.completion import WorkerEnd, finish_job
from certdeploy.domain.errors import NotFound, Thing
from certdeploy.domain.models import Certificate, Job, Worker
from certdeploy.domain.notifications import NotificationEvent
from certdeploy.domain.quota import release_entries
from certdeploy.domain.states import WorkerStatus
from certdeploy.domain.timeline import JobEventType, NewJobEvent, job_event, worker_event
from certdeploy.ports.store.jobs import JobState, WorkerChange
from certdeploy.ports.store.unit_of_work import UnitOfWork

W, E = WorkerStatus, JobEventType
# Worker ids read at once when a job's workers are charged, released or failed: a bound on memory, not a limit.
ID_PAGE = 1000


def tell(unit: Step, *events: NewJobEvent) -> None:
    """Append to the job's timeline in the transaction of the change the events tell of."""
    unit.ops.job_events.append(events)


def worker_id_pages(ops: UnitOfWork, job: Job | JobState, status: WorkerStatus) -> Iterator[list[int]]:
    """The ids of the job's workers in `status`, a page at a time: never the whole job in memory."""
    after = 0
    while page := ops.workers.ids_after(job.account_id, job.id, status, after, ID_PAGE):
        yield page
        after = page[-1]


def release_pending(ops: UnitOfWork, job: Job | JobState) -> int:
    """Give back what the job's `pending` workers were charged; returns the ledger entries written."""
    released = 0
    for worker_ids in worker_id_pages(ops, job, W.PENDING):
        entries = release_entries(job.account_id, job.id, worker_ids)
        ops.quota.credit(job.account_id, entries)
        released += len(entries)
    return released


def apply_worker_ends(unit: Step, account_id: int, ends: Sequence[tuple[Worker, WorkerEnd]]) -> None:
    """Write the ends of some of an account's workers as the domain decided them (see
    `certdeploy.domain.completion.end_worker`), each conditional on the worker being as read: for all of them one
    update (an executemany) for their status, one for the refunds, one read of their certificates, one binding per
    certificate and one append to the timeline."""
    ops = unit.ops
    ops.workers.transition_each(
        account_id,
        [
            WorkerChange(
                worker,
                end.move,
                {
                    "error_code": None if end.failure is None else end.failure.code,
                    "error_message": None if end.failure is None else end.failure.message,
                },
            )
            for worker, end in ends
        ],
    )
    refunds = [end.refund for _, end in ends if end.refund is not None]
    if refunds:
        ops.quota.credit(account_id, refunds)
    bound = [worker for worker, end in ends if end.binds_certificate]
    cert_ids = {worker.cert_id for worker in bound}
    certs = {cert.id: cert for cert in ops.certificates.get_many(account_id, cert_ids)} if cert_ids else {}
    resources_of: dict[int, list[int]] = defaultdict(list)
    for worker in bound:
        if worker.cert_id not in certs:
            raise NotFound.of(Thing.CERTIFICATE, worker.cert_id)
        resources_of[worker.cert_id].append(worker.resource_id)
    for cert_id, resource_ids in resources_of.items():
        ops.resources.bind_certificate(account_id, resource_ids, cert_id, certs[cert_id].name)
    tell(unit, *(_end_event(worker, end, certs) for worker, end in ends))


def _end_event(worker: Worker, end: WorkerEnd, certs: dict[int, Certificate]) -> NewJobEvent:
    if end.binds_certificate:
        cert = certs[worker.cert_id]
        detail = f"certificate {cert.id} '{cert.name}' bound on attempt {worker.attempt + 1}"
        return worker_event(worker, E.WORKER_SUCCEEDED, detail)
    ran = f"on attempt {worker.attempt + 1}" if worker.status is W.PROCESSING else "before it ran"
    refund = "" if end.refund is None else ", its quota unit given back"
    return worker_event(worker, E.WORKER_FAILED, f"deployment failed {ran}{refund}", end.failure)


def finish_if_done(unit: Step, job: Job | JobState, now: datetime, *, sequence: int = 0) -> Job | None:
    """A processing job whose workers have all ended becomes `success` or `error` (decided from its counters), and
    its contacts are told; returns the finished job, or None while it runs. `sequence` tells a resumed job's finish
    from its halt (the notification of each is its own)."""
    ops = unit.ops
    counts = ops.workers.counts(job.account_id, job.id)
    move = finish_job(job.status, [status for _, status in counts])
    if move is None:
        return None
    finished = ops.jobs.transition(job.account_id, job.id, move, expected_version=job.version, end_time=now)
    ended: Counter[WorkerStatus] = Counter()
    for (_, status), count in counts.items():
        ended[status] += count
    detail = f"finished: {move.to}, {ended[W.SUCCESS]} worker(s) succeeded, {ended[W.ERROR]} failed"
    tell(unit, job_event(job.account_id, job.id, E.FINISHED, detail))
    notify_finished(unit, finished, sequence)
    return finished


def notify_finished(unit: Step, job: Job, sequence: int, halt_reason: str | None = None) -> None:
    """Tell the job's contacts how it ended (and why it halted), after this transaction commits."""
    message = NotifyContacts(
        account_id=job.account_id,
        job_id=job.id,
        event=NotificationEvent.JOB_FINISHED,
        outcome=job.status,
        sequence=sequence,
        halt_reason=halt_reason,
    )
    unit.send(outbox_message(message))
