"""Deployment-job actions (docs/protocol.md#deployment-jobs): create, edit, submit, describe, preview, list and delete
jobs.

Decisions:
- `JobType` must be `user` or `cloud`, lowercase as CAS requires; hosted (`trustee`) jobs are made by the service.
- `ContactIds` may be left out (a job without contacts notifies nobody); CAS marks it required.
- `ScheduleTime` is Unix milliseconds (13 digits) or seconds (10 digits).
- DescribeDeploymentJobStatus also answers `ExcludedResources`: the job's resources that got no worker and why
  (`Reason` code, `ReasonText`, and the certificate the reason is about). SDK models ignore the extra key; scripts and
  the CLI read it from the raw body. `ResourceCount` is the number of resources the job names; `MatchWorkerCount`
  equals `WorkerCount`, as a worker exists only for a matched resource. On an `editing` job it also answers
  `BindingChanges`: per worker, the certificate its resource serves now → the one the job will bind (the preview's
  diff, `app/preview.py`); empty once the job is submitted.
- CreateDeploymentJob and UpdateDeploymentJob also take `VerifyMismatch` (ours, docs/verification.md): `report`
  (default), `fail` or `rollback`, what a worker whose resource does not serve its certificate after the bind comes to.
- CreateDeploymentJob and UpdateDeploymentJob also take `Stages` and `MaxFailures` (ours,
  docs/decisions.md#staged-rollout); DescribeDeploymentJob then answers them with `StageCount`, `CurrentStage` and
  `HaltReason`, and DescribeDeploymentJobStatus `StageWorkerCounts` (the preview's stages).
  UpdateDeploymentJobStatus `scheduling` on a job halted by its stages resumes it.
- Job `Config` is JSON text with the job's `certIds` (as CAS shows) and its `resourceIds` and `contactIds`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from certdeploy.api.actions_certificates import CertState, cert_state, certificate_domains
from certdeploy.api.actions_common import (
    ActionContext,
    build,
    cert_instance_id,
    certificates_by_id,
    cloud_resources,
    job_instance_id,
    millis_text,
    page_slice,
    paging,
    parse_choice,
    schedule_time,
)
from certdeploy.api.errors import invalid_parameter
from certdeploy.api.replies import Empty, Page, StatusData
from certdeploy.api.replies.jobs import (
    BindingChange,
    CasContact,
    ExcludedResource,
    Job,
    JobCertificate,
    JobCertificateList,
    JobCertificateName,
    JobCreated,
    JobDetail,
    JobStatusCounts,
    ListedJob,
    ProductWorkerCount,
    StageWorkerCount,
)
from certdeploy.api.replies.resources import CloudResourceList
from certdeploy.api.rpc import RpcParameters
from certdeploy.app.jobs import (
    JobChanges,
    JobDraft,
    change_job_status,
    create_job,
    delete_job,
    job_progress,
    update_job,
)
from certdeploy.app.preview import BindingChange as PlannedBinding
from certdeploy.app.preview import binding_changes, stage_starts
from certdeploy.domain import models
from certdeploy.domain.models import Certificate, CertOrigin, JobType, Product, Resource
from certdeploy.domain.stages import Size, parse_max_failures, parse_stages
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.domain.verification import VerifyMismatch

DEFAULT_SHOW_SIZE = 50
API_JOB_TYPES = (JobType.USER, JobType.CLOUD)
_LISTING_PAGE = 500
_ROLLED_BACK_WORKERS = frozenset({WorkerStatus.ROLLBACK, WorkerStatus.ROLLBACK_SUCCESS, WorkerStatus.ROLLBACK_ERROR})
_DRAFT_PARAMETERS = {
    "name": "Name",
    "job_type": "JobType",
    "cert_ids": "CertIds",
    "resource_ids": "ResourceIds",
    "contact_ids": "ContactIds",
    "schedule_time": "ScheduleTime",
    "verify_mismatch": "VerifyMismatch",
    "stages": "Stages",
    "max_failures": "MaxFailures",
}


def _verify_mismatch(params: RpcParameters) -> VerifyMismatch | None:
    """Ours (docs/verification.md): what a verification mismatch does to a worker, `report` by default."""
    text = params.optional_text("VerifyMismatch")
    return None if text is None else parse_choice(VerifyMismatch, "VerifyMismatch", text)


def _stages(params: RpcParameters) -> tuple[Size, ...] | None:
    """Ours (docs/decisions.md#staged-rollout): cumulative stage sizes such as `1,10%,100%`."""
    text = params.optional_text("Stages")
    return None if text is None else parse_stages(text)


def _max_failures(params: RpcParameters) -> Size | None:
    """Ours: the failure budget of a job with stages, a count or a percentage."""
    text = params.optional_text("MaxFailures")
    return None if text is None else parse_max_failures(text)


def _api_job_type(params: RpcParameters) -> JobType:
    text = params.text("JobType")
    if text not in {t.value for t in API_JOB_TYPES}:
        raise invalid_parameter("JobType", f"{text!r} is not 'user' or 'cloud' (lowercase)")
    return JobType(text)


def job_reply(
    job: models.JobSummary, certs: Mapping[int, Certificate], worker_counts: Mapping[tuple[Product, WorkerStatus], int]
) -> Job:
    """The Job object of DescribeDeploymentJob and ListDeploymentJob, without what each adds."""
    job_certs = [certs[cert_id] for cert_id in job.cert_ids if cert_id in certs]
    domains = dict.fromkeys(name for cert in job_certs for name in certificate_domains(cert))
    rolled_back = job.rolled_back or any(status in _ROLLED_BACK_WORKERS for _, status in worker_counts)
    return Job(
        id=job.id,
        name=job.name,
        job_type=str(job.job_type),
        status=str(job.status),
        cert_type=str(job.cert_origin),
        cert_domain=",".join(domains),
        product_name=",".join(sorted({str(product) for product, _ in worker_counts})),
        instance_id=job_instance_id(job),
        user_id=job.account_id,
        rollback=1 if rolled_back else 0,
        schedule_time=millis_text(job.schedule_time),
        start_time=millis_text(job.start_time),
        end_time=millis_text(job.end_time),
        gmt_create=millis_text(job.created_at),
        gmt_modified=millis_text(job.modified_at),
        window_wait_until=millis_text(job.window_wait_until),
    )


def create_deployment_job(ctx: ActionContext, params: RpcParameters) -> JobCreated:
    draft = build(
        JobDraft,
        _DRAFT_PARAMETERS,
        name=params.text("Name"),
        job_type=_api_job_type(params),
        cert_ids=tuple(params.integer_list("CertIds")),
        resource_ids=tuple(params.integer_list("ResourceIds")),
        contact_ids=tuple(params.optional_integer_list("ContactIds") or ()),
        schedule_time=schedule_time(params),
        verify_mismatch=_verify_mismatch(params),
        stages=_stages(params),
        max_failures=_max_failures(params),
    )
    return JobCreated(job_id=create_job(ctx.deps, ctx.account_id, draft).id)


def update_deployment_job(ctx: ActionContext, params: RpcParameters) -> Empty:
    job_id = params.integer("JobId")
    cert_ids = params.optional_integer_list("CertIds")
    resource_ids = params.optional_integer_list("ResourceIds")
    contact_ids = params.optional_integer_list("ContactIds")
    changes = build(
        JobChanges,
        _DRAFT_PARAMETERS,
        name=params.optional_text("Name"),
        cert_ids=None if cert_ids is None else tuple(cert_ids),
        resource_ids=None if resource_ids is None else tuple(resource_ids),
        contact_ids=None if contact_ids is None else tuple(contact_ids),
        schedule_time=schedule_time(params),
        verify_mismatch=_verify_mismatch(params),
        stages=_stages(params),
        max_failures=_max_failures(params),
    )
    update_job(ctx.deps, ctx.account_id, job_id, changes)
    return Empty()


def update_deployment_job_status(ctx: ActionContext, params: RpcParameters) -> StatusData:
    job_id = params.integer("JobId")
    status = parse_choice(JobStatus, "Status", params.text("Status"))
    change_job_status(ctx.deps, ctx.account_id, job_id, status)
    return StatusData()


def _config(job: models.JobSummary, resource_ids_json: str) -> str:
    """`Config` as `json.dumps` writes the job's lists, with the resource list spliced in as the store keeps it
    (`Jobs.describe`): its compact separators spaced as `json.dumps` spaces them, so a job of 10,000 resources copies
    text instead of decoding and encoding 10,000 numbers."""
    resource_ids = resource_ids_json.replace(",", ", ")
    return (
        f'{{"shareCertIds": [], "certIds": {json.dumps(list(job.cert_ids))}, "resourceIds": {resource_ids}, '
        f'"contactIds": {json.dumps(list(job.contact_ids))}}}'
    )


def describe_deployment_job(ctx: ActionContext, params: RpcParameters) -> JobDetail:
    store = ctx.deps.store
    described = store.jobs.describe(ctx.account_id, params.integer("JobId"))
    job = described.job
    contacts = store.contacts.get_many(ctx.account_id, job.contact_ids)
    staged = store.job_stages.get(ctx.account_id, job.id)
    return JobDetail(
        **job_reply(
            job, certificates_by_id(ctx, job.cert_ids), store.workers.counts(ctx.account_id, job.id)
        ).model_dump(),
        config=_config(job, described.resource_ids_json),
        cas_contacts=[
            CasContact(id=str(c.id), name=c.name, email=c.email or "", mobile=c.mobile or "") for c in contacts
        ],
        stages=None if staged is None else staged.stages,
        max_failures=None if staged is None else staged.max_failures,
        # Stages are assigned at submission: an editing job (even one taken back) has none yet.
        stage_count=None if staged is None or job.status is JobStatus.EDITING else staged.stage_count,
        current_stage=None if staged is None or job.status is JobStatus.EDITING else staged.stage,
        halt_reason=None if staged is None else staged.halt_reason,
    )


def _binding_changes(changes: Sequence[PlannedBinding]) -> list[BindingChange]:
    # A job's changes name a few certificates and start times many times over: each is written once.
    end_times: dict[datetime, str | None] = {}

    def end_time(moment: datetime | None) -> str | None:
        if moment is None:
            return None
        if moment not in end_times:
            end_times[moment] = millis_text(moment)
        return end_times[moment]

    return [
        BindingChange(
            worker_id=change.worker_id,
            resource_id=change.resource_id,
            cloud_product=str(change.product),
            domain=change.domain,
            current_cert_id=None if change.current is None else change.current.id,
            current_cert_name=None if change.current is None else change.current.name,
            current_cert_end_time=None if change.current is None else end_time(change.current.not_after),
            cert_id=change.planned.id,
            cert_name=change.planned.name,
            cert_end_time=str(end_time(change.planned.not_after)),
            planned_start_time=str(end_time(change.planned_start)),
        )
        for change in changes
    ]


def describe_deployment_job_status(ctx: ActionContext, params: RpcParameters) -> JobStatusCounts:
    progress = job_progress(ctx.deps, ctx.account_id, params.integer("JobId"))
    # What the job will change, and when each stage can start, are shown only before it is submitted.
    changes = binding_changes(ctx.deps, progress.job) if progress.job.status is JobStatus.EDITING else []
    starts = stage_starts(changes, progress.stage_worker_counts)
    return JobStatusCounts(
        resource_count=progress.resource_count,
        buy_count=progress.quota.buy_count,
        use_count=progress.quota.use_count,
        cost_count=progress.cost_count,
        worker_count=progress.worker_count,
        match_worker_count=progress.worker_count,
        success_count=progress.success_count,
        failed_count=progress.failed_count,
        rollback_count=progress.rollback_count,
        rollback_success_count=progress.rollback_success_count,
        rollback_failed_count=progress.rollback_failed_count,
        cert_count=progress.cert_count,
        product_worker_count=[
            ProductWorkerCount(product_name=str(product), count=count)
            for product, count in sorted(progress.workers_per_product.items(), key=lambda item: str(item[0]))
        ],
        excluded_resources=[
            ExcludedResource(
                resource_id=exclusion.resource_id,
                cloud_product=str(exclusion.product),
                reason=str(exclusion.reason),
                reason_text=exclusion.reason.description,
                cert_id=exclusion.cert_id,
            )
            for exclusion in progress.exclusions
        ],
        binding_changes=_binding_changes(changes),
        planned_start_time=millis_text(progress.planned_start),
        stage_worker_counts=[
            StageWorkerCount(stage=stage, worker_count=count, planned_start_time=millis_text(start))
            for stage, (count, start) in enumerate(zip(progress.stage_worker_counts, starts, strict=True), 1)
        ],
    )


def _all_jobs(ctx: ActionContext, status: JobStatus | None, job_type: JobType | None) -> list[models.JobSummary]:
    jobs: list[models.JobSummary] = []
    page = 1
    while True:
        listed = ctx.deps.store.jobs.search(
            ctx.account_id, status=status, job_type=job_type, page=page, page_size=_LISTING_PAGE
        )
        jobs.extend(listed.items)
        if page * _LISTING_PAGE >= listed.total:
            return jobs
        page += 1


def list_deployment_job(ctx: ActionContext, params: RpcParameters) -> Page[ListedJob]:
    type_text = params.optional_text("JobType")
    status_text = params.optional_text("Status")
    job_type = None if type_text is None else parse_choice(JobType, "JobType", type_text)
    status = None if status_text is None else parse_choice(JobStatus, "Status", status_text)
    cert_id = params.optional_integer("CertId")
    instance_id = params.optional_text("InstanceId")
    page, size = paging(params, DEFAULT_SHOW_SIZE)
    store = ctx.deps.store
    if cert_id is None and instance_id is None:
        listed = store.jobs.search(ctx.account_id, status=status, job_type=job_type, page=page, page_size=size)
        jobs, total = listed.items, listed.total
    else:
        matching = [
            job
            for job in _all_jobs(ctx, status, job_type)
            if (cert_id is None or cert_id in job.cert_ids)
            and (instance_id is None or job_instance_id(job) == instance_id)
        ]
        jobs, total = page_slice(matching, page, size), len(matching)
    certs = certificates_by_id(ctx, (cert_id for job in jobs for cert_id in job.cert_ids))
    data = [
        ListedJob(
            **job_reply(job, certs, store.workers.counts(ctx.account_id, job.id)).model_dump(),
            certificates=[
                JobCertificateName(cert_id=cid, cert_name=certs[cid].name) for cid in job.cert_ids if cid in certs
            ],
        )
        for job in jobs
    ]
    return Page[ListedJob](total=total, current_page=page, show_size=size, data=data)


def _status_code(cert: Certificate, ctx: ActionContext) -> str:
    state = cert_state(cert, ctx.now())
    if state is CertState.EXPIRED:
        return "expired"
    if state is CertState.WILLEXPIRED:
        return "willExpired"
    return "upload" if cert.origin is CertOrigin.UPLOAD else "issued"


def list_deployment_job_cert(ctx: ActionContext, params: RpcParameters) -> JobCertificateList:
    job = ctx.deps.store.jobs.get(ctx.account_id, params.integer("JobId"))
    certs = certificates_by_id(ctx, job.cert_ids)
    data = [
        JobCertificate(
            cert_id=cert.id,
            cert_instance_id=cert_instance_id(cert),
            cert_name=cert.name,
            cert_type=str(cert.origin),
            cert_order_type=str(cert.origin),
            common_name=cert.common_name or (cert.sans[0] if cert.sans else ""),
            algorithm=str(cert.algorithm),
            sans=list(cert.sans),
            is_trustee=job.job_type is JobType.TRUSTEE,
            month=(cert.not_after - cert.not_before).days // 30,
            not_before_time=int(cert.not_before.timestamp()),
            not_after_time=int(cert.not_after.timestamp()),
            status_code=_status_code(cert, ctx),
        )
        for cert in (certs[cert_id] for cert_id in job.cert_ids if cert_id in certs)
    ]
    return JobCertificateList(data=data)


def list_deployment_job_resource(ctx: ActionContext, params: RpcParameters) -> CloudResourceList:
    store = ctx.deps.store
    job = store.jobs.get(ctx.account_id, params.integer("JobId"))
    resources = [r for r in store.resources.get_many(ctx.account_id, job.resource_ids) if not r.gone]
    workers = {w.resource_id: w for w in store.workers.of_job(ctx.account_id, job.id)}
    reasons: dict[int, str] = {}
    if job.status is JobStatus.EDITING:
        progress = job_progress(ctx.deps, ctx.account_id, job.id)
        reasons = {e.resource_id: e.reason.description for e in progress.exclusions}

    def remark(resource: Resource) -> str:
        worker = workers.get(resource.id)
        if worker is not None:
            return f"worker {worker.id}: {worker.status}"
        return reasons.get(resource.id, "not deployed by this job")

    return CloudResourceList(data=cloud_resources(ctx, resources, remark))


def delete_deployment_job(ctx: ActionContext, params: RpcParameters) -> Empty:
    delete_job(ctx.deps, ctx.account_id, params.integer("JobId"))
    return Empty()
