"""Worker actions (docs/protocol.md#workers): list a job's workers, roll one back, drop one from an editing job.

Decisions:
- A Worker also answers `ErrorCode` and `ErrorMessage` (the failure cause the console shows; the SDK model has no
  such fields and ignores them).
- A Worker also answers its verification (docs/verification.md), ours too: `VerifyStatus` (pending, verified,
  mismatch, unreachable, skipped), `VerifyDetail`, `VerifyServerName`, `VerifyChecks`, `VerifyCheckedAt`, and on a
  mismatch `ServedFingerprint`, `ServedSubject`, `ServedNotAfter`; absent when the worker has none.
- UpdateWorkerResourceStatus accepts only `rollback` (the zh/tc documentation's single value): deployments start
  with UpdateDeploymentJobStatus, and the other statuses the SDK lists are outcomes, not requests.
"""

from __future__ import annotations

from collections.abc import Mapping

from certdeploy.api.actions_certificates import certificate_domains
from certdeploy.api.actions_common import (
    ActionContext,
    cert_instance_id,
    certificates_by_id,
    listener_of,
    millis_text,
    paging,
    parse_choice,
    parse_product,
)
from certdeploy.api.errors import invalid_parameter
from certdeploy.api.replies import Empty, Page, StatusData
from certdeploy.api.replies.workers import Worker
from certdeploy.api.rpc import RpcParameters
from certdeploy.app.jobs import delete_worker
from certdeploy.app.rollback import request_rollback
from certdeploy.domain import models
from certdeploy.domain.models import Certificate, Resource
from certdeploy.domain.states import WorkerStatus
from certdeploy.domain.verification import Verification

DEFAULT_SHOW_SIZE = 50


def _verification_fields(verification: Verification | None) -> dict[str, object]:
    if verification is None:
        return {}
    served = verification.served
    return {
        "verify_status": str(verification.status),
        "verify_detail": verification.detail,
        "verify_server_name": verification.server_name,
        "verify_checks": verification.checks,
        "verify_checked_at": millis_text(verification.checked_at),
        "served_fingerprint": served.fingerprint_sha256 if served else None,
        "served_subject": served.subject if served else None,
        "served_not_after": millis_text(served.not_after) if served else None,
    }


def worker_reply(
    worker: models.Worker,
    certs: Mapping[int, Certificate],
    resources: Mapping[int, Resource],
    verification: Verification | None = None,
) -> Worker:
    cert = certs.get(worker.cert_id)
    resource = resources.get(worker.resource_id)
    listener = listener_of(resource) if resource is not None else None
    return Worker(
        id=worker.id,
        job_id=worker.job_id,
        status=str(worker.status),
        cert_id=worker.cert_id,
        cert_name=cert.name if cert is not None else None,
        cert_domain=",".join(certificate_domains(cert)) if cert is not None else None,
        cert_instance_id=cert_instance_id(cert) if cert is not None else None,
        cloud_product=str(worker.product),
        region_id=resource.region if resource is not None else None,
        cloud_region=resource.region if resource is not None else None,
        resource_id=worker.resource_id,
        instance_id=listener.instance_id if listener else None,
        listener_id=listener.listener_id if listener else None,
        port=listener.port if listener else None,
        default_resource=True if listener else None,
        namespace_id=resource.namespace_id if resource is not None else None,
        resource_cert_id=worker.resource_cert_id,
        resource_domain=worker.resource_domain,
        user_id=worker.account_id,
        gmt_create=millis_text(worker.created_at),
        gmt_modified=millis_text(worker.modified_at),
        error_code=worker.error_code,
        error_message=worker.error_message,
        **_verification_fields(verification),
    )


def list_worker_resource(ctx: ActionContext, params: RpcParameters) -> Page[Worker]:
    job_id = params.integer("JobId")
    status_text = params.optional_text("Status")
    product_text = params.optional_text("CloudProduct")
    status = None if status_text is None else parse_choice(WorkerStatus, "Status", status_text)
    product = None if product_text is None else parse_product("CloudProduct", product_text)
    page, size = paging(params, DEFAULT_SHOW_SIZE)
    store = ctx.deps.store
    found = store.workers.search(ctx.account_id, job_id, status=status, product=product, page=page, page_size=size)
    certs = certificates_by_id(ctx, (w.cert_id for w in found.items))
    resource_ids = {w.resource_id for w in found.items}
    resources = {r.id: r for r in store.resources.get_many(ctx.account_id, resource_ids)} if resource_ids else {}
    verifications = store.verifications.of_workers(ctx.account_id, [w.id for w in found.items])
    return Page[Worker](
        total=found.total,
        current_page=page,
        show_size=size,
        data=[worker_reply(w, certs, resources, verifications.get(w.id)) for w in found.items],
    )


def update_worker_resource_status(ctx: ActionContext, params: RpcParameters) -> StatusData:
    job_id = params.integer("JobId")
    worker_id = params.integer("WorkerId")
    status = params.text("Status")
    if status != WorkerStatus.ROLLBACK.value:
        raise invalid_parameter(
            "Status",
            f"{status!r} cannot be requested: only 'rollback' is (deployments start with UpdateDeploymentJobStatus)",
        )
    request_rollback(ctx.deps, ctx.account_id, job_id, worker_id)
    return StatusData()


def create_rollback_task(ctx: ActionContext, params: RpcParameters) -> StatusData:
    request_rollback(ctx.deps, ctx.account_id, params.integer("JobId"), params.integer("WorkerId"))
    return StatusData()


def delete_worker_resource(ctx: ActionContext, params: RpcParameters) -> Empty:
    delete_worker(ctx.deps, ctx.account_id, params.integer("JobId"), params.integer("WorkerId"))
    return Empty()
