"""Issue 10 item 2: only the key sizes the products take are accepted (README "Limits"), and a key is compared with
the certificate before any expensive check, so a huge key is refused for its size, not after seconds of work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certdeploy.domain.certificates import check_key_matches, parse_certificate
from certdeploy.domain.errors import InvalidKey, InvalidPem, KeyMismatch
from certdeploy.domain.models import CertAlgorithm
from tests.certgen import GeneratedCert, key_to_pem, make_cert
from tests.hostile_inputs import huge_modulus, huge_rsa_key_pem, rsa_certificate_with_modulus


@pytest.fixture(scope="module")
def rsa_site() -> GeneratedCert:
    return make_cert(["www.example.com"], common_name="www.example.com", key="rsa")


@pytest.fixture(scope="module")
def ec_site() -> GeneratedCert:
    return make_cert(["www.example.com"], common_name="www.example.com", key="ec")


@pytest.fixture
def no_key_loading(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if a private key reaches `cryptography`'s loader (where a huge RSA key costs seconds)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the private key was loaded")

    monkeypatch.setattr(serialization, "load_der_private_key", refuse)
    yield


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_rsa_certificates_of_2048_to_4096_bits_are_read(bits: int) -> None:
    assert parse_certificate(rsa_certificate_with_modulus(huge_modulus(bits))).algorithm is CertAlgorithm.RSA


@pytest.mark.parametrize("bits", [1024, 2047, 4097, 16384])
def test_rsa_certificates_of_other_sizes_are_refused(bits: int) -> None:
    with pytest.raises(InvalidPem, match=f"{bits}-bit RSA key; RSA keys of 2048 to 4096 bits"):
        parse_certificate(rsa_certificate_with_modulus(huge_modulus(bits)))


def test_ecc_certificates_on_p256_and_p384_are_read() -> None:
    for curve in (ec.SECP256R1(), ec.SECP384R1()):
        site = make_cert(["www.example.com"], key=ec.generate_private_key(curve))
        assert parse_certificate(site.cert_pem).algorithm is CertAlgorithm.ECC


def test_an_ecc_certificate_on_another_curve_is_refused() -> None:
    site = make_cert(["www.example.com"], key=ec.generate_private_key(ec.SECP521R1()))

    with pytest.raises(InvalidPem, match="secp521r1; ECC keys on P-256 or P-384"):
        parse_certificate(site.cert_pem)


@pytest.mark.usefixtures("no_key_loading")
def test_a_16384_bit_rsa_key_is_refused_for_its_size_before_it_is_loaded(rsa_site: GeneratedCert) -> None:
    # Not a valid key at all: it is refused for its size before anything could find that out.
    with pytest.raises(InvalidKey, match="16384-bit RSA key; RSA keys of 2048 to 4096 bits"):
        check_key_matches(rsa_site.cert_pem, huge_rsa_key_pem(huge_modulus(16384)))


@pytest.mark.usefixtures("no_key_loading")
def test_an_rsa_key_of_another_certificate_is_a_mismatch_before_it_is_loaded(rsa_site: GeneratedCert) -> None:
    with pytest.raises(KeyMismatch, match="does not belong"):
        check_key_matches(rsa_site.cert_pem, huge_rsa_key_pem(huge_modulus(4096)))


@pytest.mark.usefixtures("no_key_loading")
def test_an_ecc_key_on_another_curve_is_refused_before_it_is_loaded(ec_site: GeneratedCert) -> None:
    with pytest.raises(InvalidKey, match="secp521r1; ECC keys on P-256 or P-384"):
        check_key_matches(ec_site.cert_pem, key_to_pem(ec.generate_private_key(ec.SECP521R1())))


@pytest.mark.usefixtures("no_key_loading")
def test_a_p384_key_for_a_p256_certificate_is_a_mismatch_before_it_is_loaded(ec_site: GeneratedCert) -> None:
    with pytest.raises(KeyMismatch, match="does not belong"):
        check_key_matches(ec_site.cert_pem, key_to_pem(ec.generate_private_key(ec.SECP384R1())))


@pytest.mark.usefixtures("no_key_loading")
def test_an_ecc_key_for_an_rsa_certificate_is_a_mismatch_before_it_is_loaded(
    rsa_site: GeneratedCert, ec_site: GeneratedCert
) -> None:
    with pytest.raises(KeyMismatch, match="RSA key but the private key is an ECC key"):
        check_key_matches(rsa_site.cert_pem, ec_site.key_pem)


def test_a_key_with_the_certificates_modulus_is_still_checked_in_full() -> None:
    modulus = huge_modulus(2048)

    with pytest.raises(InvalidKey, match="cannot be read"):
        check_key_matches(rsa_certificate_with_modulus(modulus), huge_rsa_key_pem(modulus))


def test_a_traditional_rsa_key_of_another_size_is_refused(rsa_site: GeneratedCert) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    traditional = small.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode("ascii")

    with pytest.raises(InvalidKey, match="1024-bit RSA key"):
        check_key_matches(rsa_site.cert_pem, traditional)
