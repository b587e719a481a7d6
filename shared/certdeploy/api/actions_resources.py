"""Resource actions: ListCloudResources, GetMatchedResources, DescribeCloudResourceStatus, and the multi-cloud and
package ones answered as CAS does for an account without them (docs/protocol.md#cloud-resources).

Only Alibaba Cloud resources of the twelve products are managed here: `CloudName` other than `aliyun`, the
multi-cloud product codes (`TencentCDN`, `AwsCloudFront`, …) and the China-site-only ones (`SLB`, `LIVE`, …) list
nothing. `CertIds` narrows the list to the resources those certificates match now (the preview's resource list).
GetMatchedResources answers `Data` as a JSON list of CloudResource objects, at most 2,000 of them, unpaged
(`NextToken` stays empty) as CAS documents.
"""

from __future__ import annotations

from certdeploy.api.actions_common import CLOUD_NAME, ActionContext, cloud_resources, paging, parse_product
from certdeploy.api.errors import invalid_parameter
from certdeploy.api.replies import Empty, Page
from certdeploy.api.replies.resources import (
    CloudAccessPage,
    CloudResource,
    MatchedResources,
    PackageState,
    ResourceStatus,
    ResourceStatusList,
    TrusteeOrderPage,
)
from certdeploy.api.rpc import RpcParameters
from certdeploy.app.resources import list_resources, matched_resources
from certdeploy.domain.errors import NotFound, Thing
from certdeploy.domain.models import Product

DEFAULT_SHOW_SIZE = 20
DEFAULT_MAX_RESULTS = 20
MAX_MATCHED = 2000
CLOUD_NAMES = {"aliyun": True, "tencent": False, "huawei": False, "aws": False}
# CAS product codes of services not managed here: China-site only ones and the multi-cloud ones
# (docs/protocol.md#product-codes).
UNMANAGED_PRODUCTS = frozenset(
    {
        "slb",
        "live",
        "webhosting",
        "vod",
        "cr",
        "tencentcdn",
        "tencentclb",
        "tencentwaf",
        "huaweicdn",
        "awscloudfront",
        "awsclb",
        "awsalb",
        "awsnlb",
    }
)


def list_cloud_resources(ctx: ActionContext, params: RpcParameters) -> Page[CloudResource]:
    cloud_name = params.optional_text("CloudName")
    product_text = params.optional_text("CloudProduct")
    keyword = params.optional_keyword("Keyword")
    cert_ids = params.optional_integer_list("CertIds")
    page, size = paging(params, DEFAULT_SHOW_SIZE)
    if cloud_name is not None and cloud_name.lower() not in CLOUD_NAMES:
        raise invalid_parameter("CloudName", f"{cloud_name!r} is not one of aliyun, Tencent, Huawei, Aws")
    managed_here = cloud_name is None or CLOUD_NAMES[cloud_name.lower()]
    if product_text is not None and product_text.lower() in UNMANAGED_PRODUCTS:
        managed_here = False
    product = None if product_text is None or not managed_here else parse_product("CloudProduct", product_text)
    if not managed_here:
        return Page[CloudResource](total=0, current_page=page, show_size=size, data=[])
    found = list_resources(
        ctx.deps, ctx.account_id, product=product, keyword=keyword, cert_ids=cert_ids, page=page, page_size=size
    )
    return Page[CloudResource](
        total=found.total, current_page=page, show_size=size, data=cloud_resources(ctx, found.items)
    )


def get_matched_resources(ctx: ActionContext, params: RpcParameters) -> MatchedResources:
    cert_ids = params.integer_list("CertIds")
    max_results = params.optional_integer("MaxResults")
    if max_results is not None and not 1 <= max_results <= MAX_MATCHED:
        raise invalid_parameter("MaxResults", f"it must be from 1 to {MAX_MATCHED}, not {max_results}")
    resources, _ = matched_resources(ctx.deps, ctx.account_id, cert_ids)
    return MatchedResources(
        data=cloud_resources(ctx, resources[:MAX_MATCHED]), max_results=max_results or DEFAULT_MAX_RESULTS
    )


def describe_cloud_resource_status(ctx: ActionContext, params: RpcParameters) -> ResourceStatusList:
    """The account's resources counted per product, the products it has any of. `SecretId` names a multi-cloud
    AccessKey, of which there are none here: with one, nothing is counted."""
    if params.optional_text("SecretId") is not None:
        return ResourceStatusList(data=[])
    counts = {
        product: list_resources(ctx.deps, ctx.account_id, product=product, page_size=1).total for product in Product
    }
    return ResourceStatusList(
        data=[
            ResourceStatus(cloud_name=CLOUD_NAME, cloud_product=str(product), total_count=count)
            for product, count in counts.items()
            if count
        ]
    )


def list_cloud_access(ctx: ActionContext, params: RpcParameters) -> CloudAccessPage:
    """Multi-cloud AccessKeys (Tencent, Huawei, AWS) are not managed here: the list is empty."""
    page, size = paging(params, DEFAULT_SHOW_SIZE)
    return CloudAccessPage(total_count=0, current_page=page, show_size=size, cloud_access_list=[])


def add_cloud_access(ctx: ActionContext, params: RpcParameters) -> Empty:
    """Refused: this server deploys to Alibaba Cloud only, so it keeps no other cloud's AccessKey."""
    raise invalid_parameter(
        "CloudName", f"{params.text('CloudName')!r} cannot be added: this server deploys to Alibaba Cloud only"
    )


def delete_cloud_access(ctx: ActionContext, params: RpcParameters) -> Empty:
    raise NotFound.of(Thing.CLOUD_ACCESS, params.integer("AccessId"))


def list_trustee_order(ctx: ActionContext, params: RpcParameters) -> TrusteeOrderPage:
    return TrusteeOrderPage(max_results=params.optional_integer("MaxResults"))


def describe_package_state(ctx: ActionContext, params: RpcParameters) -> PackageState:
    """Certificate resource plans are not sold here: none bought, used or issued, as for an account without any."""
    return PackageState(product_code=params.text("ProductCode"))
