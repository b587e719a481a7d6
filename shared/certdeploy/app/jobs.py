"""Deployment jobs: create, edit, preview, submit, start, finish and delete — the rules of docs/decisions.md.

A job is matched when it is created or edited: its workers (one per matched resource) exist from the `editing`
stage, so the preview counts what will really run. Leaving `editing` charges the quota (uploaded certificates
only) in the same transaction as the status change; starting re-checks each certificate's validity at run time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from certdeploy.app.deps import Deps
from certdeploy.app.job_run import release_pending, tell
from certdeploy.app.preview import planned_start, stage_worker_counts
from certdeploy.app.stages import assign_stages, resume_job, stage_options, start_job
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.app.windows import held_until, hold_job_until
from certdeploy.domain.errors import InvalidParameter, InvalidStatus, NotFound, Thing
from certdeploy.domain.matching import Exclusion, Matchable, MatchResult, match
from certdeploy.domain.models import (
    MAX_CONTACTS_PER_JOB,
    Certificate,
    CertOrigin,
    Job,
    JobSummary,
    JobType,
    Product,
)
from certdeploy.domain.quota import job_cost
from certdeploy.domain.stages import Size, parse_max_failures, parse_stages
from certdeploy.domain.states import (
    JOB_FINISHED,
    JobStatus,
    WorkerStatus,
    check_job_deletable,
    check_workers_replaceable,
    move_job,
    move_worker,
)
from certdeploy.domain.timeline import JobEventType, job_event
from certdeploy.domain.verification import VerifyMismatch
from certdeploy.ports.store.accounts import QuotaBalance
from certdeploy.ports.store.jobs import WorkerSpec
from certdeploy.ports.store.resources import ResourceTarget
from certdeploy.ports.store.unit_of_work import UnitOfWork

J, W, E = JobStatus, WorkerStatus, JobEventType


class JobDraft(BaseModel):
    """What CreateDeploymentJob / UpdateDeploymentJob say about a job."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=63)
    job_type: JobType = JobType.USER
    cert_ids: tuple[int, ...] = Field(min_length=1)
    resource_ids: tuple[int, ...] = Field(min_length=1)
    contact_ids: tuple[int, ...] = ()
    schedule_time: datetime | None = None
    verify_mismatch: VerifyMismatch | None = Field(None, description="what a verification mismatch does; ours")
    stages: tuple[Size, ...] | None = Field(None, description="cumulative stage sizes (domain/stages.py); ours")
    max_failures: Size | None = Field(None, description="the failure budget of a job with stages; ours")


