"""Worker actions (docs/protocol.md#workers): list a job's workers, roll one back, drop one from an editing job.

Decisions:
- A Worker also answers `ErrorCode` and `ErrorMessage` (the failure cause the console shows; the SDK model has no
  such fields and ignores them).
- UpdateWorkerResourceStatus accepts only `rollback` (the zh/tc documentation's single value): deployments start
  with UpdateDeploymentJobStatus, and the other statuses the SDK lists are outcomes, not requests.
"""

from __future__ import annotations

from collections.abc import Mapping

from certdeploy.api.actions_certificates import certificate_domains
from certdeploy.api.actions_common import (
    ActionContext,
    Reply,
    cert_instance_id,
    certificates_by_id,
    compact,
    listener_fields,
    millis_text,
    paging,
    parse_choice,
    parse_product,
)
from certdeploy.api.errors import invalid_parameter
from certdeploy.api.rpc import RpcParameters
from certdeploy.app.jobs import delete_worker
from certdeploy.app.rollback import request_rollback
from certdeploy.domain.models import Certificate, Resource, Worker
from certdeploy.domain.states import WorkerStatus

DEFAULT_SHOW_SIZE = 50
STATUS_DATA = "[]"


def worker_reply(worker: Worker, certs: Mapping[int, Certificate], resources: Mapping[int, Resource]) -> Reply:
    cert = certs.get(worker.cert_id)
    resource = resources.get(worker.resource_id)
    listener = listener_fields(resource) if resource is not None else {}
    domains = certificate_domains(cert) if cert is not None else []
    return compact(
        {
            "Id": worker.id,
            "JobId": worker.job_id,
            "Status": str(worker.status),
            "CertId": worker.cert_id,
            "CertName": cert.name if cert is not None else None,
            "CertDomain": ",".join(domains) if cert is not None else None,
            "CertInstanceId": cert_instance_id(cert) if cert is not None else None,
            "CloudProduct": str(worker.product),
            "RegionId": resource.region if resource is not None else None,
            "CloudRegion": resource.region if resource is not None else None,
            "ResourceId": worker.resource_id,
            "InstanceId": listener.get("InstanceId"),
            "ListenerId": listener.get("ListenerId"),
            "Port": listener.get("Port"),
            "DefaultResource": True if listener else None,
            "ResourceCertId": worker.resource_cert_id,
            "ResourceDomain": worker.resource_domain,
            "UserId": worker.account_id,
            "GmtCreate": millis_text(worker.created_at),
            "GmtModified": millis_text(worker.modified_at),
            "ErrorCode": worker.error_code,
            "ErrorMessage": worker.error_message,
        }
    )


def list_worker_resource(ctx: ActionContext, params: RpcParameters) -> Reply:
    job_id = params.integer("JobId")
    status_text = params.optional_text("Status")
    product_text = params.optional_text("CloudProduct")
    status = None if status_text is None else parse_choice(WorkerStatus, "Status", status_text)
    product = None if product_text is None else parse_product("CloudProduct", product_text)
    page, size = paging(params, DEFAULT_SHOW_SIZE)
    store = ctx.deps.store
    store.jobs.get(ctx.account_id, job_id)
    found = store.workers.search(ctx.account_id, job_id, status=status, product=product, page=page, page_size=size)
    certs = certificates_by_id(ctx, (w.cert_id for w in found.items))
    resource_ids = {w.resource_id for w in found.items}
    resources = {r.id: r for r in store.resources.get_many(ctx.account_id, resource_ids)} if resource_ids else {}
    return {
        "Total": found.total,
        "CurrentPage": page,
        "ShowSize": size,
        "Data": [worker_reply(w, certs, resources) for w in found.items],
    }


def update_worker_resource_status(ctx: ActionContext, params: RpcParameters) -> Reply:
    job_id = params.integer("JobId")
    worker_id = params.integer("WorkerId")
    status = params.text("Status")
    if status != WorkerStatus.ROLLBACK.value:
        raise invalid_parameter(
            "Status",
            f"{status!r} cannot be requested: only 'rollback' is (deployments start with UpdateDeploymentJobStatus)",
        )
    request_rollback(ctx.deps, ctx.account_id, job_id, worker_id)
    return {"Data": STATUS_DATA}


def create_rollback_task(ctx: ActionContext, params: RpcParameters) -> Reply:
    request_rollback(ctx.deps, ctx.account_id, params.integer("JobId"), params.integer("WorkerId"))
    return {"Data": STATUS_DATA}


def delete_worker_resource(ctx: ActionContext, params: RpcParameters) -> Reply:
    delete_worker(ctx.deps, ctx.account_id, params.integer("JobId"), params.integer("WorkerId"))
    return {}


HANDLERS = {
    "ListWorkerResource": list_worker_resource,
    "UpdateWorkerResourceStatus": update_worker_resource_status,
    "CreateRollbackTask": create_rollback_task,
    "DeleteWorkerResource": delete_worker_resource,
}
