"""Certificate parsing, key checking and expiry, as a user uploading a certificate and key meets them."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from certdeploy.domain.certificates import check_key_matches, ensure_not_expired, parse_certificate
from certdeploy.domain.errors import CertificateExpired, InvalidKey, InvalidPem, KeyMismatch
from certdeploy.domain.models import CertAlgorithm, CertificateInfo
from tests.certgen import GeneratedCert, make_ca, make_cert

SM2_DIR = Path(__file__).parent.parent / "fixtures" / "sm2"
UTC = timezone.utc


def sm2_fixture(name: str) -> str:
    return (SM2_DIR / name).read_text()


@pytest.fixture(scope="module")
def rsa_site() -> GeneratedCert:
    return make_cert(["www.example.com", "example.com"], common_name="www.example.com", key="rsa")


@pytest.fixture(scope="module")
def ec_site() -> GeneratedCert:
    return make_cert(["api.example.com"], common_name="api.example.com", key="ec")


def traditional_pem(site: GeneratedCert, encryption: serialization.KeySerializationEncryption | None = None) -> str:
    """The key as `BEGIN RSA PRIVATE KEY` / `BEGIN EC PRIVATE KEY`, optionally password-protected."""
    return site.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        encryption or serialization.NoEncryption(),
    ).decode("ascii")


# --- parsing ---------------------------------------------------------------------------------------------------------


def test_rsa_certificate_issued_by_a_ca_is_described_completely() -> None:
    # GIVEN an RSA certificate issued by a CA, with a known serial and validity
    ca = make_ca("Example Issuing CA")
    not_before = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    not_after = datetime(2099, 3, 1, 12, 0, 0, tzinfo=UTC)
    site = make_cert(
        ["www.example.com", "example.com"],
        common_name="www.example.com",
        key="rsa",
        issuer=ca,
        serial=0x1A2B3C,
        not_before=not_before,
        not_after=not_after,
    )

    # WHEN it is parsed
    info = parse_certificate(site.cert_pem)

    # THEN every fact is read from it
    assert info.common_name == "www.example.com"
    assert info.sans == ("www.example.com", "example.com")
    assert info.names == ("www.example.com", "example.com")
    assert info.not_before == not_before
    assert info.not_after == not_after
    assert info.not_after.utcoffset() == timedelta(0)
    assert info.serial == "1a2b3c"
    assert (
        info.fingerprint_sha256 == hashlib.sha256(site.certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    )
    assert info.issuer == "CN=Example Issuing CA"
    assert info.issuer_common_name == "Example Issuing CA"
    assert info.algorithm is CertAlgorithm.RSA
    assert info.chain_length == 1


def test_ecdsa_certificate_is_ecc(ec_site: GeneratedCert) -> None:
    info = parse_certificate(ec_site.cert_pem)

    assert info.algorithm is CertAlgorithm.ECC
    assert info.names == ("api.example.com",)
    assert info.issuer == "CN=api.example.com"


def test_serial_is_whole_bytes_of_lower_case_hex_like_openssl_prints_it() -> None:
    site = make_cert(serial=0xABC)

    assert parse_certificate(site.cert_pem).serial == "0abc"


def test_chain_is_read_leaf_first() -> None:
    # GIVEN a leaf, its intermediate and the root, in that order
    root = make_ca("Example Root")
    intermediate = make_ca("Example Intermediate", issuer=root)
    site = make_cert(["shop.example.com"], common_name="shop.example.com", issuer=intermediate)

    # WHEN the chain is parsed
    info = parse_certificate(site.chain_pem)

    # THEN the facts are the leaf's and the whole chain is counted
    assert info.common_name == "shop.example.com"
    assert info.issuer_common_name == "Example Intermediate"
    assert info.fingerprint_sha256 == parse_certificate(site.cert_pem).fingerprint_sha256
    assert info.chain_length == 3


def test_chain_with_the_issuer_first_is_refused() -> None:
    root = make_ca("Example Root")
    site = make_cert(["shop.example.com"], issuer=root)

    with pytest.raises(InvalidPem, match="server certificate first"):
        parse_certificate(root.cert_pem + site.cert_pem)


def test_crlf_and_surrounding_whitespace_are_ignored(ec_site: GeneratedCert) -> None:
    pasted = "\r\n  \r\n" + "\r\n".join("  " + line for line in ec_site.chain_pem.splitlines()) + "\r\n\r\n  "

    assert parse_certificate(pasted) == parse_certificate(ec_site.cert_pem)


def test_text_around_the_pem_blocks_is_ignored(ec_site: GeneratedCert) -> None:
    # `openssl pkcs12` and CA bundles print "subject=..." lines above each block.
    annotated = "subject=CN = api.example.com\nissuer=CN = api.example.com\n" + ec_site.cert_pem

    assert parse_certificate(annotated).names == ("api.example.com",)


def test_cn_that_is_not_a_host_name_is_not_among_the_names() -> None:
    site = make_cert(["www.example.com"], common_name="Example Ltd. Web Server")

    info = parse_certificate(site.cert_pem)

    assert info.common_name == "Example Ltd. Web Server"
    assert info.names == ("www.example.com",)


def test_the_most_specific_of_several_cns_is_the_common_name() -> None:
    # GIVEN a subject with two CNs, the broader first as DER order puts it
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "example.com"),
            x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com"),
        ]
    )

    # WHEN / THEN the last, most specific one is taken (RFC 2818 §3.1)
    assert parse_certificate(make_cert([], subject=subject).cert_pem).common_name == "www.example.com"


def test_host_name_cn_without_sans_is_the_only_name() -> None:
    site = make_cert([], common_name="Legacy.Example.com")

    info = parse_certificate(site.cert_pem)

    assert info.sans == ()
    assert info.names == ("legacy.example.com",)


def test_names_are_normalised_and_deduplicated_in_certificate_order() -> None:
    # GIVEN upper-case, punycode, trailing-dot and duplicate SANs, and a Unicode (IDN) CN
    site = make_cert(
        ["WWW.Example.COM", "XN--BCHER-KVA.example.com", "api.example.com.", "www.example.com", "*.Example.com"],
        common_name="Bücher.example.com",
    )

    # WHEN parsed
    info = parse_certificate(site.cert_pem)

    # THEN SANs stay as written, names are normalised once each; the IDN CN equals the punycode SAN
    assert info.sans == (
        "WWW.Example.COM",
        "XN--BCHER-KVA.example.com",
        "api.example.com.",
        "www.example.com",
        "*.Example.com",
    )
    assert info.names == ("www.example.com", "xn--bcher-kva.example.com", "api.example.com", "*.example.com")


def test_san_that_cannot_name_a_host_is_kept_in_sans_but_not_in_names() -> None:
    site = make_cert(["*.com", "www.example.com"])

    info = parse_certificate(site.cert_pem)

    assert info.sans == ("*.com", "www.example.com")
    assert info.names == ("www.example.com",)


def test_sm2_certificate_is_detected_and_read() -> None:
    info = parse_certificate(sm2_fixture("sm2.pem"))

    assert info.algorithm is CertAlgorithm.SM2
    assert info.common_name == "sm.example.com"
    assert info.names == ("sm.example.com", "*.sm.example.com")
    # As `openssl x509 -serial -fingerprint -sha256` prints them (tests/fixtures/sm2/README.md).
    assert info.serial == "4e72dbd75836b430692101964e9cbee3e0b1df46"
    assert info.fingerprint_sha256 == "cf2ee6b11196740928e4ec0ebefc46d71da7d384d2e27692aa3020c8b797fac6"
    assert info.not_after == datetime(2126, 11, 4, 0, 49, 5, tzinfo=UTC)


# --- what is not a certificate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (" \r\n\t ", "empty"),
        ("hello, this is not a certificate", "not PEM"),
        ("-----BEGIN CERTIFICATE-----\nMIIB\n", "without its matching"),
        ("-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n", "not valid base64"),
        ("-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n", "not a valid X.509"),
    ],
    ids=["empty", "blank", "garbage", "truncated", "bad-base64", "not-der"],
)
def test_text_that_is_not_a_certificate_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidPem, match=message):
        parse_certificate(text)


def test_private_key_given_as_the_certificate_is_refused(rsa_site: GeneratedCert) -> None:
    with pytest.raises(InvalidPem, match="contains a private key"):
        parse_certificate(rsa_site.key_pem)


def test_certificate_with_its_private_key_pasted_after_it_is_refused(rsa_site: GeneratedCert) -> None:
    with pytest.raises(InvalidPem, match="contains a private key"):
        parse_certificate(rsa_site.cert_pem + rsa_site.key_pem)


def test_public_key_given_as_the_certificate_is_refused(ec_site: GeneratedCert) -> None:
    public_pem = (
        ec_site.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )

    with pytest.raises(InvalidPem, match="PUBLIC KEY block"):
        parse_certificate(public_pem)


def test_certificate_with_an_unsupported_key_algorithm_is_refused() -> None:
    site = make_cert(["www.example.com"], key=ed25519.Ed25519PrivateKey.generate())

    with pytest.raises(InvalidPem, match="neither RSA, ECC nor SM2"):
        parse_certificate(site.cert_pem)


# --- key matching: RSA and ECC ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("site_name", ["rsa_site", "ec_site"])
def test_own_key_matches_as_pkcs8_and_as_traditional_pem(site_name: str, request: pytest.FixtureRequest) -> None:
    site: GeneratedCert = request.getfixturevalue(site_name)

    check_key_matches(site.cert_pem, site.key_pem)
    check_key_matches(site.chain_pem, traditional_pem(site))


def test_traditional_keys_have_their_openssl_labels(rsa_site: GeneratedCert, ec_site: GeneratedCert) -> None:
    # Guards the test above: both legacy formats really are exercised.
    assert traditional_pem(rsa_site).startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert traditional_pem(ec_site).startswith("-----BEGIN EC PRIVATE KEY-----")


def test_key_from_openssl_ecparam_with_its_parameters_block_matches(ec_site: GeneratedCert) -> None:
    # `openssl ecparam -genkey -name prime256v1` writes the curve in a block of its own before the key.
    parameters_block = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"

    check_key_matches(ec_site.cert_pem, parameters_block + traditional_pem(ec_site))


def test_key_of_another_rsa_certificate_does_not_match(rsa_site: GeneratedCert) -> None:
    other = make_cert(["www.example.com"], key="rsa")

    with pytest.raises(KeyMismatch, match="does not belong"):
        check_key_matches(rsa_site.cert_pem, other.key_pem)


def test_key_of_another_ecc_certificate_does_not_match(ec_site: GeneratedCert) -> None:
    other = make_cert(["api.example.com"], key="ec")

    with pytest.raises(KeyMismatch, match="does not belong"):
        check_key_matches(ec_site.cert_pem, other.key_pem)


def test_ecc_key_for_an_rsa_certificate_is_named_as_such(rsa_site: GeneratedCert, ec_site: GeneratedCert) -> None:
    with pytest.raises(KeyMismatch, match="certificate has an RSA key but the private key is an ECC key"):
        check_key_matches(rsa_site.cert_pem, ec_site.key_pem)


@pytest.mark.parametrize("site_name", ["rsa_site", "ec_site"])
def test_password_protected_keys_are_refused(site_name: str, request: pytest.FixtureRequest) -> None:
    site: GeneratedCert = request.getfixturevalue(site_name)
    encryption = serialization.BestAvailableEncryption(b"secret")
    pkcs8_encrypted = site.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode("ascii")
    legacy_encrypted = traditional_pem(site, encryption)
    assert "Proc-Type: 4,ENCRYPTED" in legacy_encrypted

    for key_pem in (pkcs8_encrypted, legacy_encrypted):
        with pytest.raises(InvalidKey, match="protected by a password"):
            check_key_matches(site.cert_pem, key_pem)


@pytest.mark.parametrize(
    ("key_pem", "message"),
    [
        ("", "empty"),
        ("not a key at all", "not PEM"),
        ("-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n", "cannot be read"),
        ("-----BEGIN RSA PRIVATE KEY-----\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n", "cannot be read"),
        ("-----BEGIN DSA PRIVATE KEY-----\naGVsbG8=\n-----END DSA PRIVATE KEY-----\n", "not a supported"),
    ],
    ids=["empty", "garbage", "bad-pkcs8", "bad-pkcs1", "dsa-label"],
)
def test_text_that_is_not_a_usable_key_is_refused(rsa_site: GeneratedCert, key_pem: str, message: str) -> None:
    with pytest.raises(InvalidKey, match=message):
        check_key_matches(rsa_site.cert_pem, key_pem)


def test_certificate_given_as_the_key_is_refused(rsa_site: GeneratedCert) -> None:
    with pytest.raises(InvalidKey, match="holds a certificate"):
        check_key_matches(rsa_site.cert_pem, rsa_site.cert_pem)


def test_two_keys_in_the_key_text_are_refused(rsa_site: GeneratedCert, ec_site: GeneratedCert) -> None:
    with pytest.raises(InvalidKey, match="holds 2 keys"):
        check_key_matches(rsa_site.cert_pem, rsa_site.key_pem + ec_site.key_pem)


def test_ed25519_key_is_refused(rsa_site: GeneratedCert) -> None:
    key_pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode("ascii")
    )

    with pytest.raises(InvalidKey, match="neither RSA, ECC nor SM2"):
        check_key_matches(rsa_site.cert_pem, key_pem)


def test_key_check_refuses_a_bad_certificate(rsa_site: GeneratedCert) -> None:
    with pytest.raises(InvalidPem):
        check_key_matches("garbage", rsa_site.key_pem)


# --- key matching: SM2 -----------------------------------------------------------------------------------------------


def sm2_sec1_as_ec_label() -> str:
    """The SEC1 key under the generic label other SM2 tools write."""
    return sm2_fixture("sm2-sec1.key").replace("SM2 PRIVATE KEY", "EC PRIVATE KEY")


@pytest.mark.parametrize(
    "key_pem",
    [
        sm2_fixture("sm2.key"),
        sm2_fixture("sm2-nopub.key"),
        sm2_fixture("sm2-sec1.key"),
        sm2_fixture("sm2-sec1-nopub.key"),
        sm2_fixture("sm2-sec1-compressed.key"),
        sm2_sec1_as_ec_label(),
    ],
    ids=["pkcs8", "pkcs8-without-public-key", "sec1", "sec1-without-public-key", "sec1-compressed", "sec1-ec-label"],
)
def test_sm2_key_matches_its_certificate(key_pem: str) -> None:
    check_key_matches(sm2_fixture("sm2.pem"), key_pem)


def test_sm2_fixture_keys_with_and_without_public_key_really_differ() -> None:
    # Guards the test above: the "without" files make the check compute d·G on the SM2 curve.
    assert sm2_key_info("sm2.key")["private_key"].parsed["public_key"].native is not None
    assert sm2_key_info("sm2-nopub.key")["private_key"].parsed["public_key"].native is None


def test_another_sm2_key_does_not_match() -> None:
    with pytest.raises(KeyMismatch, match="does not belong"):
        check_key_matches(sm2_fixture("sm2.pem"), sm2_fixture("other.key"))


def sm2_key_info(name: str) -> asn1_keys.PrivateKeyInfo:
    _, _, der = asn1_pem.unarmor(sm2_fixture(name).encode())
    return asn1_keys.PrivateKeyInfo.load(der)


def sm2_sec1(scalar_of: str, public_key: bytes | None) -> str:
    """An SEC1 SM2 key with the scalar of PKCS#8 fixture `scalar_of` and the given embedded public key (or none)."""
    # No curve parameters (asn1crypto cannot encode the SM2 curve); the SM2 label names the curve.
    fields = {"version": 1, "private_key": sm2_key_info(scalar_of)["private_key"].parsed["private_key"]}
    sec1 = asn1_keys.ECPrivateKey({**fields, "public_key": public_key} if public_key else fields)
    return asn1_pem.armor("SM2 PRIVATE KEY", sec1.dump()).decode("ascii")


