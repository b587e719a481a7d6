"""The CAS 2020-04-07 actions this server answers, and ours beyond CAS (`actions_timeline`, `actions_windows`), by
name: one handler each, which reads typed parameters, calls one use case or store query and shapes the reply as
docs/protocol.md#actions describes it (without `RequestId`, which the service adds).

A handler's module is imported when one of its actions is first asked for, not with the service: a cold start of the
API function imports the one module its request needs, not all eight with the use cases and reply models each pulls
in (docs/runtime.md#cold-starts).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from certdeploy.api.actions_common import Handler

# Module of `certdeploy.api` → its actions → the name of the function in it that answers each.
_HANDLERS: dict[str, dict[str, str]] = {
    "actions_certificates": {
        "UploadUserCertificate": "upload_user_certificate",
        "ListUserCertificateOrder": "list_user_certificate_order",
        "GetUserCertificateDetail": "get_user_certificate_detail",
        "DeleteUserCertificate": "delete_user_certificate",
    },
    "actions_contacts": {
        "CreateContact": "create_contact_action",
        "GetContact": "get_contact",
        "ListContact": "list_contact",
        "UpdateContact": "update_contact_action",
        "DeleteContact": "delete_contact_action",
    },
    "actions_jobs": {
        "CreateDeploymentJob": "create_deployment_job",
        "UpdateDeploymentJob": "update_deployment_job",
        "UpdateDeploymentJobStatus": "update_deployment_job_status",
        "DescribeDeploymentJob": "describe_deployment_job",
        "DescribeDeploymentJobStatus": "describe_deployment_job_status",
        "ListDeploymentJob": "list_deployment_job",
        "ListDeploymentJobCert": "list_deployment_job_cert",
        "ListDeploymentJobResource": "list_deployment_job_resource",
        "DeleteDeploymentJob": "delete_deployment_job",
    },
    "actions_packages": {
        "GetCertificatePackageCount": "get_certificate_package_count",
        "CreateCertificateForPackageRequest": "apply_from_package",
        "CreateCertificateRequest": "apply_from_package",
        "CreateCertificateWithCsrRequest": "apply_from_package",
        "DescribeCertificateState": "order_not_found",
        "CancelCertificateForPackageRequest": "order_not_found",
        "RenewCertificateOrderForPackageRequest": "order_not_found",
        "CancelOrderRequest": "order_not_found",
        "DeleteCertificateRequest": "order_not_found",
        "BatchUpdateNoticeStatus": "batch_update_notice_status",
        "GetAssetCount": "get_asset_count",
        "ListAssetCount": "list_asset_count",
    },
    "actions_resources": {
        "ListCloudResources": "list_cloud_resources",
        "GetMatchedResources": "get_matched_resources",
        "DescribeCloudResourceStatus": "describe_cloud_resource_status",
        "ListCloudAccess": "list_cloud_access",
        "AddCloudAccess": "add_cloud_access",
        "DeleteCloudAccess": "delete_cloud_access",
        "ListTrusteeOrder": "list_trustee_order",
        "DescribePackageState": "describe_package_state",
    },
    "actions_timeline": {
        "ListDeploymentJobEvents": "list_deployment_job_events",
    },
    "actions_windows": {
        "CreateMaintenanceWindow": "create_maintenance_window",
        "ListMaintenanceWindows": "list_maintenance_windows",
        "DeleteMaintenanceWindow": "delete_maintenance_window",
    },
    "actions_workers": {
        "ListWorkerResource": "list_worker_resource",
        "UpdateWorkerResourceStatus": "update_worker_resource_status",
        "CreateRollbackTask": "create_rollback_task",
        "DeleteWorkerResource": "delete_worker_resource",
    },
}


class _Actions(Mapping[str, Handler]):
    """The handlers by action name; looking one up imports its module (Python imports a module once, under a lock)."""

    def __init__(self, handlers: Mapping[str, Mapping[str, str]]) -> None:
        self._where = {action: (module, name) for module, names in handlers.items() for action, name in names.items()}

    def __getitem__(self, action: str) -> Handler:
        module, name = self._where[action]
        handler: Handler = getattr(importlib.import_module(f"certdeploy.api.{module}"), name)
        return handler

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


ACTIONS: Mapping[str, Handler] = _Actions(_HANDLERS)
