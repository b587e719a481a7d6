"""The OSS deployer, driven through the real `oss2` client against an OSS REST/XML test server (V4 signatures)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from certdeploy.adapters.cloud import CloudCredentials
from certdeploy.adapters.cloud.oss import OssDeployer
from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.certgen import GeneratedCert, make_cert
from tests.contract.deployer_support import assert_refused_without_the_key, mismatched_certificate, pem_certificate
from tests.servers.oss_server import LIST_CNAME, PUT_CNAME, REDACTED, OssTestServer, sha1_fingerprint

BUCKET = "static-assets"
DOMAIN = "static.example.com"
REGION = "cn-beijing"


@pytest.fixture(scope="module")
def legacy() -> GeneratedCert:
    return make_cert([DOMAIN], common_name=DOMAIN)


@pytest.fixture(scope="module")
def renewed() -> GeneratedCert:
    return make_cert([DOMAIN], common_name=DOMAIN)


@pytest.fixture
def oss() -> Iterator[OssTestServer]:
    with OssTestServer(security_token="sts-token-of-the-function-role") as server:
        yield server


@pytest.fixture
def deployer(oss: OssTestServer) -> OssDeployer:
    return OssDeployer(oss.credentials(), oss.target())


def _resource(domain: str = DOMAIN, region: str = REGION, bucket: str = BUCKET) -> Resource:
    return Resource(id=1, account_id=7, product=Product.OSS, region=region, instance_id=bucket, domain=domain)


def _deployable(cert: GeneratedCert, cas_cert_id: int | None = None) -> DeployableCertificate:
    return pem_certificate(cert, cert_id=41, name="static-2026", algorithm=CertAlgorithm.ECC, cas_cert_id=cas_cert_id)


def test_reads_the_certificate_a_cname_serves(oss: OssTestServer, deployer: OssDeployer, legacy: GeneratedCert) -> None:
    legacy_id = oss.add_cas_certificate(4931, legacy.cert_pem, legacy.key_pem)
    oss.add_cname(BUCKET, DOMAIN, region=REGION, cert_id=legacy_id)

    binding = deployer.current_binding(_resource())

    assert binding.cas_cert_id == 4931
    assert binding.cert_name == "4931-cn-hangzhou"
    assert binding.domain == DOMAIN
    assert binding.detail("cert_type") == "CAS"
    assert binding.detail("fingerprint") == sha1_fingerprint(legacy.cert_pem)


def test_bind_by_cas_id_sends_the_id_and_no_key(
    oss: OssTestServer, deployer: OssDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    oss.add_cname(BUCKET, DOMAIN, region=REGION, cert_id=oss.add_cas_certificate(4931, legacy.cert_pem, legacy.key_pem))
    oss.add_cas_certificate(5001, renewed.cert_pem, renewed.key_pem)

    deployer.bind(_resource(), _deployable(renewed, cas_cert_id=5001))

    served = oss.served(BUCKET, DOMAIN)
    assert served is not None and served.cert_id == "5001-cn-hangzhou"
    (put,) = oss.calls_of(PUT_CNAME)
    assert "<CertId>5001-cn-hangzhou</CertId>" in put.body
    assert "<Force>True</Force>" in put.body
    assert "PrivateKey" not in put.body
    assert put.headers["x-oss-security-token"] == "sts-token-of-the-function-role"
    assert deployer.current_binding(_resource()).cas_cert_id == 5001


def test_bind_without_cas_id_uploads_the_pem_certificate_and_key(
    oss: OssTestServer, deployer: OssDeployer, renewed: GeneratedCert
) -> None:
    oss.add_cname(BUCKET, DOMAIN, region=REGION)

    deployer.bind(_resource(), _deployable(renewed))

    served = oss.served(BUCKET, DOMAIN)
    assert served is not None
    assert (served.cert_type, served.cert_pem, served.key_pem) == ("Upload", renewed.chain_pem, renewed.key_pem)
    (put,) = oss.calls_of(PUT_CNAME)
    assert f"<PrivateKey>{REDACTED}</PrivateKey>" in put.body
    assert deployer.current_binding(_resource()).detail("fingerprint") == sha1_fingerprint(renewed.cert_pem)


@pytest.mark.parametrize("cas_cert_id", [5001, None], ids=["by-cas-id", "by-pem"])
def test_binding_what_is_already_served_makes_no_write(
    oss: OssTestServer, deployer: OssDeployer, renewed: GeneratedCert, cas_cert_id: int | None
) -> None:
    oss.add_cname(BUCKET, DOMAIN, region=REGION)
    oss.add_cas_certificate(5001, renewed.cert_pem, renewed.key_pem)
    deployer.bind(_resource(), _deployable(renewed, cas_cert_id))

    deployer.bind(_resource(), _deployable(renewed, cas_cert_id))

    assert len(oss.calls_of(PUT_CNAME)) == 1
    assert len(oss.calls_of(LIST_CNAME)) == 2


def test_restore_puts_the_previous_certificate_back_by_its_id(
    oss: OssTestServer, deployer: OssDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    oss.add_cname(BUCKET, DOMAIN, region=REGION, cert_id=oss.add_cas_certificate(4931, legacy.cert_pem, legacy.key_pem))
    before = deployer.current_binding(_resource())
    deployer.bind(_resource(), _deployable(renewed))

    deployer.restore(_resource(), before)

    served = oss.served(BUCKET, DOMAIN)
    assert served is not None and served.cert_id == "4931-cn-hangzhou"
    assert "PrivateKey" not in oss.calls_of(PUT_CNAME)[-1].body
    deployer.restore(_resource(), before)
    assert len(oss.calls_of(PUT_CNAME)) == 2


def test_restore_of_an_uploaded_certificate_uses_the_id_oss_gave_it(
    oss: OssTestServer, deployer: OssDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    oss.add_cname(BUCKET, DOMAIN, region=REGION)
    deployer.bind(_resource(), _deployable(legacy))
    before = deployer.current_binding(_resource())
    deployer.bind(_resource(), _deployable(renewed))

    deployer.restore(_resource(), before)

    served = oss.served(BUCKET, DOMAIN)
    assert served is not None and served.cert_pem == legacy.chain_pem


def test_restore_of_no_certificate_deletes_the_certificate(
    oss: OssTestServer, deployer: OssDeployer, renewed: GeneratedCert
) -> None:
    oss.add_cname(BUCKET, DOMAIN, region=REGION)
    before = deployer.current_binding(_resource())
    assert before.is_empty
    deployer.bind(_resource(), _deployable(renewed))

    deployer.restore(_resource(), before)

    assert oss.served(BUCKET, DOMAIN) is None
    assert "<DeleteCertificate>True</DeleteCertificate>" in oss.calls_of(PUT_CNAME)[-1].body
    assert deployer.current_binding(_resource()).is_empty


@pytest.mark.parametrize(("status", "code"), [(503, "ServiceUnavailable"), (429, "TooManyRequests")])
def test_busy_answers_are_transient_and_the_retry_succeeds(
    oss: OssTestServer, deployer: OssDeployer, renewed: GeneratedCert, status: int, code: str
) -> None:
    oss.add_cname(BUCKET, DOMAIN, region=REGION)
    oss.fail_next(PUT_CNAME, status=status, code=code, message="Please reduce your request rate.")

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _deployable(renewed))

    assert failure.value.code == code
    assert "Please reduce your request rate." in failure.value.message
    assert oss.served(BUCKET, DOMAIN) is None
    deployer.bind(_resource(), _deployable(renewed))
    retried = oss.served(BUCKET, DOMAIN)
    assert retried is not None and (retried.cert_pem, retried.key_pem) == (renewed.chain_pem, renewed.key_pem)


def test_an_unreachable_endpoint_is_transient(oss: OssTestServer, renewed: GeneratedCert) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    deployer = OssDeployer(oss.credentials(), oss.target(endpoint=f"127.0.0.1:{port}"))

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _deployable(renewed))

    assert failure.value.code == "ConnectionError"


def test_a_refused_certificate_is_permanent_and_the_message_holds_no_key(
    oss: OssTestServer, deployer: OssDeployer, legacy: GeneratedCert, renewed: GeneratedCert
) -> None:
    oss.add_cname(BUCKET, DOMAIN, region=REGION)

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), mismatched_certificate(renewed, key_of=legacy))

    assert_refused_without_the_key(failure.value, code="InvalidCertificate")


def test_a_missing_bucket_or_cname_is_permanent(oss: OssTestServer, deployer: OssDeployer) -> None:
    oss.add_cname(BUCKET, DOMAIN, region=REGION)

    with pytest.raises(PermanentDeployFailure) as no_bucket:
        deployer.current_binding(_resource(bucket="no-such-bucket"))
    with pytest.raises(PermanentDeployFailure) as no_cname:
        deployer.current_binding(_resource(domain="other.example.com"))

    assert no_bucket.value.code == "NoSuchBucket"
    assert "does not exist" in no_bucket.value.message
    assert no_cname.value.code == "CnameNotFound"
    assert BUCKET in no_cname.value.message


def test_requests_are_signed_with_v4_for_the_buckets_region(oss: OssTestServer, deployer: OssDeployer) -> None:
    oss.add_cname(BUCKET, DOMAIN, region=REGION)

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.current_binding(_resource(region="cn-shanghai"))

    assert failure.value.code == "SignatureDoesNotMatch"
    wrong_secret = CloudCredentials(
        access_key_id=oss.access_key_id,
        access_key_secret=SecretStr("not-the-secret"),
        security_token=SecretStr("sts-token-of-the-function-role"),
    )
    with pytest.raises(PermanentDeployFailure) as forged:
        OssDeployer(wrong_secret, oss.target()).current_binding(_resource())
    assert forged.value.code == "SignatureDoesNotMatch"
    assert oss.calls == []
    assert deployer.current_binding(_resource()).is_empty
    assert oss.calls_of(LIST_CNAME)[0].headers["authorization"].startswith("OSS4-HMAC-SHA256 Credential=LTAI-oss-test/")
