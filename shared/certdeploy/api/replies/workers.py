"""The Worker object of ListWorkerResource (a `Page` of them)."""

from __future__ import annotations

from certdeploy.api.replies import WireModel


class Worker(WireModel):
    """`Port` is an int and `DefaultResource` a bool here (a CloudResource has them as string and int); times are
    Unix milliseconds as strings. `NamespaceId` is an SAE worker's (the Ingress's namespace, when the inventory has
    it). `ErrorCode` and `ErrorMessage` are ours: the SDK model has no such fields; so are the `Verify*` and `Served*`
    fields, the worker's verification (absent when there is none)."""

    id: int
    job_id: int
    status: str
    cert_id: int
    cert_name: str | None = None
    cert_domain: str | None = None
    cert_instance_id: str | None = None
    cloud_product: str
    region_id: str | None = None
    cloud_region: str | None = None
    resource_id: int
    instance_id: str | None = None
    listener_id: str | None = None
    port: int | None = None
    default_resource: bool | None = None
    namespace_id: str | None = None
    resource_cert_id: int | None = None
    resource_domain: str | None = None
    user_id: int
    gmt_create: str
    gmt_modified: str
    error_code: str | None = None
    error_message: str | None = None
    # Ours (docs/verification.md): what the resource was found to serve after the bind.
    verify_status: str | None = None
    verify_detail: str | None = None
    verify_server_name: str | None = None
    verify_checks: int | None = None
    verify_checked_at: str | None = None
    served_fingerprint: str | None = None
    served_subject: str | None = None
    served_not_after: str | None = None
