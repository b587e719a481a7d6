"""CloudResource (ListCloudResources, ListDeploymentJobResource, GetMatchedResources) and the replies listing it."""

from __future__ import annotations

from certdeploy.api.replies import WireModel


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
    remark: str | None = None


class CloudResourceList(WireModel):
    """ListDeploymentJobResource."""

    data: list[CloudResource]


class MatchedResources(WireModel):
    """GetMatchedResources."""

    data: list[CloudResource]
    max_results: int
    next_token: str = ""