def test_another_sm2_key_without_public_key_does_not_match() -> None:
    # GIVEN the other key with no public key, so only its scalar can be compared
    key_pem = sm2_sec1("other.key", public_key=None)

    # WHEN / THEN
    with pytest.raises(KeyMismatch, match="does not belong"):
        check_key_matches(sm2_fixture("sm2.pem"), key_pem)


def test_sm2_key_whose_embedded_public_key_was_replaced_is_refused() -> None:
    # GIVEN the other key carrying a copy of the certificate's public key
    certificate_point = sm2_key_info("sm2.key")["private_key"].parsed["public_key"].native
    key_pem = sm2_sec1("other.key", public_key=certificate_point)

    # WHEN / THEN the key is damaged, not matched on the copied public key
    with pytest.raises(InvalidKey, match="damaged"):
        check_key_matches(sm2_fixture("sm2.pem"), key_pem)


def test_sm2_key_whose_compressed_public_key_has_the_wrong_sign_is_refused() -> None:
    # GIVEN the key's own point compressed with the other parity byte, which names the point -Q, not Q
    uncompressed = sm2_key_info("sm2.key")["private_key"].parsed["public_key"].native
    wrong_parity = (b"\x02" if uncompressed[-1] % 2 else b"\x03") + uncompressed[1:33]

    # WHEN / THEN
    with pytest.raises(InvalidKey, match="damaged"):
        check_key_matches(sm2_fixture("sm2.pem"), sm2_sec1("sm2.key", public_key=wrong_parity))


