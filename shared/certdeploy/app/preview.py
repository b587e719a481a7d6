"""What a job will change, resource by resource, before it is submitted (docs/decisions.md#preview): the certificate
each resource serves now and the one the job will bind there, so the user sees the difference before the quota is
charged.

What a resource serves now is what the inventory last reported (or what a job of ours bound since). Its name is always
known when something is bound; its expiry only when it is one of our certificates (a cloud product reports the name of
what it serves, not its dates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from certdeploy.app.deps import Deps
from certdeploy.app.windows import held_until
from certdeploy.domain.models import Certificate, Job, JobSummary, Product
from certdeploy.domain.stages import parse_stages, stage_sizes
from certdeploy.domain.states import JobStatus
from certdeploy.domain.windows import governing, next_opening
from certdeploy.ports.store.jobs import WorkerTarget


@dataclass(frozen=True)
class CertificateFacts:
    """A certificate as the preview names it; `id` and `not_after` are None when it is not one of ours."""

    id: int | None
    name: str
    not_after: datetime | None


@dataclass(frozen=True)
class BindingChange:
    """One worker's resource: what it serves now (None: nothing) → what the job binds."""

    worker_id: int
    resource_id: int
    product: Product
    domain: str
    current: CertificateFacts | None
    planned: Certificate
    # When the worker will run: the job's start, or later if its resource's own maintenance windows open later.
    planned_start: datetime


def _due(deps: Deps, job: JobSummary) -> datetime:
    now = deps.clock.now()
    return max(now, job.schedule_time) if job.schedule_time is not None else now


def planned_start(deps: Deps, job: Job) -> datetime | None:
    """When a job not yet started will start: at its ScheduleTime (or now), or when its resources' maintenance windows
    next open (docs/decisions.md#maintenance-windows); None once it has started."""
    if job.status not in (JobStatus.EDITING, JobStatus.PENDING):
        return None
    due = _due(deps, job)
    return held_until(deps.store, job.account_id, job.resource_ids, due) or due


def _current(target: WorkerTarget, ours: dict[int, Certificate]) -> CertificateFacts | None:
    bound = ours.get(target.bound_cert_id) if target.bound_cert_id is not None else None
    if bound is not None:
        return CertificateFacts(bound.id, target.bound_cert_name or bound.name, bound.not_after)
    return CertificateFacts(None, target.bound_cert_name, None) if target.bound_cert_name else None


def binding_changes(deps: Deps, job: JobSummary) -> list[BindingChange]:
    """Per worker of `job`, by worker id: the resource's certificate now and the one the job will bind. One read of
    the workers with their resources' columns, then the few certificates they name."""
    store = deps.store
    targets = store.workers.targets(job.account_id, job.id)
    cert_ids = {t.cert_id for t in targets} | {t.bound_cert_id for t in targets if t.bound_cert_id is not None}
    ours = {c.id: c for c in store.certificates.get_many(job.account_id, cert_ids)}
    windows, due = store.windows.of_account(job.account_id), _due(deps, job)
    return [
        BindingChange(
            t.worker_id,
            t.resource_id,
            t.product,
            t.domain,
            _current(t, ours),
            ours[t.cert_id],
            next_opening(governing(windows, dict(t.tags)), due) or due,
        )
        for t in targets
        if t.cert_id in ours
    ]


def stage_starts(changes: Sequence[BindingChange], sizes: Sequence[int]) -> list[datetime | None]:
    """The earliest moment each stage of a job can start, given its workers' `planned_start` (when their windows let
    them run): stages take the workers in worker id order, as submission assigns them, and a stage never starts
    before the one ahead of it (it waits for that one to end, a moment no preview knows)."""
    ordered = sorted(changes, key=lambda change: change.worker_id)
    starts: list[datetime | None] = []
    first = 0
    for size in sizes:
        start = min((change.planned_start for change in ordered[first : first + size]), default=None)
        if start is not None and starts and starts[-1] is not None:
            start = max(start, starts[-1])
        starts.append(start)
        first += size
    return starts


def stage_worker_counts(deps: Deps, job: JobSummary, worker_count: int) -> tuple[int, ...]:
    """How many of the job's `worker_count` workers each of its stages runs, in order
    (docs/decisions.md#staged-rollout); empty for a job without stages."""
    staged = deps.store.job_stages.get(job.account_id, job.id)
    return () if staged is None else stage_sizes(parse_stages(staged.stages), worker_count)
