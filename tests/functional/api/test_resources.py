"""Cloud resources and the resource-, access- and package-related actions the SDK offers (README, "CAS actions"),
through the official SDK."""

from __future__ import annotations

from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from tests.functional.api_support import INVENTORY
from tests.functional.conftest import ManualClock
from tests.rpc_calls import refused


def test_a_cloud_resource_has_its_creation_and_modification_times(
    client: CasClient, inventory: None, clock: ManualClock
) -> None:
    [resource, *_] = client.list_cloud_resources(cas.ListCloudResourcesRequest()).body.data
    loaded = int(clock.now().timestamp() * 1000)
    assert abs(int(resource.gmt_create) - loaded) < 60_000
    assert int(resource.gmt_modified) >= int(resource.gmt_create)


def test_resource_status_counts_the_resources_of_each_product(client: CasClient, inventory: None) -> None:
    data = client.describe_cloud_resource_status(cas.DescribeCloudResourceStatusRequest()).body.data

    counts = {(item.cloud_name, item.cloud_product): item.total_count for item in data}
    assert counts == {("aliyun", product): 1 for product in ("CDN", "ALB", "NLB", "OSS", "WAF")}
    assert INVENTORY.count("product:") == len(counts)


def test_there_is_no_multi_cloud_access_and_no_certificate_package(client: CasClient) -> None:
    access = client.list_cloud_access(cas.ListCloudAccessRequest(cloud_name="Tencent")).body
    package = client.describe_package_state(cas.DescribePackageStateRequest(product_code="symantec-dv-1-starter")).body

    assert (access.total_count, access.cloud_access_list) == (0, [])
    assert (package.product_code, package.total_count, package.used_count, package.issued_count) == (
        "symantec-dv-1-starter",
        0,
        0,
        0,
    )


def test_multi_cloud_access_cannot_be_added_and_none_can_be_deleted(client: CasClient) -> None:
    added = refused(
        lambda: client.add_cloud_access(cas.AddCloudAccessRequest(cloud_name="Tencent", secret_id="id", secret_key="k"))
    )
    deleted = refused(lambda: client.delete_cloud_access(cas.DeleteCloudAccessRequest(access_id=1)))

    assert (added.code, added.status_code) == ("InvalidParameter.CloudName", 400)
    assert (deleted.code, deleted.status_code) == ("NotFound", 404)


def test_there_are_no_hosted_orders(client: CasClient) -> None:
    orders = client.list_trustee_order(cas.ListTrusteeOrderRequest(certificate_id=1, max_results=10)).body

    assert (orders.total_count, orders.trustee_order_list, orders.max_results, orders.next_token) == (0, [], 10, "")
