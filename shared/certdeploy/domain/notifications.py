"""What a job's contacts are told when it finishes or a rollback completes: the `JobReport`.

When the job's resources were verified (docs/verification.md), the report of its end says per resource what the
verification found; without verifications it is as before.

Pure: workers and resources go in, a report comes out (`certdeploy.adapters.notify.render` writes it out for each
channel). A private key can never get in: the report has no field for one, and PEM private-key blocks in error
messages are cut out on the way in; every text field is one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from certdeploy.domain.models import Job, Product, Resource, UtcDatetime, Worker
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.domain.text_enum import TextEnum
from certdeploy.domain.verification import Verification, VerifyStatus

# A failure cause longer than this is cut; the full cause stays in the job details.
MAX_ERROR_MESSAGE_CHARS = 300
PRIVATE_KEY_REMOVED = "[private key removed]"

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f]+")
_PRODUCT_ORDER = {product: index for index, product in enumerate(Product)}


class NotificationEvent(TextEnum):
    JOB_FINISHED = "job_finished"
    ROLLBACK_FINISHED = "rollback_finished"


_OUTCOMES_BY_EVENT: dict[NotificationEvent, frozenset[JobStatus]] = {
    NotificationEvent.JOB_FINISHED: frozenset({JobStatus.SUCCESS, JobStatus.ERROR}),
    # A rollback that failed leaves the job as it ended; the report then lists the resources not restored.
    NotificationEvent.ROLLBACK_FINISHED: frozenset({JobStatus.ROLLED_BACK, JobStatus.SUCCESS, JobStatus.ERROR}),
}


def _remove_private_keys(text: str) -> str:
    return _PRIVATE_KEY_BLOCK.sub(PRIVATE_KEY_REMOVED, text)


def _one_line(text: str) -> str:
    """Control characters (CR/LF included) become one space: nothing user-controlled can start a new line."""
    return _CONTROL_RUN.sub(" ", text).strip()


def shorten(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, otherwise its start and `…` in exactly `limit`."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class ProductCount(_Model):
    """How one product's resources fared in the event: deployments for `job_finished`, restores for a rollback."""

    product: Product
    total: int = Field(ge=0)
    succeeded: int = Field(ge=0)
    failed: int = Field(ge=0)

    @model_validator(mode="after")
    def _fits_total(self) -> ProductCount:
        if self.succeeded + self.failed > self.total:
            raise ValueError("succeeded + failed cannot exceed total")
        return self


def _safe_line(value: str) -> str:
    return _one_line(_remove_private_keys(value))


def _safe_cause(value: str) -> str:
    return shorten(_safe_line(value), MAX_ERROR_MESSAGE_CHARS)


# A text field of a report: one line, no private key; a cause is also cut to MAX_ERROR_MESSAGE_CHARS.
_Line = Annotated[str, AfterValidator(_safe_line)]
_Cause = Annotated[str, AfterValidator(_safe_cause)]


class _ResourceModel(_Model):
    """Names the resource a line of the report is about."""

    product: Product
    region: _Line
    instance_id: _Line
    domain: _Line


class FailedResource(_ResourceModel):
    """One resource that failed, with its cause as recorded on the worker."""

    error_code: _Line | None = None
    error_message: _Cause | None = None


class VerifiedResource(_ResourceModel):
    """What the verification of one resource found: its status, why (the error when unreachable, the reason when
    skipped, what did not match), and on a mismatch the certificate served instead."""

    status: VerifyStatus
    detail: _Cause | None = None
    served_subject: _Line | None = None
    served_fingerprint: _Line | None = None
    served_not_after: UtcDatetime | None = None


class JobReport(_Model):
    """Everything a notification says about one event of one job. No certificate or key material."""

    job_id: int
    job_name: str
    event: NotificationEvent
    outcome: JobStatus
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    products: tuple[ProductCount, ...] = ()
    failures: tuple[FailedResource, ...] = ()
    verifications: tuple[VerifiedResource, ...] = ()
    halt_reason: _Cause | None = Field(
        None, description="why a job with stages halted (its workers not run are in `total` but neither count)"
    )

    @field_validator("job_name")
    @classmethod
    def _single_line_name(cls, value: str) -> str:
        return _one_line(value)

    @model_validator(mode="after")
    def _outcome_fits_event(self) -> JobReport:
        if self.outcome not in _OUTCOMES_BY_EVENT[self.event]:
            raise ValueError(f"outcome '{self.outcome}' does not go with event '{self.event}'")
        return self

    @property
    def total(self) -> int:
        return sum(count.total for count in self.products)

    @property
    def succeeded(self) -> int:
        return sum(count.succeeded for count in self.products)

    @property
    def failed(self) -> int:
        return sum(count.failed for count in self.products)


