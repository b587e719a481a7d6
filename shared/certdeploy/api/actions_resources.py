"""Resource actions: ListCloudResources and GetMatchedResources (docs/protocol.md#cloud-resources).

Only Alibaba Cloud resources of the twelve products are managed here: `CloudName` other than `aliyun`, the
multi-cloud product codes (`TencentCDN`, `AwsCloudFront`, …) and the China-site-only ones (`SLB`, `LIVE`, …) list
nothing. `CertIds` narrows the list to the resources those certificates match now (the preview's resource list).
GetMatchedResources answers `Data` as a JSON list of CloudResource objects, at most 2,000 of them, unpaged
(`NextToken` stays empty) as CAS documents.
"""

from __future__ import annotations

from certdeploy.api.actions_common import ActionContext, cloud_resources, paging, parse_product
from certdeploy.api.errors import invalid_parameter
from certdeploy.api.replies import Page
from certdeploy.api.replies.resources import CloudResource, MatchedResources
from certdeploy.api.rpc import RpcParameters
from certdeploy.app.resources import list_resources, matched_resources

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


HANDLERS = {
    "ListCloudResources": list_cloud_resources,
    "GetMatchedResources": get_matched_resources,
}
