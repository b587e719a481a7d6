"""Starting a job and running it in stages (docs/decisions.md#staged-rollout): the first stage when it starts, each
next one when the last worker of the previous one ends within the failure budget, a halt when over it, and the
resume of a halted job.

A job without stages is one stage of all its workers. Stage progress is decided by the worker end that leaves its
stage with nothing running: worker ends lock the job row (app/execute.py), so exactly one of concurrent ends sees
the stage over, and it starts the next stage (one `DeployJob` message in its transaction) or halts the job.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime

from certdeploy.app.job_run import (
    ID_PAGE,
    apply_worker_ends,
    finish_if_done,
    notify_finished,
    release_pending,
    tell,
)
from certdeploy.app.messages import DeployJob, outbox_message
from certdeploy.app.unit_of_work import Step
from certdeploy.app.windows import hold_job
from certdeploy.domain.completion import end_worker
from certdeploy.domain.failures import Permanent
from certdeploy.domain.models import Certificate, Job
from certdeploy.domain.stages import (
    Size,
    Verdict,
    check_resumable,
    halt_reason,
    judge_stage,
    parse_max_failures,
    parse_stages,
    stage_bounds,
    stages_text,
)
from certdeploy.domain.states import JobStatus, WorkerStatus, move_job, move_worker
from certdeploy.domain.timeline import JobEventType, job_event
from certdeploy.ports.store.job_stages import StagedJob
from certdeploy.ports.store.jobs import JobState

J, W, E = JobStatus, WorkerStatus, JobEventType


def assign_stages(unit: Step, job: Job, worker_count: int) -> None:
    """At submission: put the job's workers in their stages, by worker id (nothing for a job without stages)."""
    ops = unit.ops
    staged = ops.job_stages.get(job.account_id, job.id)
    if staged is None:
        return
    bounds = stage_bounds(parse_stages(staged.stages), worker_count)
    ops.workers.assign_stages(job.account_id, job.id, bounds)
    ops.job_stages.save(replace(staged, stage_count=len(bounds), stage=0, halt_reason=None))


def start_job(unit: Step, job: Job, now: datetime) -> Job:
    """pending|scheduling → processing, unless a pending job's maintenance windows hold it (app/windows.py): the
    workers whose certificate is not valid now fail at once with the reason (and get their quota unit back); the
    others start, all in one statement (or the first stage's, for a job with stages) and one `DeployJob` message fans
    them out behind this call (app/fanout.py)."""
    ops = unit.ops
    if job.status is J.PENDING:
        held = hold_job(unit, job, now)
        if held is not None:
            return held
        job = ops.jobs.transition(
            job.account_id, job.id, move_job(J.PENDING, J.SCHEDULING), expected_version=job.version
        )
    job = ops.jobs.transition(
        job.account_id, job.id, move_job(J.SCHEDULING, J.PROCESSING), expected_version=job.version, start_time=now
    )
    certs = {c.id: c for c in ops.certificates.get_many(job.account_id, job.cert_ids)}
    started = sum(ops.workers.counts(job.account_id, job.id).values())
    tell(unit, job_event(job.account_id, job.id, E.STARTED, f"started: {started} worker(s)"))
    valid = {cert_id for cert_id, cert in certs.items() if cert.is_valid_at(now)}
    if set(job.cert_ids) - valid:
        _fail_invalid_certificates(unit, job, certs, valid)
    if ops.job_stages.get(job.account_id, job.id) is not None:
        return continue_job(unit, job, now) or job
    if valid and ops.workers.transition_all(
        job.account_id, job.id, move_worker(W.PENDING, W.SCHEDULING), cert_ids=valid
    ):
        unit.send(outbox_message(DeployJob(account_id=job.account_id, job_id=job.id)))
    return finish_if_done(unit, job, now) or job


def _fail_invalid_certificates(unit: Step, job: Job, certs: dict[int, Certificate], valid: set[int]) -> None:
    # Paged by worker id, not by offset: the workers ended here leave `pending`, so an offset would skip some.
    after = 0
    while ids := unit.ops.workers.ids_after(job.account_id, job.id, W.PENDING, after, ID_PAGE):
        ends = []
        for worker in unit.ops.workers.get_many(job.account_id, ids):
            if worker.cert_id in valid:
                continue
            cert = certs.get(worker.cert_id)
            reason = "was deleted" if cert is None else "is expired or not yet valid at deployment time"
            failure = Permanent("CertificateNotValid", f"Certificate {worker.cert_id} {reason}.")
            ends.append((worker, end_worker(worker, failure)))
        apply_worker_ends(unit, job.account_id, ends)
        after = ids[-1]


