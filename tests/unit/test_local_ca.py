"""The local CA issues certificates that the upload path accepts: RSA and ECC with `cryptography`, SM2 with openssl."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509

from certdeploy.adapters.local_ca import CA_NAME, SM2_CA_NAME, LocalCa, LocalCaError
from certdeploy.domain.certificates import check_key_matches, parse_certificate
from certdeploy.domain.errors import InvalidParameter
from certdeploy.domain.models import CertAlgorithm


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


NOW = datetime(2026, 11, 28, 8, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.fixture
def ca(tmp_path: Path) -> LocalCa:
    return LocalCa(tmp_path / "local-ca", clock=FixedClock(NOW))


@pytest.mark.parametrize("algorithm", [CertAlgorithm.RSA, CertAlgorithm.ECC])
def test_issues_a_chain_the_upload_path_accepts(ca: LocalCa, algorithm: CertAlgorithm) -> None:
    issued = ca.issue(["WWW.Example.com", "*.example.com", "www.example.com"], days=30, algorithm=algorithm)

    info = parse_certificate(issued.cert_pem)
    check_key_matches(issued.cert_pem, issued.key_pem)
    assert info.algorithm is algorithm
    assert info.common_name == "www.example.com"
    assert info.sans == ("www.example.com", "*.example.com")
    assert info.issuer_common_name == CA_NAME
    assert info.chain_length == 2
    assert info.not_before == NOW.replace(microsecond=0)
    assert info.not_after - info.not_before == timedelta(days=30)
    leaf, authority = x509.load_pem_x509_certificates(issued.cert_pem.encode())
    leaf.verify_directly_issued_by(authority)


def test_the_ca_is_kept_in_the_data_dir_for_the_owner_only(ca: LocalCa, tmp_path: Path) -> None:
    first = ca.issue(["a.example.com"])
    again = LocalCa(tmp_path / "local-ca").issue(["b.example.com"])

    first_ca = x509.load_pem_x509_certificates(first.cert_pem.encode())[1]
    leaf = x509.load_pem_x509_certificates(again.cert_pem.encode())[0]
    leaf.verify_directly_issued_by(first_ca)
    key_file = tmp_path / "local-ca" / "ca.key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert x509.load_pem_x509_certificate(ca.certificate_path.read_bytes()) == first_ca


def test_sm2_certificates_come_from_openssl_with_an_sm3_signature(ca: LocalCa, tmp_path: Path) -> None:
    issued = ca.issue(["sm.example.com", "*.sm.example.com"], days=90, algorithm=CertAlgorithm.SM2)

    info = parse_certificate(issued.cert_pem)
    check_key_matches(issued.cert_pem, issued.key_pem)
    assert info.algorithm is CertAlgorithm.SM2
    assert info.names == ("sm.example.com", "*.sm.example.com")
    assert info.issuer_common_name == SM2_CA_NAME
    assert info.chain_length == 2
    assert 89 <= (info.not_after - info.not_before).days <= 90
    leaf = x509.load_pem_x509_certificates(issued.cert_pem.encode())[0]
    assert leaf.signature_algorithm_oid.dotted_string == "1.2.156.10197.1.501"  # SM2-with-SM3
    assert stat.S_IMODE((tmp_path / "local-ca" / "sm2-ca.key.pem").stat().st_mode) == 0o600


def test_sm2_without_openssl_says_what_is_missing(tmp_path: Path) -> None:
    ca = LocalCa(tmp_path / "local-ca", openssl="openssl-that-is-not-installed")

    with pytest.raises(LocalCaError, match=r"openssl-that-is-not-installed.*OpenSSL 3"):
        ca.issue(["sm.example.com"], algorithm=CertAlgorithm.SM2)


def test_refuses_bad_requests(ca: LocalCa) -> None:
    with pytest.raises(LocalCaError, match="--days"):
        ca.issue(["a.example.com"], days=0)
    with pytest.raises(InvalidParameter, match="not a valid domain"):
        ca.issue(["not a domain"])
    with pytest.raises(LocalCaError, match="at least one domain"):
        ca.issue([])
