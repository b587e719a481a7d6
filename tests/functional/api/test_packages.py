"""Certificate resource plans, the orders made from them, notice switches and asset counts, through the official SDK:
each answers as CAS does for an account that bought no plan (README, "CAS actions beyond deployment jobs"), and the
asset counts are the account's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from tests.functional.api_support import INVENTORY, upload
from tests.rpc_calls import refused


def test_there_is_no_certificate_package_to_count(client: CasClient) -> None:
    count = client.get_certificate_package_count(cas.GetCertificatePackageCountRequest()).body

    assert count.product_count_list == "[]"
    assert count.total_count_detail == "{TotalCount=0, RemainCount=0, FreeQuota=0, UsedCount=0}"
    assert "TotalCount=0" in count.trustee_count_detail and "TotalCount=0" in count.notice_count_detail
    assert "TotalCount=0" in count.proxy_count_detail and count.request_id


APPLICATIONS: dict[str, Callable[[CasClient], Any]] = {
    "CreateCertificateForPackageRequest": lambda client: client.create_certificate_for_package_request(
        cas.CreateCertificateForPackageRequestRequest(product_code="digicert-free-1-free", domain="www.example.com")
    ),
    "CreateCertificateRequest": lambda client: client.create_certificate_request(
        cas.CreateCertificateRequestRequest(
            product_code="digicert-free-1-free",
            domain="www.example.com",
            username="ops",
            phone="13800001234",
            email="ops@example.com",
        )
    ),
    "CreateCertificateWithCsrRequest": lambda client: client.create_certificate_with_csr_request(
        cas.CreateCertificateWithCsrRequestRequest(
            product_code="digicert-free-1-free",
            csr="-----BEGIN CERTIFICATE REQUEST-----",
            username="ops",
            phone="13800001234",
            email="ops@example.com",
        )
    ),
}


@pytest.mark.parametrize("action", sorted(APPLICATIONS))
def test_no_certificate_can_be_applied_for_from_a_plan(client: CasClient, action: str) -> None:
    error = refused(lambda: APPLICATIONS[action](client))

    assert (error.status_code, error.code) == (400, "QuotaExceeded")
    assert "UploadUserCertificate" in error.message


ORDERS: dict[str, Callable[[CasClient], Any]] = {
    "DescribeCertificateState": lambda client: client.describe_certificate_state(
        cas.DescribeCertificateStateRequest(order_id=1234)
    ),
    "CancelCertificateForPackageRequest": lambda client: client.cancel_certificate_for_package_request(
        cas.CancelCertificateForPackageRequestRequest(order_id=1234)
    ),
    "RenewCertificateOrderForPackageRequest": lambda client: client.renew_certificate_order_for_package_request(
        cas.RenewCertificateOrderForPackageRequestRequest(order_id=1234)
    ),
    "CancelOrderRequest": lambda client: client.cancel_order_request(cas.CancelOrderRequestRequest(order_id=1234)),
    "DeleteCertificateRequest": lambda client: client.delete_certificate_request(
        cas.DeleteCertificateRequestRequest(order_id=1234)
    ),
    "BatchUpdateNoticeStatus": lambda client: client.batch_update_notice_status(
        cas.BatchUpdateNoticeStatusRequest(ids=[1234], notice_biz="CERT_EXPIRE", notice_status=0)
    ),
}


@pytest.mark.parametrize("action", sorted(ORDERS))
def test_there_is_no_certificate_order_or_notice_to_change(client: CasClient, action: str) -> None:
    error = refused(lambda: ORDERS[action](client))

    assert (error.status_code, error.code) == (404, "NotFound")
    assert "1234" in error.message


def test_asset_counts_are_the_accounts_resources_and_certificates(client: CasClient, inventory: None) -> None:
    upload(client, "wild")

    now = client.get_asset_count().body
    listed = client.list_asset_count(cas.ListAssetCountRequest()).body

    resources = INVENTORY.count("product:")
    assert (now.aliyun_asset_count, now.domain_asset_count) == (resources, resources)
    assert (now.upload_certificate_count, now.buy_certificate_count, now.free_certificate_count) == (1, 0, 0)
    assert (now.aws_asset_count, now.huawei_asset_count, now.tencent_asset_count) == (0, 0, 0)
    [today] = listed.asset_count_list
    assert (listed.total_count, today.aliyun_asset_count, today.certificate_count) == (1, resources, 1)
    assert today.domain_asset_count == resources and today.multi_cloud_asset_count == 0
