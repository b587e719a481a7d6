"""Make RSA and ECDSA certificates and keys for tests, self-signed or issued by a test CA.

    root = make_ca("Test Root CA")
    site = make_cert(["www.example.com"], common_name="www.example.com", issuer=root, key="rsa")
    site.cert_pem, site.key_pem, site.chain_pem

Validity defaults to 2020-01-01 .. 2120-01-01 (UTC), so a default certificate is valid whenever the tests run.
SM2 cannot be generated with `cryptography`; committed SM2 fixtures are in tests/fixtures/sm2/.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

KeyKind = Literal["rsa", "ec"]

DEFAULT_NOT_BEFORE = datetime(2020, 1, 1, tzinfo=timezone.utc)
DEFAULT_NOT_AFTER = datetime(2120, 1, 1, tzinfo=timezone.utc)
RSA_KEY_BITS = 2048


@dataclass(frozen=True)
class GeneratedCert:
    """A certificate with its private key. `chain_pem` is the certificate, then each issuer up to the root."""

    certificate: x509.Certificate
    private_key: CertificateIssuerPrivateKeyTypes
    cert_pem: str
    key_pem: str
    chain_pem: str


def make_key(kind: KeyKind) -> CertificateIssuerPrivateKeyTypes:
    """A new RSA-2048 or ECDSA P-256 private key."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    return ec.generate_private_key(ec.SECP256R1())


def key_to_pem(private_key: CertificateIssuerPrivateKeyTypes) -> str:
    """Unencrypted PKCS#8 (`-----BEGIN PRIVATE KEY-----`)."""
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def cert_to_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _subject(common_name: str | None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name is not None else [])


def _signature_hash(signing_key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    # Ed25519 and Ed448 sign without a separate hash.
    return hashes.SHA256() if isinstance(signing_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)) else None


def _build(
    subject: x509.Name,
    private_key: CertificateIssuerPrivateKeyTypes,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
    not_before: datetime,
    not_after: datetime,
    issuer: GeneratedCert | None,
    serial: int | None,
) -> GeneratedCert:
    issuer_name = issuer.certificate.subject if issuer is not None else subject
    signing_key = issuer.private_key if issuer is not None else private_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(private_key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    certificate = builder.sign(signing_key, _signature_hash(signing_key))
    cert_pem = cert_to_pem(certificate)
    return GeneratedCert(
        certificate=certificate,
        private_key=private_key,
        cert_pem=cert_pem,
        key_pem=key_to_pem(private_key),
        chain_pem=cert_pem + (issuer.chain_pem if issuer is not None else ""),
    )


def _private_key(key: KeyKind | CertificateIssuerPrivateKeyTypes) -> CertificateIssuerPrivateKeyTypes:
    return make_key(key) if isinstance(key, str) else key


def make_cert(
    names: Sequence[str] = ("www.example.com",),
    *,
    common_name: str | None = None,
    subject: x509.Name | None = None,
    not_before: datetime = DEFAULT_NOT_BEFORE,
    not_after: datetime = DEFAULT_NOT_AFTER,
    key: KeyKind | CertificateIssuerPrivateKeyTypes = "ec",
    issuer: GeneratedCert | None = None,
    serial: int | None = None,
) -> GeneratedCert:
    """A server certificate for `names` (DNS SANs, written as given; none when empty).

    `common_name` None leaves the CN out; `subject` gives the whole subject name instead. `key` is a kind of new key
    or an existing private key (to reuse one, or to make a certificate of another algorithm). `issuer` None makes it
    self-signed.
    """
    if subject is None:
        subject = _subject(common_name)
    extensions: list[tuple[x509.ExtensionType, bool]] = [(x509.BasicConstraints(ca=False, path_length=None), True)]
    if names:
        # RFC 5280 §4.2.1.6: the SAN extension is critical when the subject is empty.
        san = x509.SubjectAlternativeName([x509.DNSName(name) for name in names])
        extensions.append((san, len(subject) == 0))
    return _build(subject, _private_key(key), extensions, not_before, not_after, issuer, serial)


def make_ca(
    common_name: str = "certdeploy Test Root CA",
    *,
    key: KeyKind | CertificateIssuerPrivateKeyTypes = "ec",
    issuer: GeneratedCert | None = None,
    not_before: datetime = DEFAULT_NOT_BEFORE,
    not_after: datetime = DEFAULT_NOT_AFTER,
) -> GeneratedCert:
    """A CA certificate: a self-signed root, or an intermediate when `issuer` is given."""
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        ),
    ]
    return _build(_subject(common_name), _private_key(key), extensions, not_before, not_after, issuer, None)