class JobChanges(BaseModel):
    """UpdateDeploymentJob: only what is given changes."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str | None = Field(None, min_length=1, max_length=63)
    cert_ids: tuple[int, ...] | None = Field(None, min_length=1)
    resource_ids: tuple[int, ...] | None = Field(None, min_length=1)
    contact_ids: tuple[int, ...] | None = None
    schedule_time: datetime | None = None
    verify_mismatch: VerifyMismatch | None = None
    stages: tuple[Size, ...] | None = None
    max_failures: Size | None = None


@dataclass(frozen=True)
class JobProgress:
    """DescribeDeploymentJobStatus; on an `editing` job it is the preview."""

    job: JobSummary
    resource_count: int
    # When a job not yet started will start (app/preview.py); None once it has.
    planned_start: datetime | None
    worker_count: int
    cert_count: int
    cost_count: int
    quota: QuotaBalance
    success_count: int
    failed_count: int
    rollback_count: int
    rollback_success_count: int
    rollback_failed_count: int
    workers_per_product: dict[Product, int]
    exclusions: tuple[Exclusion, ...] = field(default=())
    stage_worker_counts: tuple[int, ...] = field(default=())


# ----------------------------------------------------------------------------------------------------- validation


def _distinct(ids: Sequence[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(ids))


def _certificates(ops: UnitOfWork, account_id: int, cert_ids: Sequence[int]) -> list[Certificate]:
    found = ops.certificates.get_many(account_id, cert_ids)
    missing = sorted(set(cert_ids) - {c.id for c in found})
    if missing:
        raise NotFound(Thing.CERTIFICATE, f"Certificate(s) {missing} do not exist.")
    return found


def _resources(ops: UnitOfWork, account_id: int, resource_ids: Sequence[int]) -> list[ResourceTarget]:
    found = ops.resources.targets(account_id, resource_ids)
    missing = sorted(set(resource_ids) - {r.id for r in found})
    if missing:
        raise NotFound(Thing.RESOURCE, f"Resource(s) {missing} do not exist.")
    return found


def _check_contacts(ops: UnitOfWork, account_id: int, contact_ids: Sequence[int]) -> None:
    if len(contact_ids) > MAX_CONTACTS_PER_JOB:
        raise InvalidParameter(
            "ContactIds", f"A job has at most {MAX_CONTACTS_PER_JOB} contacts, not {len(contact_ids)}."
        )
    missing = sorted(set(contact_ids) - {c.id for c in ops.contacts.get_many(account_id, contact_ids)})
    if missing:
        raise NotFound(Thing.CONTACT, f"Contact(s) {missing} do not exist.")


def _job_origin(certificates: Sequence[Certificate]) -> CertOrigin:
    """A job holds one type of certificate: all uploaded, or all official (bought or free)."""
    origins = {c.origin for c in certificates}
    if CertOrigin.UPLOAD in origins and len(origins) > 1:
        raise InvalidParameter(
            "CertIds", "A job holds certificates of one type only: all uploaded, or all official (bought or free)."
        )
    return CertOrigin.BUY if CertOrigin.BUY in origins else next(iter(origins))


def _match(
    deps: Deps, account_id: int, certs: Sequence[Certificate], resources: Sequence[Matchable], at: datetime | None
) -> MatchResult:
    return match(certs, resources, at or deps.clock.now(), account_id)


def _worker_specs(result: MatchResult) -> list[WorkerSpec]:
    return [WorkerSpec(cert_id=a.cert_id, resource_id=a.resource_id, product=a.product) for a in result.assignments]


# ----------------------------------------------------------------------------------------------------- editing


def create_job_in(unit: Step, deps: Deps, account_id: int, draft: JobDraft) -> Job:
    """CreateDeploymentJob inside a step: a job in `editing` with one worker per matched resource."""
    ops = unit.ops
    cert_ids, resource_ids, contact_ids = (
        _distinct(draft.cert_ids),
        _distinct(draft.resource_ids),
        _distinct(draft.contact_ids),
    )
    certs = _certificates(ops, account_id, cert_ids)
    resources = _resources(ops, account_id, resource_ids)
    _check_contacts(ops, account_id, contact_ids)
    job = ops.jobs.create(
        account_id,
        name=draft.name,
        cert_origin=_job_origin(certs),
        cert_ids=cert_ids,
        resource_ids=resource_ids,
        contact_ids=contact_ids,
        job_type=draft.job_type,
        schedule_time=draft.schedule_time,
    )
    matched = _match(deps, account_id, certs, resources, draft.schedule_time)
    ops.workers.create(account_id, job.id, _worker_specs(matched))
    tell(unit, job_event(account_id, job.id, E.CREATED, f"created: {_matched_text(matched)}"))
    if draft.verify_mismatch is not None:
        ops.verifications.set_mismatch_policy(account_id, job.id, draft.verify_mismatch)
    _set_stages(ops, job, draft.stages, draft.max_failures)
    return job


def create_job(deps: Deps, account_id: int, draft: JobDraft) -> Job:
    return run_step(deps, lambda unit: create_job_in(unit, deps, account_id, draft))


def update_job(deps: Deps, account_id: int, job_id: int, changes: JobChanges) -> Job:
    """UpdateDeploymentJob: only in `editing`; the job is matched again."""

    def step(unit: Step) -> Job:
        ops = unit.ops
        job = ops.jobs.get(account_id, job_id)
        if job.status is not J.EDITING:
            raise InvalidStatus(f"Job {job_id} is '{job.status}': only a job in 'editing' can be changed.")
        cert_ids = _distinct(changes.cert_ids) if changes.cert_ids is not None else job.cert_ids
        resource_ids = _distinct(changes.resource_ids) if changes.resource_ids is not None else job.resource_ids
        contact_ids = _distinct(changes.contact_ids) if changes.contact_ids is not None else job.contact_ids
        certs = _certificates(ops, account_id, cert_ids)
        resources = _resources(ops, account_id, resource_ids)
        _check_contacts(ops, account_id, contact_ids)
        schedule_time = changes.schedule_time if changes.schedule_time is not None else job.schedule_time
        job = ops.jobs.update(
            job.model_copy(
                update={
                    "name": changes.name or job.name,
                    "cert_origin": _job_origin(certs),
                    "cert_ids": cert_ids,
                    "resource_ids": resource_ids,
                    "contact_ids": contact_ids,
                    "schedule_time": schedule_time,
                }
            )
        )
        matched = _match(deps, account_id, certs, resources, schedule_time)
        _replace_workers(ops, job, _worker_specs(matched))
        tell(unit, job_event(account_id, job.id, E.EDITED, f"edited: {_matched_text(matched)}"))
        if changes.verify_mismatch is not None:
            ops.verifications.set_mismatch_policy(account_id, job.id, changes.verify_mismatch)
        _set_stages(ops, job, changes.stages, changes.max_failures)
        return job

    return run_step(deps, step)


def _set_stages(ops: UnitOfWork, job: Job, stages: tuple[Size, ...] | None, max_failures: Size | None) -> None:
    """Record the job's `Stages` and `MaxFailures` (either one alone keeps the other as it was)."""
    if stages is None and max_failures is None:
        return
    current = ops.job_stages.get(job.account_id, job.id)
    if stages is None:
        if current is None:
            raise InvalidParameter("MaxFailures", "MaxFailures is the failure budget of a job with Stages; give both.")
        stages = parse_stages(current.stages)
    if max_failures is None and current is not None:
        max_failures = parse_max_failures(current.max_failures)
    ops.job_stages.save(stage_options(job.account_id, job.id, stages, max_failures))