def test_ecc_key_for_an_sm2_certificate_does_not_match(ec_site: GeneratedCert) -> None:
    with pytest.raises(KeyMismatch, match="SM2 key but the private key is an ECC key"):
        check_key_matches(sm2_fixture("sm2.pem"), ec_site.key_pem)


def test_sm2_key_for_an_rsa_certificate_does_not_match(rsa_site: GeneratedCert) -> None:
    with pytest.raises(KeyMismatch, match="private key is an SM2 key"):
        check_key_matches(rsa_site.cert_pem, sm2_fixture("sm2.key"))


def test_password_protected_sm2_key_is_refused() -> None:
    with pytest.raises(InvalidKey, match="protected by a password"):
        check_key_matches(sm2_fixture("sm2.pem"), sm2_fixture("sm2-encrypted.key"))


# --- expiry ----------------------------------------------------------------------------------------------------------


NOT_AFTER = datetime(2030, 6, 30, 23, 59, 59, tzinfo=UTC)


@pytest.fixture(scope="module")
def expiring_info() -> CertificateInfo:
    return parse_certificate(make_cert(["www.example.com"], not_after=NOT_AFTER).cert_pem)


def test_certificate_is_accepted_exactly_at_not_after(expiring_info: CertificateInfo) -> None:
    ensure_not_expired(expiring_info, NOT_AFTER)


def test_certificate_is_expired_one_second_after_not_after(expiring_info: CertificateInfo) -> None:
    with pytest.raises(CertificateExpired, match="expired on 2030-06-30 23:59:59 UTC") as raised:
        ensure_not_expired(expiring_info, NOT_AFTER + timedelta(seconds=1))

    assert raised.value.code == "CertificateExpired"


def test_now_in_another_time_zone_is_compared_as_the_same_instant(expiring_info: CertificateInfo) -> None:
    beijing = timezone(timedelta(hours=8))

    ensure_not_expired(expiring_info, NOT_AFTER.astimezone(beijing))
    with pytest.raises(CertificateExpired):
        ensure_not_expired(expiring_info, (NOT_AFTER + timedelta(seconds=1)).astimezone(beijing))
