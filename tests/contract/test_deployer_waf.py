"""WAF deployer over the wire: the real WAF OpenAPI SDK client against the WAF test server."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from certdeploy.adapters.cloud.waf import WafDeployer
from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.certgen import make_cert
from tests.contract.deployer_support import pem_certificate
from tests.servers.waf import WafCloud, WafDomain

INSTANCE = "waf_v3prepaid_public_cn-abc"
DOMAIN = "api.example.com"
SITE = make_cert([DOMAIN], common_name=DOMAIN)
LISTEN = {
    "CertId": "4001-cn-hangzhou",
    "HttpPorts": [80],
    "HttpsPorts": [443, 8443],
    "TLSVersion": "tlsv1.2",
    "EnableTLSv3": True,
    "CipherSuite": 2,
    "Http2Enabled": True,
    "FocusHttps": True,
    "XffHeaderMode": 2,
    "XffHeaders": ["X-Client-IP"],
}
REDIRECT = {
    "Backends": ["10.0.0.1", "10.0.0.2"],
    "BackupBackends": ["10.0.1.1"],
    "Loadbalance": "roundRobin",
    "ReadTimeout": 120,
    "Keepalive": True,
    "RequestHeaders": [{"Key": "X-From", "Value": "waf"}],
}


@pytest.fixture
def cloud() -> Iterator[WafCloud]:
    cloud = WafCloud()
    cloud.certs = {"4001-cn-hangzhou": "old-cert", "4002-cn-hangzhou": "new-cert"}
    cloud.domains[(INSTANCE, DOMAIN)] = WafDomain(listen=copy.deepcopy(LISTEN), redirect=copy.deepcopy(REDIRECT))
    yield from cloud.serving()


@pytest.fixture
def deployer(cloud: WafCloud) -> WafDeployer:
    return WafDeployer(cloud.api.credentials(), cloud.api.target())


def _resource(domain: str = DOMAIN) -> Resource:
    return Resource(
        id=5, account_id=1, product=Product.WAF, region="cn-hangzhou", instance_id=INSTANCE, domain=domain, port=443
    )


def _used(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings without empty lists: the SDK's request model writes every list field, used or not."""
    return {name: value for name, value in settings.items() if value != []}


def _certificate(*, cas_cert_id: int | None = None) -> DeployableCertificate:
    return pem_certificate(SITE, cert_id=21, name="api-2025", algorithm=CertAlgorithm.ECC, cas_cert_id=cas_cert_id)


def test_binds_by_cas_id_keeping_every_other_setting_and_restores_the_previous_one(
    cloud: WafCloud, deployer: WafDeployer
) -> None:
    before = deployer.current_binding(_resource())

    deployer.bind(_resource(), _certificate(cas_cert_id=4002))
    after = deployer.current_binding(_resource())
    deployer.restore(_resource(), before)

    assert (before.cas_cert_id, before.cert_name) == (4001, "old-cert")
    assert (after.cas_cert_id, after.cert_name) == (4002, "new-cert")
    first = cloud.modified[0]
    assert first["Listen"] == {**LISTEN, "CertId": "4002-cn-hangzhou"}
    assert _used(first["Redirect"]) == REDIRECT
    assert cloud.domains[(INSTANCE, DOMAIN)].listen == LISTEN
    assert _used(cloud.domains[(INSTANCE, DOMAIN)].redirect) == REDIRECT


def test_a_certificate_outside_cas_is_added_then_bound_and_a_second_bind_writes_nothing(
    cloud: WafCloud, deployer: WafDeployer
) -> None:
    deployer.bind(_resource(), _certificate())
    deployer.bind(_resource(), _certificate())

    [create] = cloud.api.calls_of("CreateCerts")
    assert (create.parameters["CertName"], create.parameters["CertKey"]) == ("api-2025", SITE.key_pem)
    assert len(cloud.api.calls_of("ModifyDomain")) == 1
    assert cloud.certs[cloud.domains[(INSTANCE, DOMAIN)].listen["CertId"]] == "api-2025"


def test_binding_the_certificate_already_served_makes_no_write_call(cloud: WafCloud, deployer: WafDeployer) -> None:
    deployer.bind(_resource(), _certificate(cas_cert_id=4001))

    assert cloud.api.actions() == ["DescribeDomainDetail"]


def test_throttling_is_transient(cloud: WafCloud, deployer: WafDeployer) -> None:
    cloud.api.fail_next("ModifyDomain", code="Throttling.Api", message="The request was throttled.", status=429)

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=4002))

    assert failure.value.code == "Throttling.Api"
    assert cloud.domains[(INSTANCE, DOMAIN)].listen["CertId"] == "4001-cn-hangzhou"


def test_an_unknown_domain_is_permanent_with_the_products_cause(cloud: WafCloud, deployer: WafDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource("old.example.com"), _certificate(cas_cert_id=4002))

    assert failure.value.code == "Domain.NotExist"
    assert failure.value.message.startswith(f"The domain old.example.com is not added to instance {INSTANCE}.")


def test_a_certificate_unknown_to_waf_is_permanent(cloud: WafCloud, deployer: WafDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=4999))

    assert failure.value.code == "Cert.NotExist"


def test_a_domain_without_https_port_takes_no_certificate(cloud: WafCloud, deployer: WafDeployer) -> None:
    cloud.domains[(INSTANCE, DOMAIN)].listen = {"HttpPorts": [80], "HttpsPorts": []}

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=4002))

    assert failure.value.code == "HttpsDisabled"
    assert cloud.api.calls_of("ModifyDomain") == []
