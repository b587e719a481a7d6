"""Issue 10 item 3 through the official SDK: parameters no caller could mean — deeply nested JSON lists, a keyword
longer than any name — are the caller's mistake (HTTP 400, CAS `InvalidParameter.<Name>`), never a 5xx; and a
certificate of thousands of wildcard names still matches."""

from __future__ import annotations

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from tests.certgen import make_cert
from tests.functional.api_support import upload
from tests.rpc_calls import raw_call, refused

pytestmark = pytest.mark.usefixtures("inventory")

NESTED = "[" * 20_000 + "]" * 20_000


@pytest.mark.parametrize(
    ("action", "query", "name"),
    [
        ("ListCloudResources", {"CertIds": NESTED}, "CertIds"),
        ("GetMatchedResources", {"CertIds": NESTED}, "CertIds"),
        ("CreateDeploymentJob", {"Name": "j", "JobType": "user", "CertIds": NESTED, "ResourceIds": "1"}, "CertIds"),
        ("CreateDeploymentJob", {"Name": "j", "JobType": "user", "CertIds": "1", "ResourceIds": NESTED}, "ResourceIds"),
        (
            "CreateDeploymentJob",
            {"Name": "j", "JobType": "user", "CertIds": "1", "ResourceIds": "1", "ContactIds": NESTED},
            "ContactIds",
        ),
        ("CreateContact", {"Name": "ops", "Email": "ops@example.com", "Webhooks": NESTED}, "Webhooks"),
        ("ListCloudResources", {"Keyword": "a" * 50_000}, "Keyword"),
        ("ListUserCertificateOrder", {"Keyword": "%" * 50_000}, "Keyword"),
        ("ListContact", {"Keyword": "_" * 50_000}, "Keyword"),
        ("ListCloudResources", {"CertIds": "[" + "1," * 10_000 + "1]"}, "CertIds"),
    ],
    ids=[
        "nested-list-cert-ids",
        "nested-matched-cert-ids",
        "nested-job-cert-ids",
        "nested-resource-ids",
        "nested-contact-ids",
        "nested-webhooks",
        "long-resource-keyword",
        "long-certificate-keyword",
        "long-contact-keyword",
        "too-many-ids",
    ],
)
def test_parameters_beyond_any_real_use_are_invalid_parameters(
    client: CasClient, action: str, query: dict[str, str], name: str
) -> None:
    error = refused(lambda: raw_call(client, action, query))

    assert (error.code, error.status_code) == (f"InvalidParameter.{name}", 400)


def test_a_certificate_of_thousands_of_wildcard_names_still_matches(client: CasClient) -> None:
    names = ["*.example.com", *(f"*.zone{index}.example.net" for index in range(9_999))]
    cert_id = upload(client, "many", make_cert(names, common_name="*.example.com"))

    matched = client.get_matched_resources(cas.GetMatchedResourcesRequest(cert_ids=str(cert_id))).body
    listed = client.list_cloud_resources(cas.ListCloudResourcesRequest(cert_ids=[cert_id], show_size=100)).body

    assert sorted(item["CloudProduct"] for item in matched.data) == ["ALB", "CDN", "NLB"]
    assert sorted(item.cloud_product for item in listed.data) == ["ALB", "CDN", "NLB"]
