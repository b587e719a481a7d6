"""MSE deployer over the wire: the real `alibabacloud-mse20190531` client against the MSE test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certdeploy.adapters.cloud.mse import MseDeployer
from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.contract.deployer_support import cas_certificate, resource
from tests.servers.mse import GET_DOMAIN, LIST_DOMAINS, UPDATE_DOMAIN, GatewayDomain, MseCloud

GATEWAY = "gw-86575c0bc9f04ecfbacb92b8e392"
OLD = "6209108-cn-hangzhou"
NEW_CAS_ID = 6209109
NEW = f"{NEW_CAS_ID}-cn-hangzhou"
CIPHERS = {"ConfigType": "Custom", "TlsCipherSuites": ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"]}


@pytest.fixture
def mse() -> Iterator[MseCloud]:
    cloud = MseCloud()
    cloud.cas_identifiers |= {OLD, NEW}
    cloud.domains[94] = GatewayDomain(
        GATEWAY,
        "www.example.com",
        cert_identifier=OLD,
        must_https=True,
        http2="open",
        tls_min="TLS 1.2",
        tls_max="TLS 1.3",
        mtls_enabled=True,
        ca_cert_identifier="5000-cn-hangzhou",
        cipher_suites=CIPHERS,
    )
    cloud.domains[95] = GatewayDomain(GATEWAY, "shop.www.example.com", cert_identifier=OLD)
    cloud.domains[96] = GatewayDomain(GATEWAY, "plain.example.com", protocol="HTTP")
    yield from cloud.serving()


@pytest.fixture
def deployer(mse: MseCloud) -> MseDeployer:
    return MseDeployer(mse.api.credentials(), mse.api.target())


def _resource(domain: str = "WWW.example.com") -> Resource:
    return resource(Product.MSE, GATEWAY, domain)


def _certificate(cas_cert_id: int | None = NEW_CAS_ID) -> DeployableCertificate:
    return cas_certificate(cas_cert_id, name="site-2026", algorithm=CertAlgorithm.RSA)


def test_binds_reads_back_and_restores_keeping_every_other_setting(mse: MseCloud, deployer: MseDeployer) -> None:
    resource = _resource()
    previous = deployer.current_binding(resource)

    deployer.bind(resource, _certificate())
    bound = deployer.current_binding(resource)
    deployer.restore(resource, previous)

    assert (previous.cas_cert_id, bound.cas_cert_id) == (6209108, NEW_CAS_ID)
    assert [call.parameters["CertIdentifier"] for call in mse.api.calls_of(UPDATE_DOMAIN)] == [NEW, OLD]
    domain = mse.domains[94]
    assert (domain.protocol, domain.must_https, domain.http2, domain.tls_min, domain.tls_max) == (
        "HTTPS",
        True,
        "open",
        "TLS 1.2",
        "TLS 1.3",
    )
    assert (domain.mtls_enabled, domain.ca_cert_identifier, domain.cipher_suites) == (True, "5000-cn-hangzhou", CIPHERS)
    assert mse.domains[95].cert_identifier == OLD


def test_binding_what_is_already_bound_makes_no_write(mse: MseCloud, deployer: MseDeployer) -> None:
    deployer.bind(_resource(), _certificate())
    mse.api.clear_calls()

    deployer.bind(_resource(), _certificate())

    assert mse.api.actions() == [LIST_DOMAINS, GET_DOMAIN]


def test_throttling_is_transient(mse: MseCloud, deployer: MseDeployer) -> None:
    mse.api.fail_next(UPDATE_DOMAIN, code="Throttling.User")

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == "Throttling.User"
    assert mse.domains[94].cert_identifier == OLD


def test_a_failure_inside_a_200_answer_is_classified_by_its_status(mse: MseCloud, deployer: MseDeployer) -> None:
    mse.fail_in_body_next(LIST_DOMAINS, code=500, status=500, message="Console error. Try again later")
    mse.fail_in_body_next(GET_DOMAIN, code=403, status=403, message="You are not authorized to perform this operation")

    with pytest.raises(TransientDeployFailure):
        deployer.current_binding(_resource())
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.current_binding(_resource())

    assert failure.value.code == "403"
    assert "not authorized" in failure.value.message


def test_an_unknown_certificate_is_permanent_with_mses_cause(mse: MseCloud, deployer: MseDeployer) -> None:
    mse.cas_identifiers.discard(NEW)

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == "InvalidParameter"
    assert NEW in failure.value.message


def test_a_domain_the_gateway_does_not_have_is_permanent(deployer: MseDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.current_binding(_resource("example.com"))

    assert failure.value.code == "ResourceNotFound.Domain"


def test_a_domain_being_published_is_a_transient_failure_without_a_write(mse: MseCloud, deployer: MseDeployer) -> None:
    mse.domains[94].status = 2

    with pytest.raises(TransientDeployFailure):
        deployer.bind(_resource(), _certificate())

    assert mse.api.calls_of(UPDATE_DOMAIN) == []


def test_an_http_only_domain_is_not_changed(mse: MseCloud, deployer: MseDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource("plain.example.com"), _certificate())

    assert failure.value.code == "HttpsDisabled"
    assert mse.domains[96].protocol == "HTTP"


def test_a_certificate_outside_cas_cannot_be_bound(mse: MseCloud, deployer: MseDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=None))

    assert failure.value.code == "CertificateNotInCas"
    assert mse.api.calls == []