def _matched_text(matched: MatchResult) -> str:
    return f"{len(matched.assignments)} worker(s), {len(matched.exclusions)} resource(s) left out"


def _replace_workers(ops: UnitOfWork, job: Job, specs: list[WorkerSpec]) -> None:
    """Match an `editing` job afresh, with its row locked so no worker can leave `editing` meanwhile."""
    ops.jobs.lock(job.account_id, job.id)
    check_workers_replaceable(status for _, status in ops.workers.counts(job.account_id, job.id))
    ops.workers.replace(job.account_id, job.id, specs)


def delete_worker(deps: Deps, account_id: int, job_id: int, worker_id: int) -> None:
    """DeleteWorkerResource: drop one resource from a job still in `editing`."""

    def step(unit: Step) -> None:
        ops = unit.ops
        job = ops.jobs.get(account_id, job_id)
        if job.status is not J.EDITING:
            raise InvalidStatus(f"Job {job_id} is '{job.status}': workers can be removed only while it is 'editing'.")
        workers = ops.workers.of_job(account_id, job_id)
        if worker_id not in {w.id for w in workers}:
            raise NotFound(Thing.WORKER, f"Worker {worker_id} does not exist in job {job_id}.")
        keep = [WorkerSpec(w.cert_id, w.resource_id, w.product) for w in workers if w.id != worker_id]
        _replace_workers(ops, job, keep)
        tell(unit, job_event(account_id, job_id, E.EDITED, f"edited: worker {worker_id} removed, {len(keep)} left"))

    run_step(deps, step)


# ----------------------------------------------------------------------------------------------------- preview


