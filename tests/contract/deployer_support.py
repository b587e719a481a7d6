"""Builders and checks the deployer contract tests share."""

from __future__ import annotations

from pydantic import SecretStr

from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.certgen import GeneratedCert

# The CAS-bound deployers (ALB, GA, NLB, MSE) send only a certificate's CAS identifier, never its PEM.
_PLACEHOLDER_CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
_PLACEHOLDER_KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


def resource(
    product: Product,
    instance_id: str,
    domain: str,
    *,
    region: str = "cn-hangzhou",
    port: int | None = None,
    listener_id: str | None = None,
) -> Resource:
    """Resource 1 of account 1."""
    return Resource(
        id=1,
        account_id=1,
        product=product,
        region=region,
        instance_id=instance_id,
        domain=domain,
        port=port,
        listener_id=listener_id,
    )


def cas_certificate(cas_cert_id: int | None, *, name: str, algorithm: CertAlgorithm) -> DeployableCertificate:
    """Certificate 7, known to CAS as `cas_cert_id` (None: not in CAS), with placeholder PEM text."""
    return DeployableCertificate(
        cert_id=7,
        name=name,
        algorithm=algorithm,
        cert_pem=_PLACEHOLDER_CERT_PEM,
        key_pem=SecretStr(_PLACEHOLDER_KEY_PEM),
        cas_cert_id=cas_cert_id,
    )


def pem_certificate(
    cert: GeneratedCert, *, cert_id: int, name: str, algorithm: CertAlgorithm, cas_cert_id: int | None = None
) -> DeployableCertificate:
    """`cert` with its chain and its private key, as certificate `cert_id` (in CAS as `cas_cert_id` when given)."""
    return DeployableCertificate(
        cert_id=cert_id,
        name=name,
        algorithm=algorithm,
        cert_pem=cert.chain_pem,
        key_pem=SecretStr(cert.key_pem),
        cas_cert_id=cas_cert_id,
    )


def mismatched_certificate(certificate: GeneratedCert, key_of: GeneratedCert) -> DeployableCertificate:
    """`certificate` with the private key of another certificate: every product refuses to serve it."""
    return DeployableCertificate(
        cert_id=42,
        name="mismatched",
        algorithm=CertAlgorithm.ECC,
        cert_pem=certificate.cert_pem,
        key_pem=SecretStr(key_of.key_pem),
    )


def assert_refused_without_the_key(failure: PermanentDeployFailure, *, code: str) -> None:
    """The product's refusal of a mismatched key pair is reported with its code, and neither the message nor a
    chained exception carries the private key."""
    assert failure.code == code
    assert "does not match" in failure.message
    assert "PRIVATE KEY" not in str(failure)
    assert failure.__cause__ is None and failure.__suppress_context__