# ----------------------------------------------------------------------------------------- building


def build_job_report(
    job: Job,
    workers: Iterable[Worker],
    resources: Mapping[int, Resource],
    event: NotificationEvent,
    finished_at: datetime | None,
    verifications: Mapping[int, Verification] | None = None,
    halt_reason: str | None = None,
) -> JobReport:
    """Summarise a finished job (or its completed rollback) from its workers and their resources.

    For `job_finished` every worker counts, succeeded = `success`, failed = `error`, and each worker's verification
    in `verifications` (by worker id) is listed. For `rollback_finished` only workers a rollback was run for count,
    succeeded = `rollback_success`, failed = `rollback_error`; what a rollback restores was not verified. A job
    its stages halted states `halt_reason` (docs/decisions.md#staged-rollout).
    """
    if event is NotificationEvent.JOB_FINISHED:
        succeeded_status, failed_status = WorkerStatus.SUCCESS, WorkerStatus.ERROR
        counted = list(workers)
    else:
        succeeded_status, failed_status = WorkerStatus.ROLLBACK_SUCCESS, WorkerStatus.ROLLBACK_ERROR
        rollback_statuses = {WorkerStatus.ROLLBACK, WorkerStatus.ROLLBACK_SUCCESS, WorkerStatus.ROLLBACK_ERROR}
        counted = [worker for worker in workers if worker.status in rollback_statuses]

    tallies: dict[Product, list[int]] = {}
    failures: list[FailedResource] = []
    for worker in counted:
        tally = tallies.setdefault(worker.product, [0, 0, 0])
        tally[0] += 1
        if worker.status is succeeded_status:
            tally[1] += 1
        elif worker.status is failed_status:
            tally[2] += 1
            failures.append(_failed_resource(worker, resources.get(worker.resource_id)))

    products = tuple(
        ProductCount(product=product, total=total, succeeded=succeeded, failed=failed)
        for product, (total, succeeded, failed) in sorted(tallies.items(), key=lambda item: _PRODUCT_ORDER[item[0]])
    )
    failures.sort(key=lambda failure: (_PRODUCT_ORDER[failure.product], failure.region, failure.instance_id))
    verified = [
        _verified_resource(worker, resources.get(worker.resource_id), verifications[worker.id])
        for worker in counted
        if event is NotificationEvent.JOB_FINISHED and verifications and worker.id in verifications
    ]
    verified.sort(key=lambda item: (_PRODUCT_ORDER[item.product], item.region, item.instance_id, item.domain))
    return JobReport(
        job_id=job.id,
        job_name=job.name,
        event=event,
        outcome=job.status,
        started_at=job.start_time,
        finished_at=finished_at,
        products=products,
        failures=tuple(failures),
        verifications=tuple(verified),
        halt_reason=halt_reason if event is NotificationEvent.JOB_FINISHED else None,
    )


def _where(worker: Worker, resource: Resource | None) -> dict[str, object]:
    """The product, region, instance and domain naming a worker's resource, even one deleted since."""
    unknown = "(unknown)"
    return {
        "product": worker.product,
        "region": resource.region if resource else unknown,
        "instance_id": resource.instance_id if resource else f"resource {worker.resource_id}",
        "domain": resource.domain if resource else worker.resource_domain or unknown,
    }


def _failed_resource(worker: Worker, resource: Resource | None) -> FailedResource:
    return FailedResource(**_where(worker, resource), error_code=worker.error_code, error_message=worker.error_message)


def _verified_resource(worker: Worker, resource: Resource | None, verification: Verification) -> VerifiedResource:
    served = verification.served
    return VerifiedResource(
        **_where(worker, resource),
        status=verification.status,
        detail=verification.detail,
        served_subject=served.subject if served else None,
        served_fingerprint=served.fingerprint_sha256 if served else None,
        served_not_after=served.not_after if served else None,
    )
