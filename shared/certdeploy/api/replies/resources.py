"""CloudResource (ListCloudResources, ListDeploymentJobResource, GetMatchedResources) and the replies listing it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from certdeploy.api.replies import WireModel


class ResourceTag(WireModel):
    """Ours: one tag of a resource, as the inventory reports it."""

    key: str
    value: str


class CloudResource(WireModel):
    """`ListenerPort` is a string and `DefaultResource` an int here (a Worker has them as int and bool); times are
    Unix milliseconds as strings; listener fields only for listener products."""

    id: int
    user_id: int
    cloud_name: str
    cloud_product: str
    region_id: str
    cloud_region: str
    domain: str
    instance_id: str | None = None
    listener_id: str | None = None
    listener_port: str | None = None
    default_resource: int | None = None
    enable_https: int
    cert_id: int | None = None
    cert_name: str
    cert_start_time: str | None = None
    cert_end_time: str | None = None
    status: str
    gmt_create: str | None = None
    gmt_modified: str | None = None
    remark: str | None = None
    # Ours: the resource's tags, which choose its maintenance windows (left out when it has none).
    tags: list[ResourceTag] | None = None


class CloudResourceList(WireModel):
    """ListDeploymentJobResource."""

    data: list[CloudResource]


class ResourceStatus(WireModel):
    """How many resources of one product the account has."""

    cloud_name: str
    cloud_product: str
    total_count: int


class ResourceStatusList(WireModel):
    """DescribeCloudResourceStatus."""

    data: list[ResourceStatus]


class CloudAccess(WireModel):
    """A multi-cloud AccessKey (none exist here)."""

    access_id: int
    cloud_name: str
    secret_id: str
    service_status: str


class CloudAccessPage(WireModel):
    """ListCloudAccess."""

    total_count: int
    current_page: int
    show_size: int
    cloud_access_list: list[CloudAccess]


class TrusteeOrderPage(WireModel):
    """ListTrusteeOrder: hosted deployments (China site only) are not offered here, so the list is always empty."""

    total_count: int = 0
    max_results: int | None = None
    next_token: str = ""
    trustee_order_list: list[dict[str, Any]] = Field(default_factory=list)


class PackageState(WireModel):
    """DescribePackageState: the certificate resource plans of one specification (none are sold here)."""

    product_code: str
    total_count: int = 0
    used_count: int = 0
    issued_count: int = 0


class MatchedResources(WireModel):
    """GetMatchedResources."""

    data: list[CloudResource]
    max_results: int
    next_token: str = ""