def job_progress(deps: Deps, account_id: int, job_id: int) -> JobProgress:
    """DescribeDeploymentJobStatus, from the job's counters: constant in its size. For an `editing` job: the preview,
    with the resources left out and why."""
    store = deps.store
    described = store.jobs.describe(account_id, job_id)
    # Only a job not yet started needs its resource list decoded: to say what its preview leaves out, and when its
    # resources' maintenance windows let it start; a started one is counted from the list's text.
    full = store.jobs.get(account_id, job_id) if described.job.status in (J.EDITING, J.PENDING) else None
    job = described.job if full is None else full
    statuses: Counter[WorkerStatus] = Counter()
    per_product: Counter[Product] = Counter()
    for (product, status), count in store.workers.counts(account_id, job_id).items():
        statuses[status] += count
        per_product[product] += count
    worker_count = sum(statuses.values())
    exclusions: tuple[Exclusion, ...] = ()
    if full is not None and full.status is J.EDITING and worker_count < len(full.resource_ids):
        # Each resource matches on its own, so only those left without a worker are matched again to say why: a
        # preview of 10,000 resources does not read and match them all (nor its workers, when each has one).
        matched = {target.resource_id for target in store.workers.targets(account_id, job_id)}
        left_out = set(full.resource_ids) - matched
        resources = store.resources.targets(account_id, left_out)
        if resources:
            certs = store.certificates.get_many(account_id, job.cert_ids)
            exclusions = _match(deps, account_id, certs, resources, job.schedule_time).exclusions
    # Submitting charged one unit per worker (uploaded certificates); each worker that ended in `error` got its unit
    # back, and so did the workers a halt left `pending` (only a halt leaves a finished job any): so the job costs
    # its workers less those.
    released = statuses[W.ERROR] + (statuses[W.PENDING] if job.status in JOB_FINISHED else 0)
    charged = worker_count if job.status is J.EDITING else worker_count - released
    rollback_states = (W.ROLLBACK, W.ROLLBACK_SUCCESS, W.ROLLBACK_ERROR)
    return JobProgress(
        job=job,
        resource_count=len(full.resource_ids) if full is not None else described.resource_count,
        planned_start=None if full is None else planned_start(deps, full),
        worker_count=worker_count,
        cert_count=store.workers.cert_count(account_id, job_id),
        cost_count=job_cost(job.cert_origin, charged),
        quota=store.quota.balance(account_id),
        success_count=statuses[W.SUCCESS],
        failed_count=statuses[W.ERROR],
        rollback_count=sum(statuses[s] for s in rollback_states),
        rollback_success_count=statuses[W.ROLLBACK_SUCCESS],
        rollback_failed_count=statuses[W.ROLLBACK_ERROR],
        workers_per_product=dict(per_product),
        exclusions=exclusions,
        stage_worker_counts=stage_worker_counts(deps, job, worker_count),
    )


# ----------------------------------------------------------------------------------------------------- submit / start


def change_job_status_in(unit: Step, deps: Deps, account_id: int, job_id: int, target: JobStatus) -> Job:
    """UpdateDeploymentJobStatus inside a step: `pending` (run at ScheduleTime, or now), `scheduling` (run now),
    `editing` (back from pending)."""
    if target not in (J.PENDING, J.SCHEDULING, J.EDITING):
        raise InvalidParameter("Status", f"Status must be 'pending', 'scheduling' or 'editing', not '{target}'.")
    job = unit.ops.jobs.get(account_id, job_id)
    now = deps.clock.now()
    if target is J.EDITING:
        return _back_to_editing(deps, unit, job)
    if job.status is J.ERROR and target is J.SCHEDULING:
        return resume_job(unit, job, now)
    if job.status is J.EDITING:
        # A job its maintenance windows hold waits `pending`, whatever it was submitted as (app/windows.py): asked once
        # (its resources' tags are read for it), and a held job is told to wait here, not asked again by `start_job`.
        until = held_until(unit.ops, account_id, job.resource_ids, now) if target is J.SCHEDULING else None
        job = _leave_editing(unit, job, J.PENDING if until is not None else target, now)
        if until is not None and job.status is J.PENDING:
            return hold_job_until(unit, job, until)
    elif not (job.status is J.PENDING and target is J.SCHEDULING):
        raise InvalidStatus(f"Job {job_id} is '{job.status}': it cannot move to '{target}'.")
    # `scheduling` starts a pending job now, before its ScheduleTime (docs/protocol.md#deployment-jobs).
    due = target is J.SCHEDULING or job.schedule_time is None or job.schedule_time <= now
    if job.status is J.SCHEDULING or (job.status is J.PENDING and due):
        job = start_job(unit, job, now)
    return job