def continue_job(unit: Step, job: Job | JobState, now: datetime) -> Job | None:
    """After a worker ended (or the job started): while a stage runs, nothing; once it is over, the next stage starts
    within the failure budget, the job halts over it, or the job finishes when nothing is left. Returns the job
    when it finished or halted."""
    ops = unit.ops
    staged = ops.job_stages.get(job.account_id, job.id)
    if staged is None or job.status is not J.PROCESSING:
        return finish_if_done(unit, job, now)
    statuses: Counter[WorkerStatus] = Counter()
    for (_, status), count in ops.workers.counts(job.account_id, job.id).items():
        statuses[status] += count
    budget = parse_max_failures(staged.max_failures)
    succeeded, failed = statuses[W.SUCCESS], statuses[W.ERROR]
    verdict = judge_stage(
        budget,
        running=statuses[W.SCHEDULING] + statuses[W.PROCESSING],
        waiting=statuses[W.PENDING],
        succeeded=succeeded,
        failed=failed,
    )
    if verdict is Verdict.RUNNING:
        return None
    if verdict is Verdict.FINISH:
        return finish_if_done(unit, job, now, sequence=staged.resumes)
    if staged.stage:
        if verdict is Verdict.HALT:
            return _halt(unit, job, staged, budget, statuses, now)
        detail = f"stage {staged.stage} of {staged.stage_count} passed: {succeeded} succeeded, {failed} failed so far"
        tell(unit, job_event(job.account_id, job.id, E.STAGE_PASSED, f"{detail} (MaxFailures {budget})"))
    for stage in range(staged.stage + 1, staged.stage_count + 1):
        if start_stage(unit, job, staged, stage):
            return None
    return finish_if_done(unit, job, now, sequence=staged.resumes)


def start_stage(unit: Step, job: Job | JobState, staged: StagedJob, stage: int) -> bool:
    """Start stage `stage` of the job: its `pending` workers move to `scheduling` and one `DeployJob` message fans them
    out. False when the stage has no worker left to run (all failed before it, or succeeded before a resume)."""
    ops = unit.ops
    moved = ops.workers.transition_all(job.account_id, job.id, move_worker(W.PENDING, W.SCHEDULING), stage=stage)
    if not moved:
        return False
    ops.job_stages.save(replace(staged, stage=stage))
    detail = f"stage {stage} of {staged.stage_count} started: {moved} worker(s)"
    tell(unit, job_event(job.account_id, job.id, E.STAGE_STARTED, detail))
    unit.send(outbox_message(DeployJob(account_id=job.account_id, job_id=job.id)))
    return True


def _halt(
    unit: Step,
    job: Job | JobState,
    staged: StagedJob,
    budget: Size,
    statuses: Counter[WorkerStatus],
    now: datetime,
) -> Job:
    """Over budget: the job ends `error` with the cause; the workers not run stay `pending` with their quota unit
    given back (exactly once: the ledger credits a worker once), and the contacts are told."""
    ops = unit.ops
    release_pending(ops, job)
    reason = halt_reason(
        staged.stage,
        staged.stage_count,
        budget,
        succeeded=statuses[W.SUCCESS],
        failed=statuses[W.ERROR],
        waiting=statuses[W.PENDING],
    )
    ops.job_stages.save(replace(staged, halt_reason=reason))
    halted = ops.jobs.transition(
        job.account_id, job.id, move_job(J.PROCESSING, J.ERROR), expected_version=job.version, end_time=now
    )
    tell(unit, job_event(job.account_id, job.id, E.HALTED, f"halted: {reason}"))
    notify_finished(unit, halted, staged.resumes, reason)
    return halted


def resume_job(unit: Step, job: Job, now: datetime) -> Job:
    """UpdateDeploymentJobStatus `scheduling` on a halted job: its workers not run, and those that failed, run again
    as new workers (charged once each, afresh), from the first stage that has one."""
    ops = unit.ops
    job = ops.jobs.lock(job.account_id, job.id)
    staged = ops.job_stages.get(job.account_id, job.id)
    check_resumable(job.status, staged is not None and staged.halt_reason is not None)
    assert staged is not None
    renewed = ops.workers.renew(job.account_id, job.id, (W.PENDING, W.ERROR))
    units = 0 if job.cert_origin.is_official else ops.quota.charge_workers(job.account_id, job.id, W.PENDING)
    ops.job_stages.save(replace(staged, stage=0, halt_reason=None, resumes=staged.resumes + 1))
    job = ops.jobs.transition(job.account_id, job.id, move_job(J.ERROR, J.SCHEDULING), expected_version=job.version)
    detail = f"resumed: {renewed} worker(s) to run again, {units} quota unit(s) charged"
    tell(unit, job_event(job.account_id, job.id, E.RESUMED, detail))
    return start_job(unit, job, now)


def stage_options(account_id: int, job_id: int, stages: tuple[Size, ...], max_failures: Size | None) -> StagedJob:
    """The row a job's `Stages` and `MaxFailures` options are stored as (MaxFailures 0 when not given)."""
    return StagedJob(
        job_id=job_id,
        account_id=account_id,
        stages=stages_text(stages),
        max_failures=str(max_failures or Size(count=0)),
    )
