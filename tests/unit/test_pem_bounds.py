"""Issue 10 item 1: PEM text is read in one pass, and what one upload may hold is bounded (README "Limits")."""

from __future__ import annotations

import pytest

from certdeploy.domain.certificates import check_key_matches, parse_certificate
from certdeploy.domain.errors import InvalidKey, InvalidPem
from tests.certgen import GeneratedCert, make_ca, make_cert
from tests.hostile_inputs import repeated_begin_lines

# The limits as the README states them; written out here so that a change of a limit is a change of this test.
MAX_TEXT = 1024 * 1024
MAX_BLOCKS = 10
MAX_NAMES = 10_000


@pytest.fixture(scope="module")
def site() -> GeneratedCert:
    return make_cert(["www.example.com"], common_name="www.example.com")


def chain_of(length: int) -> str:
    """A leaf and `length - 1` CAs, each issued by the next."""
    issuer = make_ca("Root 0")
    for level in range(1, length - 1):
        issuer = make_ca(f"Intermediate {level}", issuer=issuer)
    return make_cert(["www.example.com"], issuer=issuer).chain_pem


def test_repeated_begin_lines_are_refused_at_the_first_one_left_open() -> None:
    with pytest.raises(InvalidPem, match=r"line 2 .*BEGIN A-----.* line 1"):
        parse_certificate(repeated_begin_lines(144_000))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END PRIVATE KEY-----\n", "line 3 .*does not close"),
        ("-----BEGIN certificate-----\nMIIB\n-----END certificate-----\n", "line 1 is not a PEM BEGIN line"),
        ("-----BEGIN CERTIFICATE-----\nMIIB\n", "without its matching"),
    ],
    ids=["end-of-another-block", "lower-case-label", "unclosed"],
)
def test_badly_formed_armour_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidPem, match=message):
        parse_certificate(text)


def test_a_certificate_text_over_one_mebibyte_is_refused_for_its_size() -> None:
    with pytest.raises(InvalidPem, match="at most 1,048,576 characters"):
        parse_certificate("x" * (MAX_TEXT + 1))


def test_a_key_text_over_one_mebibyte_is_refused_for_its_size(site: GeneratedCert) -> None:
    with pytest.raises(InvalidKey, match="at most 1,048,576 characters"):
        check_key_matches(site.cert_pem, site.key_pem + "\n" * MAX_TEXT)


def test_a_chain_of_ten_certificates_is_read_and_one_of_eleven_refused() -> None:
    assert parse_certificate(chain_of(MAX_BLOCKS)).chain_length == MAX_BLOCKS

    with pytest.raises(InvalidPem, match="more than 10 PEM blocks"):
        parse_certificate(chain_of(MAX_BLOCKS + 1))


def test_a_key_text_of_more_than_ten_blocks_is_refused(site: GeneratedCert) -> None:
    parameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"

    with pytest.raises(InvalidKey, match="more than 10 PEM blocks"):
        check_key_matches(site.cert_pem, parameters * MAX_BLOCKS + site.key_pem)


def test_a_certificate_of_ten_thousand_names_is_read_and_one_more_refused() -> None:
    names = [f"host{index}.example.com" for index in range(MAX_NAMES + 1)]

    assert len(parse_certificate(make_cert(names[:MAX_NAMES]).cert_pem).names) == MAX_NAMES
    with pytest.raises(InvalidPem, match="10,001 names; at most 10,000"):
        parse_certificate(make_cert(names).cert_pem)


def test_a_character_outside_base64_and_ascii_is_damage_not_a_crash() -> None:
    with pytest.raises(InvalidPem, match="not valid base64"):
        parse_certificate("-----BEGIN CERTIFICATE-----\n\x80\n-----END CERTIFICATE-----\n")
