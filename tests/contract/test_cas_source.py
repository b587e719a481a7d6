"""The CAS source over the wire: the real CAS SDK client against the CAS test server, with paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from certdeploy.adapters.cloud.cas_source import CasSource
from certdeploy.domain.deployment import PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product
from certdeploy.ports.store.resources import ResourceSpec
from tests.certgen import make_cert
from tests.servers.cas_cloud import CasCloud

SITE = make_cert(["www.example.com", "*.example.com"], common_name="www.example.com")
SM2_FIXTURES = Path(__file__).parent.parent / "fixtures" / "sm2"


def _order(cert_id: int, *, upload: bool = False) -> dict[str, Any]:
    return {
        "CertificateId": cert_id,
        "Name": f"cert-{cert_id}",
        "CommonName": "www.example.com",
        "Sans": "www.example.com,*.example.com",
        "Issuer": "Test CA",
        "Fingerprint": f"FP{cert_id}",
        "StartDate": "2025-01-01",
        "EndDate": "2026-01-01",
        "Expired": False,
        "Upload": upload,
    }


def _cloud_resource(number: int, product: str, **fields: Any) -> dict[str, Any]:
    return {
        "Id": number,
        "CloudName": "aliyun",
        "CloudProduct": product,
        "RegionId": "cn-hangzhou",
        "Domain": f"r{number}.example.com",
        "EnableHttps": 1,
        **fields,
    }


@pytest.fixture
def cas() -> Iterator[CasCloud]:
    cloud = CasCloud()
    yield from cloud.serving()


def _source(cas: CasCloud) -> CasSource:
    return CasSource(cas.api.credentials(), cas.api.target(), certificate_page_size=2, resource_page_size=3)


def test_lists_official_and_uploaded_certificates_across_every_page(cas: CasCloud) -> None:
    cas.certificates = [_order(100 + number, upload=number % 2 == 1) for number in range(5)]

    listed = _source(cas).list_certificates()

    assert [cert.cas_cert_id for cert in listed] == [100, 101, 102, 103, 104]
    assert [cert.uploaded for cert in listed] == [False, True, False, True, False]
    assert listed[0].sans == ("www.example.com", "*.example.com")
    calls = cas.api.calls_of("ListUserCertificateOrder")
    assert [(call.parameters["CurrentPage"], call.parameters["OrderType"]) for call in calls] == [
        ("1", "CERT"),
        ("2", "CERT"),
        ("3", "CERT"),
    ]
    assert cas.api.calls_of("GetUserCertificateDetail") == []


def test_listed_facts_use_exact_times_when_given_and_whole_china_days_otherwise(cas: CasCloud) -> None:
    exact = {"CertStartTime": 1767225600000, "CertEndTime": 1798761600000, "Algorithm": "SM2", "CertType": "FREE"}
    cas.certificates = [{**_order(100), "SerialNo": "0A1B", "Sha2": "AB" * 32}, {**_order(101), **exact}]

    by_days, by_times = _source(cas).list_certificates()

    china = timezone(timedelta(hours=8))
    assert (by_days.not_before, by_days.not_after) == (
        datetime(2025, 1, 1, tzinfo=china),
        datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=china),
    )
    assert (by_days.serial, by_days.fingerprint_sha256, by_days.algorithm, by_days.free) == (
        "0a1b",
        "ab" * 32,
        None,
        False,
    )
    assert (by_times.not_before, by_times.not_after) == (
        datetime(2026, 1, 1, tzinfo=timezone.utc),
        datetime(2027, 1, 1, tzinfo=timezone.utc),
    )
    assert (by_times.algorithm, by_times.free) == (CertAlgorithm.SM2, True)


def test_fetches_content_only_when_asked_and_then_from_the_cache(cas: CasCloud) -> None:
    cas.details[100] = {
        "Name": "site",
        "Cert": SITE.chain_pem,
        "Key": SITE.key_pem,
        "CertIdentifier": "100-cn-hangzhou",
    }
    source = _source(cas)

    first = source.certificate(100)
    second = source.certificate(100)

    assert second is first
    assert len(cas.api.calls_of("GetUserCertificateDetail")) == 1
    assert first.cert_pem == SITE.chain_pem
    assert first.key_pem is not None and first.key_pem.get_secret_value() == SITE.key_pem
    assert set(first.info.names) == {"www.example.com", "*.example.com"}
    assert first.identifier == "100-cn-hangzhou"
    assert SITE.key_pem not in repr(first)


def test_an_sm_certificate_comes_from_its_signing_pair(cas: CasCloud) -> None:
    sm_pem = (SM2_FIXTURES / "sm2.pem").read_text()
    cas.details[300] = {"Name": "sm", "Cert": "", "SignCert": sm_pem, "SignPrivateKey": "sm-key"}

    content = _source(cas).certificate(300)

    assert content.cert_pem == sm_pem
    assert "sm.example.com" in content.info.names


def test_an_unknown_certificate_is_permanent_and_throttling_transient(cas: CasCloud) -> None:
    source = _source(cas)
    with pytest.raises(PermanentDeployFailure) as missing:
        source.certificate(404)
    cas.api.fail_next("GetUserCertificateDetail", code="Throttling.User", message="Request was denied.")
    with pytest.raises(TransientDeployFailure) as throttled:
        source.certificate(100)

    assert (missing.value.code, throttled.value.code) == ("NotFound", "Throttling.User")


def test_discovers_the_twelve_products_resources_across_every_page(cas: CasCloud) -> None:
    products = ["SAE", "MSE", "APIGateway", "GA", "FC", "OSS", "WAF", "ALB", "NLB", "CDN", "DCDN", "DDoS"]
    cas.resources = [_cloud_resource(number, product) for number, product in enumerate(products, start=1)]
    cas.resources += [
        _cloud_resource(20, "LIVE"),
        _cloud_resource(21, "TencentCDN", CloudName="Tencent"),
        _cloud_resource(
            22,
            "ALB",
            InstanceId="alb-1",
            ListenerId="lsn-1@443",
            ListenerPort="443",
            EnableHttps=0,
            CertId=555,
            CertName="old",
        ),
    ]

    discovered = _source(cas).discover(account_id=1)
    first = next(discovered)
    assert len(cas.api.calls_of("ListCloudResources")) == 1  # a page at a time, as the sync consumes them
    specs = [first, *discovered]

    assert [spec.product for spec in specs] == [*(Product(code) for code in products[:-1]), Product.DDOS, Product.ALB]
    assert specs[-1] == ResourceSpec(
        product=Product.ALB,
        region="cn-hangzhou",
        instance_id="alb-1",
        domain="r22.example.com",
        port=443,
        listener_id="lsn-1@443",
        https_enabled=False,
        bound_cert_name="old",
        bound_cas_cert_id=555,
    )
    assert specs[9] == ResourceSpec(
        product=Product.CDN, region="cn-hangzhou", instance_id="r10.example.com", domain="r10.example.com"
    )
    pages = [call.parameters["CurrentPage"] for call in cas.api.calls_of("ListCloudResources")]
    assert pages == ["1", "2", "3", "4", "5"]
    assert {call.parameters["CloudName"] for call in cas.api.calls_of("ListCloudResources")} == {"aliyun"}


def test_an_account_without_resources_discovers_nothing_in_one_call(cas: CasCloud) -> None:
    assert list(_source(cas).discover(account_id=1)) == []
    assert len(cas.api.calls_of("ListCloudResources")) == 1
