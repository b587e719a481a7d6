"""The FC deployer on FC 3.0 custom domains, driven through the real `alibabacloud-fc20230330` client (ROA, ACS3
signature) against the FC test server, which also answers the 2.0 API `aliyun-fc2` speaks."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from certdeploy.adapters.cloud.fc import FcDeployer
from certdeploy.adapters.cloud.fc2_domains import Fc2CustomDomains
from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.certgen import GeneratedCert, make_cert
from tests.contract.deployer_support import assert_refused_without_the_key, mismatched_certificate, pem_certificate
from tests.servers.fc3_server import FC2_API_VERSION, GET_CUSTOM_DOMAIN, UPDATE_CUSTOM_DOMAIN, FcCloud

DOMAIN = "api.example.com"
ROUTES = [{"path": "/v1/*", "functionName": "api", "qualifier": "prod", "methods": ["GET", "POST"]}]
TLS = {"minVersion": "TLSv1.2", "maxVersion": "TLSv1.3", "cipherSuites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]}
# What a bind must leave as it is besides the TLS settings.
KEPT = {
    "wafConfig": {"enableWAF": True},
    "authConfig": {"authType": "jwt", "authInfo": '{"jwks": {}}'},
    "routeConfig": {"routes": ROUTES},
}


@pytest.fixture(scope="module")
def legacy() -> GeneratedCert:
    return make_cert([DOMAIN], common_name=DOMAIN)


@pytest.fixture(scope="module")
def renewed() -> GeneratedCert:
    return make_cert([DOMAIN], common_name=DOMAIN)


@pytest.fixture
def cloud() -> Iterator[FcCloud]:
    yield from FcCloud(security_token="sts-token-of-the-function-role").serving()


@pytest.fixture
def deployer(cloud: FcCloud) -> FcDeployer:
    return FcDeployer(cloud.api.credentials(), cloud.api.target())


def _add_fc3_domain(cloud: FcCloud, cert: GeneratedCert | None, *, protocol: str = "HTTPS") -> None:
    certificate = ("legacy-api", cert.cert_pem, cert.key_pem) if cert is not None else None
    settings: dict[str, Any] = {"tlsConfig": TLS} if cert is not None else {}
    cloud.add_domain(
        DOMAIN, protocol=protocol, routes=ROUTES, certificate=certificate, **settings, **copy.deepcopy(KEPT)
    )


def _resource() -> Resource:
    return Resource(id=2, account_id=7, product=Product.FC, region="cn-shanghai", instance_id=DOMAIN, domain=DOMAIN)


def _deployable(cert: GeneratedCert, name: str = "api-2026", cert_id: int = 51) -> DeployableCertificate:
    return pem_certificate(cert, cert_id=cert_id, name=name, algorithm=CertAlgorithm.RSA)


def _update_bodies(cloud: FcCloud) -> list[Any]:
    return [call.body for call in cloud.api.calls_of(UPDATE_CUSTOM_DOMAIN)]


def test_an_https_only_domain_is_bound_through_fc3_keeping_tls_waf_auth_and_routes(
    cloud: FcCloud, deployer: FcDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    _add_fc3_domain(cloud, legacy)
    before = deployer.current_binding(_resource())

    deployer.bind(_resource(), _deployable(renewed))

    served = cloud.domain(DOMAIN)
    assert (before.cert_name, before.detail("protocol")) == ("legacy-api", "HTTPS")
    assert served["certConfig"] == {"certName": "api-2026", "certificate": renewed.chain_pem}
    assert cloud.private_key(DOMAIN) == renewed.key_pem
    assert (served["protocol"], served["tlsConfig"]) == ("HTTPS", TLS)
    assert {block: served[block] for block in KEPT} == KEPT
    [body] = _update_bodies(cloud)
    assert body == {
        "protocol": "HTTPS",
        "certConfig": {"certName": "api-2026", "certificate": renewed.chain_pem, "privateKey": renewed.key_pem},
        "tlsConfig": TLS,
    }
    assert cloud.api.calls_of(UPDATE_CUSTOM_DOMAIN)[0].security_token == "sts-token-of-the-function-role"
    assert cloud.fc2.calls == []
    assert deployer.current_binding(_resource()).cert_name == "api-2026"


def test_the_old_fc2_path_fails_an_https_only_fc3_domain(
    cloud: FcCloud, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    """What the deployer did before FC 3.0: read and write through the 2.0 API, keeping the protocol read."""
    _add_fc3_domain(cloud, legacy)
    old_path = Fc2CustomDomains(cloud.api.credentials(), cloud.api.target(), account_id=None)
    read = old_path.get_domain(_resource())
    certificate = _deployable(renewed)
    cert_config = {
        "certName": certificate.name,
        "certificate": certificate.cert_pem,
        "privateKey": certificate.key_pem.get_secret_value(),
    }

    with pytest.raises(PermanentDeployFailure) as failure:
        old_path.update_domain(_resource(), read, protocol=read["protocol"], cert_config=cert_config)

    assert failure.value.code == "InvalidArgument"
    assert "protocol 'HTTPS'" in failure.value.message
    assert cloud.domain(DOMAIN)["certConfig"]["certName"] == "legacy-api"


def test_a_second_bind_of_the_same_certificate_writes_nothing(
    cloud: FcCloud, deployer: FcDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    _add_fc3_domain(cloud, legacy)

    deployer.bind(_resource(), _deployable(renewed))
    deployer.bind(_resource(), _deployable(renewed))

    assert len(cloud.api.calls_of(UPDATE_CUSTOM_DOMAIN)) == 1
    assert len(cloud.api.calls_of(GET_CUSTOM_DOMAIN)) == 2


def test_an_http_only_domain_gets_https_and_the_rollback_puts_http_only_back(
    cloud: FcCloud, deployer: FcDeployer, renewed: GeneratedCert
) -> None:
    _add_fc3_domain(cloud, None, protocol="HTTP")
    before = deployer.current_binding(_resource())

    deployer.bind(_resource(), _deployable(renewed))
    bound = cloud.domain(DOMAIN)
    deployer.restore(_resource(), before)

    assert before.is_empty
    assert (bound["protocol"], bound["certConfig"]["certName"]) == ("HTTP,HTTPS", "api-2026")
    assert cloud.domain(DOMAIN)["protocol"] == "HTTP"
    assert deployer.current_binding(_resource()).is_empty
    assert {block: cloud.domain(DOMAIN)[block] for block in KEPT} == KEPT
    assert [body["protocol"] for body in _update_bodies(cloud)] == ["HTTP,HTTPS", "HTTP"]


def test_restore_puts_back_a_certificate_of_ours_and_refuses_one_fc_keeps_the_key_of(
    cloud: FcCloud, deployer: FcDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    _add_fc3_domain(cloud, legacy)
    external = deployer.current_binding(_resource())
    deployer.bind(_resource(), _deployable(renewed))
    ours = deployer.current_binding(_resource())

    deployer.restore(_resource(), ours)
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.restore(_resource(), external)
    deployer.bind(_resource(), _deployable(legacy, name="api-2025", cert_id=50))

    assert len(cloud.api.calls_of(UPDATE_CUSTOM_DOMAIN)) == 2
    assert failure.value.code == "PreviousCertificateUnavailable"
    assert cloud.domain(DOMAIN)["certConfig"] == {"certName": "api-2025", "certificate": legacy.chain_pem}
    assert cloud.domain(DOMAIN)["tlsConfig"] == TLS


@pytest.mark.parametrize(
    ("action", "code", "status"),
    [
        (UPDATE_CUSTOM_DOMAIN, "Throttling.User", 400),
        (UPDATE_CUSTOM_DOMAIN, "ResourceExhausted", 429),
        (GET_CUSTOM_DOMAIN, "ResourceThrottled", 503),
        (UPDATE_CUSTOM_DOMAIN, "ConcurrentUpdateError", 409),
    ],
)
def test_throttling_and_busy_answers_are_transient_and_the_retry_succeeds(
    cloud: FcCloud,
    deployer: FcDeployer,
    legacy: GeneratedCert,
    renewed: GeneratedCert,
    action: str,
    code: str,
    status: int,
) -> None:
    _add_fc3_domain(cloud, legacy)
    cloud.api.fail_next(action, code=code, message="try again later", status=status)

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _deployable(renewed))
    assert cloud.domain(DOMAIN)["certConfig"]["certName"] == "legacy-api"
    deployer.bind(_resource(), _deployable(renewed))

    assert failure.value.code == code
    assert "try again later" in failure.value.message
    assert cloud.domain(DOMAIN)["certConfig"]["certName"] == "api-2026"


def test_a_refused_certificate_is_permanent_with_fcs_code_and_message_and_no_key(
    cloud: FcCloud, deployer: FcDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    _add_fc3_domain(cloud, legacy)

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), mismatched_certificate(renewed, key_of=legacy))

    assert_refused_without_the_key(failure.value, code="InvalidArgument")
    assert "the private key does not match the certificate" in failure.value.message
    assert cloud.domain(DOMAIN)["certConfig"]["certName"] == "legacy-api"


def test_a_denied_read_is_permanent_with_fcs_code_and_message(cloud: FcCloud, deployer: FcDeployer) -> None:
    cloud.api.fail_next(GET_CUSTOM_DOMAIN, code="AccessDenied", message="not allowed: fc:GetCustomDomain", status=403)

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.current_binding(_resource())

    assert failure.value.code == "AccessDenied"
    assert failure.value.message.startswith("not allowed: fc:GetCustomDomain")
    assert cloud.fc2.calls == []


def test_a_domain_of_fc2_is_read_by_fc3_then_bound_through_fc2_with_its_service_routes(
    cloud: FcCloud, deployer: FcDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    routes = [{"path": "/*", "serviceName": "shop", "functionName": "web"}]
    cloud.add_domain(
        DOMAIN, routes=routes, certificate=("legacy", legacy.cert_pem, legacy.key_pem), api_version=FC2_API_VERSION
    )

    deployer.bind(_resource(), _deployable(renewed))

    assert cloud.api.actions() == [GET_CUSTOM_DOMAIN]
    assert [call.operation for call in cloud.fc2.calls] == [GET_CUSTOM_DOMAIN, UPDATE_CUSTOM_DOMAIN]
    assert cloud.domain(DOMAIN)["routeConfig"] == {"routes": routes}
    assert cloud.domain(DOMAIN)["certConfig"]["certName"] == "api-2026"


def test_a_domain_fc3_does_not_know_is_bound_through_fc2(
    cloud: FcCloud, deployer: FcDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    cloud.add_domain(DOMAIN, certificate=("legacy", legacy.cert_pem, legacy.key_pem), api_version=FC2_API_VERSION)
    cloud.api.fail_next(GET_CUSTOM_DOMAIN, code="DomainNameNotFound", message="domain name does not exist", status=404)

    deployer.bind(_resource(), _deployable(renewed))

    assert cloud.api.calls_of(UPDATE_CUSTOM_DOMAIN) == []
    assert cloud.domain(DOMAIN)["certConfig"]["certName"] == "api-2026"
