"""Deployment-job replies: CreateDeploymentJob, DescribeDeploymentJob, DescribeDeploymentJobStatus,
ListDeploymentJob, ListDeploymentJobCert."""

from __future__ import annotations

from pydantic import Field

from certdeploy.api.replies import WireModel


class JobCreated(WireModel):
    job_id: int


class Job(WireModel):
    """The Job object of DescribeDeploymentJob and ListDeploymentJob; times are Unix milliseconds as strings."""

    id: int
    name: str
    job_type: str
    status: str
    cert_type: str
    cert_domain: str
    product_name: str
    instance_id: str
    user_id: int
    rollback: int
    deleted: int = Field(default=0, alias="Del")
    schedule_time: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    gmt_create: str
    gmt_modified: str
    # Ours: while a due job waits for its maintenance window, the window's opening (docs/decisions.md).
    window_wait_until: str | None = None


class CasContact(WireModel):
    """A contact as DescribeDeploymentJob shows it: `Id` is a string there."""

    id: str
    name: str
    email: str
    mobile: str


class JobDetail(Job):
    """DescribeDeploymentJob: `Config` is JSON text. Ours, for a job with stages (docs/protocol.md#staged-rollout):
    its `Stages` and `MaxFailures`, `StageCount` and the `CurrentStage` once submitted, and `HaltReason` while it stands
    halted; left out for a job without stages."""

    config: str
    cas_contacts: list[CasContact]
    stages: str | None = None
    max_failures: str | None = None
    stage_count: int | None = None
    current_stage: int | None = None
    halt_reason: str | None = None


class JobCertificateName(WireModel):
    cert_id: int
    cert_name: str


class ListedJob(Job):
    """A job of ListDeploymentJob (a `Page` of them)."""

    certificates: list[JobCertificateName]


class ProductWorkerCount(WireModel):
    product_name: str
    count: int


class ExcludedResource(WireModel):
    """Ours: a resource of the job that got no worker, and why (the SDK model ignores the list)."""

    resource_id: int
    cloud_product: str
    reason: str
    reason_text: str
    cert_id: int | None = None


class BindingChange(WireModel):
    """Ours: on an `editing` job, what one worker will change on its resource (docs/protocol.md#preview-diff). The
    `Current…` fields are left out when nothing is bound now; `CurrentCertId` and `CurrentCertEndTime` when what is
    bound is not one of our certificates. Times are Unix milliseconds as strings, as CloudResource's."""

    worker_id: int
    resource_id: int
    cloud_product: str
    domain: str
    current_cert_id: int | None = None
    current_cert_name: str | None = None
    current_cert_end_time: str | None = None
    cert_id: int
    cert_name: str
    cert_end_time: str
    planned_start_time: str


class StageWorkerCount(WireModel):
    """Ours: how many workers one stage of a job with stages runs (docs/protocol.md#staged-rollout)."""

    stage: int
    worker_count: int
    # Before submission: the earliest the stage can start (its workers' maintenance windows; never before the stage
    # ahead of it, which it waits for).
    planned_start_time: str | None = None


class JobStatusCounts(WireModel):
    """DescribeDeploymentJobStatus."""

    resource_count: int
    buy_count: int
    use_count: int
    cost_count: int
    worker_count: int
    match_worker_count: int
    success_count: int
    failed_count: int
    rollback_count: int
    rollback_success_count: int
    rollback_failed_count: int
    cert_count: int
    product_worker_count: list[ProductWorkerCount]
    excluded_resources: list[ExcludedResource]
    binding_changes: list[BindingChange]
    # Ours: when an `editing` or `pending` job will start, given its ScheduleTime and maintenance windows.
    planned_start_time: str | None = None
    stage_worker_counts: list[StageWorkerCount]


class JobCertificate(WireModel):
    """One entry of ListDeploymentJobCert; `NotBeforeTime`/`NotAfterTime` are Unix seconds as ints."""

    cert_id: int
    cert_instance_id: str
    cert_name: str
    cert_type: str
    cert_order_type: str
    common_name: str
    algorithm: str
    sans: list[str]
    is_trustee: bool
    month: int
    not_before_time: int
    not_after_time: int
    status_code: str


class JobCertificateList(WireModel):
    """ListDeploymentJobCert."""

    data: list[JobCertificate]
