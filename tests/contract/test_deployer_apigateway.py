"""API Gateway deployer over the wire: the real `alibabacloud-cloudapi20160714` client against the API Gateway test
server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from certdeploy.adapters.cloud.apigateway import ApiGatewayDeployer
from certdeploy.domain.deployment import Binding, DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.certgen import GeneratedCert, make_cert
from tests.contract.deployer_support import pem_certificate
from tests.servers.apigateway import (
    DELETE_DOMAIN_CERTIFICATE,
    DESCRIBE_API_GROUP,
    DESCRIBE_DOMAIN,
    SET_DOMAIN_CERTIFICATE,
    ApiGatewayCloud,
    GroupDomain,
)

GROUP = "523e8dc7bbe04613b5b1d726c2a7889d"
DOMAIN = "api.example.com"
BARE_DOMAIN = "bare.example.com"


@pytest.fixture(scope="module")
def legacy() -> GeneratedCert:
    return make_cert([DOMAIN], common_name=DOMAIN)


@pytest.fixture(scope="module")
def renewed() -> GeneratedCert:
    return make_cert([DOMAIN, BARE_DOMAIN], common_name=DOMAIN)


@pytest.fixture
def gateway(legacy: GeneratedCert) -> Iterator[ApiGatewayCloud]:
    cloud = ApiGatewayCloud()
    cloud.domains[(GROUP, DOMAIN)] = GroupDomain(
        certificate_id="legacy-id",
        certificate_name="legacy",
        certificate_body=legacy.chain_pem,
        certificate_private_key=legacy.key_pem,
        web_socket_status="OPEN",
    )
    cloud.domains[(GROUP, BARE_DOMAIN)] = GroupDomain()
    yield from cloud.serving()


@pytest.fixture
def deployer(gateway: ApiGatewayCloud) -> ApiGatewayDeployer:
    return ApiGatewayDeployer(gateway.api.credentials(), gateway.api.target())


def _resource(domain: str = DOMAIN) -> Resource:
    return Resource(
        id=1, account_id=1, product=Product.APIGATEWAY, region="cn-hangzhou", instance_id=GROUP, domain=domain
    )


def _certificate(cert: GeneratedCert, name: str = "api-2026") -> DeployableCertificate:
    return pem_certificate(cert, cert_id=41, name=name, algorithm=CertAlgorithm.ECC)


def test_reads_the_certificate_of_a_custom_domain_without_its_key(
    deployer: ApiGatewayDeployer, legacy: GeneratedCert
) -> None:
    binding = deployer.current_binding(_resource())

    assert binding.cert_name == "legacy"
    assert binding.detail("certificate_id") == "legacy-id"
    assert legacy.key_pem not in binding.model_dump_json()


def test_binds_a_pem_certificate_and_reads_it_back(
    gateway: ApiGatewayCloud, deployer: ApiGatewayDeployer, renewed: GeneratedCert
) -> None:
    deployer.bind(_resource(), _certificate(renewed))

    assert deployer.current_binding(_resource()).cert_name == "api-2026"
    domain = gateway.domains[(GROUP, DOMAIN)]
    assert (domain.certificate_body, domain.certificate_private_key) == (renewed.chain_pem, renewed.key_pem)
    assert domain.web_socket_status == "OPEN"


def test_binding_what_is_already_bound_makes_no_write(
    gateway: ApiGatewayCloud, deployer: ApiGatewayDeployer, renewed: GeneratedCert
) -> None:
    deployer.bind(_resource(), _certificate(renewed))
    gateway.api.clear_calls()

    deployer.bind(_resource(), _certificate(renewed))

    assert gateway.api.actions() == [DESCRIBE_DOMAIN]


def test_restoring_no_certificate_removes_the_one_bound(
    gateway: ApiGatewayCloud, deployer: ApiGatewayDeployer, renewed: GeneratedCert
) -> None:
    previous = deployer.current_binding(_resource(BARE_DOMAIN))
    deployer.bind(_resource(BARE_DOMAIN), _certificate(renewed))

    deployer.restore(_resource(BARE_DOMAIN), previous)

    assert previous.is_empty
    assert gateway.domains[(GROUP, BARE_DOMAIN)].certificate_id is None
    assert len(gateway.api.calls_of(DELETE_DOMAIN_CERTIFICATE)) == 1


def test_restoring_a_binding_the_domain_still_serves_makes_no_write(
    gateway: ApiGatewayCloud, deployer: ApiGatewayDeployer
) -> None:
    previous = deployer.current_binding(_resource())

    deployer.restore(_resource(), previous)

    assert gateway.api.actions() == [DESCRIBE_DOMAIN, DESCRIBE_DOMAIN]


def test_a_previous_certificate_whose_key_certdeploy_never_had_cannot_be_restored(
    gateway: ApiGatewayCloud, deployer: ApiGatewayDeployer, renewed: GeneratedCert
) -> None:
    previous = deployer.current_binding(_resource())
    deployer.bind(_resource(), _certificate(renewed))

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.restore(_resource(), previous)

    assert failure.value.code == "PreviousCertificateUnavailable"
    assert "legacy" in failure.value.message
    assert gateway.domains[(GROUP, DOMAIN)].certificate_name == "api-2026"


def test_throttling_is_transient(
    gateway: ApiGatewayCloud, deployer: ApiGatewayDeployer, renewed: GeneratedCert
) -> None:
    gateway.api.fail_next(SET_DOMAIN_CERTIFICATE, code="Throttling.User")

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(renewed))

    assert failure.value.code == "Throttling.User"
    assert gateway.domains[(GROUP, DOMAIN)].certificate_name == "legacy"


def test_a_refused_certificate_is_permanent_with_the_cause_and_without_the_key(
    deployer: ApiGatewayDeployer, renewed: GeneratedCert, legacy: GeneratedCert
) -> None:
    mismatched = DeployableCertificate(
        cert_id=42,
        name="broken",
        algorithm=CertAlgorithm.ECC,
        cert_pem=renewed.chain_pem,
        key_pem=SecretStr(legacy.key_pem),
    )

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), mismatched)

    assert failure.value.code == "InvalidCertificate"
    assert "does not belong" in failure.value.message
    assert "PRIVATE KEY" not in str(failure.value)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


def test_an_unknown_domain_is_permanent(deployer: ApiGatewayDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.current_binding(_resource("gone.example.com"))

    assert failure.value.code == "NotFoundDomain"


def test_restoring_onto_a_domain_that_serves_nothing_now_is_a_no_op(
    gateway: ApiGatewayCloud, deployer: ApiGatewayDeployer
) -> None:
    deployer.restore(_resource(BARE_DOMAIN), Binding(domain=BARE_DOMAIN))

    assert gateway.api.actions() == [DESCRIBE_DOMAIN]


def _with_mutual_tls(gateway: ApiGatewayCloud, legacy: GeneratedCert) -> GroupDomain:
    domain = gateway.domains[(GROUP, DOMAIN)]
    domain.ca_certificate_body, domain.ssl_verify_depth = legacy.cert_pem, 2
    domain.client_cert_sdn_pass_through = True
    return domain


def test_a_domain_with_mutual_tls_is_refused_with_the_cause_and_nothing_written(
    gateway: ApiGatewayCloud, deployer: ApiGatewayDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    domain = _with_mutual_tls(gateway, legacy)

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(renewed))

    assert failure.value.code == "MutualTlsNotKept"
    assert "SslVerifyDepth=2" in failure.value.message and "ClientCertSDnPassThrough" in failure.value.message
    assert gateway.api.calls_of(SET_DOMAIN_CERTIFICATE) == []
    assert (domain.ca_certificate_body, domain.certificate_name) == (legacy.cert_pem, "legacy")


def test_told_to_replace_mutual_tls_the_bind_goes_ahead_without_it(
    gateway: ApiGatewayCloud, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    domain = _with_mutual_tls(gateway, legacy)
    deployer = ApiGatewayDeployer(gateway.api.credentials(), gateway.api.target(), replace_mutual_tls=True)

    deployer.bind(_resource(), _certificate(renewed))

    assert (domain.certificate_name, domain.ca_certificate_body, domain.ssl_verify_depth) == ("api-2026", None, None)
    assert DESCRIBE_API_GROUP not in gateway.api.actions()


def test_a_domain_without_mutual_tls_is_checked_then_bound(
    gateway: ApiGatewayCloud, deployer: ApiGatewayDeployer, renewed: GeneratedCert
) -> None:
    deployer.bind(_resource(), _certificate(renewed))

    assert gateway.api.actions() == [DESCRIBE_DOMAIN, DESCRIBE_API_GROUP, SET_DOMAIN_CERTIFICATE]