def change_job_status(deps: Deps, account_id: int, job_id: int, target: JobStatus) -> Job:
    return run_step(deps, lambda unit: change_job_status_in(unit, deps, account_id, job_id, target))


def _leave_editing(unit: Step, job: Job, target: JobStatus, now: datetime) -> Job:
    """Charge the quota and submit the workers; a job with nothing to deploy ends in `error` at once."""
    ops = unit.ops
    if not ops.workers.counts(job.account_id, job.id):
        tell(unit, job_event(job.account_id, job.id, E.FINISHED, "finished: error, no resource to deploy to"))
        return ops.jobs.transition(
            job.account_id, job.id, move_job(J.EDITING, J.ERROR), expected_version=job.version, end_time=now
        )
    assign_stages(unit, job, sum(ops.workers.counts(job.account_id, job.id).values()))
    units = 0 if job.cert_origin.is_official else ops.quota.charge_workers(job.account_id, job.id, W.EDITING)
    ops.workers.transition_all(job.account_id, job.id, move_worker(W.EDITING, W.PENDING))
    tell(
        unit, job_event(job.account_id, job.id, E.SUBMITTED, f"submitted as '{target}': {units} quota unit(s) charged")
    )
    return ops.jobs.transition(job.account_id, job.id, move_job(J.EDITING, target), expected_version=job.version)


def _back_to_editing(deps: Deps, unit: Step, job: Job) -> Job:
    """A pending job goes back to editing: its charge is released and its workers are matched afresh."""
    ops = unit.ops
    if job.status is not J.PENDING:
        raise InvalidStatus(f"Job {job.id} is '{job.status}': only a pending job can go back to 'editing'.")
    released = release_pending(ops, job)
    ops.workers.transition_all(job.account_id, job.id, move_worker(W.PENDING, W.EDITING))
    tell(unit, job_event(job.account_id, job.id, E.BACK_TO_EDITING, f"back to editing: {released} unit(s) released"))
    job = ops.jobs.transition(job.account_id, job.id, move_job(J.PENDING, J.EDITING), expected_version=job.version)
    # New worker ids: the released units belong to the old workers, so submitting again charges again.
    certs = ops.certificates.get_many(job.account_id, job.cert_ids)
    resources = ops.resources.targets(job.account_id, job.resource_ids)
    _replace_workers(ops, job, _worker_specs(_match(deps, job.account_id, certs, resources, job.schedule_time)))
    return job


def start_due_jobs(deps: Deps, limit: int = 100) -> int:
    """Scheduler: start pending jobs whose time has come. Each start is a conditional transition, so two
    overlapping ticks start a job once."""
    started = 0
    for due in deps.store.jobs.due(deps.clock.now(), limit=limit):

        def step(unit: Step, due: Job = due) -> bool:
            job = unit.ops.jobs.get(due.account_id, due.id)
            return job.status is J.PENDING and start_job(unit, job, deps.clock.now()).status is not J.PENDING

        started += run_step(deps, step)
    return started


# ----------------------------------------------------------------------------------------------------- delete


def delete_job(deps: Deps, account_id: int, job_id: int) -> None:
    """DeleteDeploymentJob. Irreversible. A job that never ran gives back all the quota it was charged."""

    def step(unit: Step) -> None:
        ops = unit.ops
        job = ops.jobs.lock(account_id, job_id)
        check_job_deletable(job.status, [status for _, status in ops.workers.counts(account_id, job_id)])
        if job.status is J.PENDING:
            release_pending(ops, job)
        ops.jobs.delete(account_id, job_id, expected_version=job.version)

    run_step(deps, step)
