"""The FC deployer on FC 2.0 custom domains, driven through the real `aliyun-fc2` client against the FC test server
(the domains here were created with the 2016-08-15 API, so the FC 3.0 API only reads them; tests/contract/
test_deployer_fc3.py binds FC 3.0 ones)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from certdeploy.adapters.cloud import ApiTarget, CloudCredentials
from certdeploy.adapters.cloud.fc import FcDeployer
from certdeploy.adapters.cloud.fc2_domains import Fc2CustomDomains
from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.certgen import GeneratedCert, make_cert
from tests.contract.deployer_support import assert_refused_without_the_key, mismatched_certificate, pem_certificate
from tests.servers.fc2_server import GET_CUSTOM_DOMAIN, REDACTED, UPDATE_CUSTOM_DOMAIN, Fc2TestServer
from tests.servers.fc3_server import FcCloud

DOMAIN = "www.example.com"
ROUTES = [
    {"path": "/api/*", "serviceName": "shop", "functionName": "api", "qualifier": "LATEST"},
    {"path": "/*", "serviceName": "shop", "functionName": "web"},
]


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
def fc(cloud: FcCloud) -> Fc2TestServer:
    """The FC 2.0 API of the cloud: the domains it adds are FC 2.0 domains."""
    return cloud.fc2


@pytest.fixture
def deployer(cloud: FcCloud) -> FcDeployer:
    return FcDeployer(cloud.api.credentials(), cloud.api.target())


def _resource(domain: str = DOMAIN) -> Resource:
    return Resource(id=1, account_id=7, product=Product.FC, region="cn-hangzhou", instance_id=domain, domain=domain)


def _deployable(cert: GeneratedCert, name: str = "www-2026", cert_id: int = 41) -> DeployableCertificate:
    return pem_certificate(cert, cert_id=cert_id, name=name, algorithm=CertAlgorithm.ECC)


def test_reads_the_certificate_a_custom_domain_serves(
    fc: Fc2TestServer, deployer: FcDeployer, legacy: GeneratedCert
) -> None:
    fc.add_domain(DOMAIN, routes=ROUTES, certificate=("legacy-www", legacy.cert_pem, legacy.key_pem))

    binding = deployer.current_binding(_resource())

    assert binding.cert_name == "legacy-www"
    assert binding.domain == DOMAIN
    assert not binding.is_empty
    assert binding.detail("protocol") == "HTTP,HTTPS"


def test_bind_puts_the_pem_certificate_and_key_and_keeps_routes_and_protocol(
    fc: Fc2TestServer, deployer: FcDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    fc.add_domain(DOMAIN, routes=ROUTES, certificate=("legacy-www", legacy.cert_pem, legacy.key_pem))

    deployer.bind(_resource(), _deployable(renewed))

    served = fc.domain(DOMAIN)
    assert served["certConfig"] == {"certName": "www-2026", "certificate": renewed.chain_pem}
    assert fc.private_key(DOMAIN) == renewed.key_pem
    assert served["protocol"] == "HTTP,HTTPS"
    assert served["routeConfig"] == {"routes": ROUTES}
    (update,) = fc.calls_of(UPDATE_CUSTOM_DOMAIN)
    assert update.body == {
        "protocol": "HTTP,HTTPS",
        "routeConfig": {"routes": ROUTES},
        "certConfig": {"certName": "www-2026", "certificate": renewed.chain_pem, "privateKey": REDACTED},
    }
    assert update.headers["x-fc-security-token"] == "sts-token-of-the-function-role"
    assert deployer.current_binding(_resource()).cert_name == "www-2026"


def test_binding_what_is_already_served_makes_no_write(
    fc: Fc2TestServer, deployer: FcDeployer, renewed: GeneratedCert
) -> None:
    fc.add_domain(DOMAIN, routes=ROUTES, certificate=("legacy-www", renewed.cert_pem, renewed.key_pem))

    deployer.bind(_resource(), _deployable(renewed))
    deployer.bind(_resource(), _deployable(renewed))

    assert fc.calls_of(UPDATE_CUSTOM_DOMAIN) == []
    assert len(fc.calls_of(GET_CUSTOM_DOMAIN)) == 2


def test_an_http_only_domain_gets_https_and_restore_puts_http_only_back(
    fc: Fc2TestServer, deployer: FcDeployer, renewed: GeneratedCert
) -> None:
    fc.add_domain(DOMAIN, protocol="HTTP", routes=ROUTES)
    before = deployer.current_binding(_resource())
    assert before.is_empty

    deployer.bind(_resource(), _deployable(renewed))
    assert fc.domain(DOMAIN)["protocol"] == "HTTP,HTTPS"

    deployer.restore(_resource(), before)

    assert fc.domain(DOMAIN)["protocol"] == "HTTP"
    assert fc.domain(DOMAIN)["routeConfig"] == {"routes": ROUTES}
    assert deployer.current_binding(_resource()).is_empty
    deployer.restore(_resource(), before)
    assert len(fc.calls_of(UPDATE_CUSTOM_DOMAIN)) == 2


def test_restore_of_a_binding_still_served_makes_no_write(
    fc: Fc2TestServer, deployer: FcDeployer, legacy: GeneratedCert
) -> None:
    fc.add_domain(DOMAIN, routes=ROUTES, certificate=("legacy-www", legacy.cert_pem, legacy.key_pem))
    before = deployer.current_binding(_resource())

    deployer.restore(_resource(), before)

    assert fc.calls_of(UPDATE_CUSTOM_DOMAIN) == []


def test_restore_of_an_external_certificate_fails_because_fc_never_returns_its_key(
    fc: Fc2TestServer, deployer: FcDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    fc.add_domain(DOMAIN, routes=ROUTES, certificate=("legacy-www", legacy.cert_pem, legacy.key_pem))
    before = deployer.current_binding(_resource())
    deployer.bind(_resource(), _deployable(renewed))

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.restore(_resource(), before)

    assert failure.value.code == "PreviousCertificateUnavailable"
    assert "legacy-www" in failure.value.message
    assert fc.domain(DOMAIN)["certConfig"]["certName"] == "www-2026"


def test_a_previous_certificate_of_ours_is_put_back_by_binding_it_again(
    fc: Fc2TestServer, deployer: FcDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    fc.add_domain(DOMAIN, routes=ROUTES, certificate=("legacy-www", legacy.cert_pem, legacy.key_pem))
    deployer.bind(_resource(), _deployable(legacy, name="www-2025", cert_id=40))
    deployer.bind(_resource(), _deployable(renewed))

    deployer.bind(_resource(), _deployable(legacy, name="www-2025", cert_id=40))

    assert fc.domain(DOMAIN)["certConfig"] == {"certName": "www-2025", "certificate": legacy.chain_pem}
    assert fc.private_key(DOMAIN) == legacy.key_pem


@pytest.mark.parametrize(
    ("operation", "status", "code"),
    [
        (UPDATE_CUSTOM_DOMAIN, 429, "ResourceExhausted"),
        (GET_CUSTOM_DOMAIN, 503, "ResourceThrottled"),
        (UPDATE_CUSTOM_DOMAIN, 409, "ConcurrentUpdateError"),
    ],
)
def test_throttling_and_busy_answers_are_transient_and_the_retry_succeeds(
    fc: Fc2TestServer,
    deployer: FcDeployer,
    legacy: GeneratedCert,
    renewed: GeneratedCert,
    operation: str,
    status: int,
    code: str,
) -> None:
    fc.add_domain(DOMAIN, routes=ROUTES, certificate=("legacy-www", legacy.cert_pem, legacy.key_pem))
    fc.fail_next(operation, status=status, code=code, message="try again later")

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _deployable(renewed))

    assert failure.value.code == code
    assert "try again later" in failure.value.message
    assert fc.domain(DOMAIN)["certConfig"]["certName"] == "legacy-www"
    deployer.bind(_resource(), _deployable(renewed))
    assert fc.domain(DOMAIN)["certConfig"]["certName"] == "www-2026"


def test_a_missing_domain_is_permanent_with_fcs_code_and_message(
    deployer: FcDeployer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG), pytest.raises(PermanentDeployFailure) as failure:
        deployer.current_binding(_resource("gone.example.com"))

    assert failure.value.code == "DomainNameNotFound"
    assert "domain name 'gone.example.com' does not exist" in failure.value.message
    # fc2 logs the failure; the STS token and the signature in its request headers are withheld.
    assert "DomainNameNotFound" in caplog.text
    assert "sts-token-of-the-function-role" not in caplog.text
    assert "FC LTAI" not in caplog.text


def test_a_refused_certificate_is_permanent_and_the_message_holds_no_key(
    fc: Fc2TestServer, deployer: FcDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    fc.add_domain(DOMAIN, routes=ROUTES, certificate=("legacy-www", legacy.cert_pem, legacy.key_pem))

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), mismatched_certificate(renewed, key_of=legacy))

    assert_refused_without_the_key(failure.value, code="InvalidArgument")


def test_requests_are_signed_the_fc_way(cloud: FcCloud, fc: Fc2TestServer, legacy: GeneratedCert) -> None:
    fc.add_domain(DOMAIN, routes=ROUTES, certificate=("legacy-www", legacy.cert_pem, legacy.key_pem))
    wrong_secret = CloudCredentials(
        access_key_id=fc.access_key_id,
        access_key_secret=SecretStr("not-the-secret"),
        security_token=SecretStr("sts-token-of-the-function-role"),
    )
    target = ApiTarget(endpoint=cloud.api.endpoint, protocol="http")

    with pytest.raises(PermanentDeployFailure) as fc3_failure:
        FcDeployer(wrong_secret, target).current_binding(_resource())
    with pytest.raises(PermanentDeployFailure) as fc2_failure:
        Fc2CustomDomains(wrong_secret, target, account_id=None).get_domain(_resource())

    assert fc3_failure.value.code == "SignatureDoesNotMatch"
    assert fc2_failure.value.code == "SignatureNotMatch"
    assert (cloud.api.calls, fc.calls) == ([], [])


def test_without_an_endpoint_the_fc2_api_needs_the_account_id() -> None:
    credentials = CloudCredentials(access_key_id="ak", access_key_secret=SecretStr("secret"))

    with pytest.raises(PermanentDeployFailure) as failure:
        Fc2CustomDomains(credentials, ApiTarget(), account_id=None).get_domain(_resource())

    assert failure.value.code == "MissingAccountId"
