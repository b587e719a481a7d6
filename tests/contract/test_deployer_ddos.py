"""Anti-DDoS Proxy deployer over the wire: the real ddoscoo SDK client against the test server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certdeploy.adapters.cloud.ddos import DdosDeployer
from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.certgen import make_cert
from tests.contract.deployer_support import pem_certificate
from tests.servers.ddos import DdosCloud, WebRule

DOMAIN = "shop.example.com"
SITE = make_cert([DOMAIN], common_name=DOMAIN, key="rsa")
SM2_FIXTURES = Path(__file__).parent.parent / "fixtures" / "sm2"


@pytest.fixture
def cloud() -> Iterator[DdosCloud]:
    cloud = DdosCloud()
    cloud.certs = {2001: ("old-cert", make_cert([DOMAIN]).cert_pem), 2002: ("new-cert", SITE.cert_pem)}
    cloud.rules[DOMAIN] = WebRule(cert_id=2001, cert_name="old-cert", cert_region="cn-hangzhou")
    # A second rule whose name contains the first: the API's loose Domain match returns both.
    cloud.rules[f"img.{DOMAIN}"] = WebRule(cert_id=2002, cert_name="new-cert", cert_region="cn-hangzhou")
    yield from cloud.serving()


@pytest.fixture
def deployer(cloud: DdosCloud) -> DdosDeployer:
    return DdosDeployer(cloud.api.credentials(), cloud.api.target())


def _resource(domain: str = DOMAIN) -> Resource:
    return Resource(
        id=3, account_id=1, product=Product.DDOS, region="cn-hangzhou", instance_id="ddoscoo-cn-1", domain=domain
    )


def _certificate(
    *, cas_cert_id: int | None = None, algorithm: CertAlgorithm = CertAlgorithm.RSA
) -> DeployableCertificate:
    return pem_certificate(SITE, cert_id=11, name="shop-2025", algorithm=algorithm, cas_cert_id=cas_cert_id)


def test_binds_by_cas_id_reads_it_back_and_restores_the_previous_certificate(
    cloud: DdosCloud, deployer: DdosDeployer
) -> None:
    before = deployer.current_binding(_resource())

    deployer.bind(_resource(), _certificate(cas_cert_id=2002))
    after = deployer.current_binding(_resource())
    deployer.restore(_resource(), before)

    assert (before.cas_cert_id, before.cert_name) == (2001, "old-cert")
    assert (after.cas_cert_id, after.cert_name) == (2002, "new-cert")
    [first, second] = cloud.api.calls_of("AssociateWebCert")
    assert (first.parameters["CertId"], second.parameters["CertId"]) == ("2002", "2001")
    assert cloud.rules[DOMAIN].cert_id == 2001
    assert cloud.rules[f"img.{DOMAIN}"].cert_id == 2002


def test_binds_pem_in_the_body_and_a_second_bind_writes_nothing(cloud: DdosCloud, deployer: DdosDeployer) -> None:
    deployer.bind(_resource(), _certificate())
    deployer.bind(_resource(), _certificate())

    [associate] = cloud.api.calls_of("AssociateWebCert")
    assert (associate.parameters["CertName"], associate.parameters["Key"]) == ("shop-2025", SITE.key_pem)
    assert "Key=" not in associate.path
    assert cloud.rules[DOMAIN].cert_name == "shop-2025"


def test_binding_the_certificate_already_associated_makes_no_write_call(
    cloud: DdosCloud, deployer: DdosDeployer
) -> None:
    deployer.bind(_resource(), _certificate(cas_cert_id=2001))

    assert cloud.api.calls_of("AssociateWebCert") == []


def test_throttling_is_transient(cloud: DdosCloud, deployer: DdosDeployer) -> None:
    cloud.api.fail_next("AssociateWebCert", code="Throttling.User", message="Request was denied.")

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=2002))

    assert failure.value.code == "Throttling.User"
    assert cloud.rules[DOMAIN].cert_id == 2001


def test_a_refused_certificate_is_permanent_with_the_products_cause(cloud: DdosCloud, deployer: DdosDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=9999))

    assert failure.value.code == "Cert.NotFound"
    assert failure.value.message.startswith("The certificate 9999 does not exist.")


def test_a_domain_without_website_rule_is_permanent(cloud: DdosCloud, deployer: DdosDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource("example.com"), _certificate(cas_cert_id=2002))

    assert failure.value.code == "WebRuleNotFound"
    assert cloud.api.calls_of("AssociateWebCert") == []


def test_sm_certificates_are_refused_without_a_write(cloud: DdosCloud, deployer: DdosDeployer) -> None:
    sm = _certificate(cas_cert_id=2002, algorithm=CertAlgorithm.SM2).model_copy(
        update={"cert_pem": (SM2_FIXTURES / "sm2.pem").read_text()}
    )

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), sm)

    assert failure.value.code == "SMCertificateNotSupported"
    assert cloud.api.calls == []


def test_a_previous_certificate_without_cas_id_cannot_be_restored(cloud: DdosCloud, deployer: DdosDeployer) -> None:
    cloud.rules[DOMAIN] = WebRule()
    before = deployer.current_binding(_resource())
    deployer.bind(_resource(), _certificate(cas_cert_id=2002))

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.restore(_resource(), before)

    assert failure.value.code == "PreviousCertificateNotRestorable"
    assert cloud.rules[DOMAIN].cert_id == 2002


def test_the_rule_is_found_past_the_first_page_of_loose_matches(cloud: DdosCloud, deployer: DdosDeployer) -> None:
    for index in range(12):  # sorted before DOMAIN, so they fill the first pages
        cloud.rules[f"a{index:02}.{DOMAIN}"] = WebRule()

    binding = deployer.current_binding(_resource())

    assert (binding.cert_name, binding.cas_cert_id) == ("old-cert", 2001)
    assert [call.get("PageNumber") for call in cloud.api.calls_of("DescribeWebRules")] == ["1", "2"]
