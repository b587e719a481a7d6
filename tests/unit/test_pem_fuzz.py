"""Hypothesis fuzz of the PEM reader and the key check (issue 10 items 1 and 2): any text, and any private key
structure, is read or refused with a certificate error, never anything else; well-formed blocks among other text are
read back exactly."""

from __future__ import annotations

import base64
import contextlib
from typing import ClassVar

from asn1crypto import core
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from hypothesis import example, given
from hypothesis import strategies as st

from certdeploy.domain.certificates import check_key_matches, parse_certificate
from certdeploy.domain.errors import CertificateError, InvalidPem
from certdeploy.domain.pem import MAX_PEM_BLOCKS, PemBlock, pem_blocks
from tests.certgen import make_cert

SITE = make_cert(["www.example.com"], common_name="www.example.com")
RSA_SITE = make_cert(["www.example.com"], common_name="www.example.com", key="rsa")

_LABELS = st.sampled_from(["CERTIFICATE", "PRIVATE KEY", "EC PARAMETERS", "RSA PRIVATE KEY", "A", "X 509"])
_ARMOUR_LINES = st.builds(lambda kind, label: f"-----{kind} {label}-----", st.sampled_from(["BEGIN", "END"]), _LABELS)
_LINES = st.one_of(
    _ARMOUR_LINES,
    st.sampled_from([*SITE.cert_pem.splitlines(), *SITE.key_pem.splitlines(), "Proc-Type: 4,ENCRYPTED", "", "-----"]),
    st.text(max_size=30),
)
_JUNK = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30).filter(
    lambda line: not line.strip().startswith(("-----BEGIN ", "-----END "))
)


@given(st.lists(_LINES, max_size=40), st.sampled_from(["\n", "\r\n", "\r"]))
def test_any_text_is_read_or_refused_with_a_certificate_error(lines: list[str], newline: str) -> None:
    text = newline.join(lines)
    try:
        blocks = pem_blocks(text, InvalidPem, "certificate")
    except InvalidPem:
        blocks = []
    assert len(blocks) <= MAX_PEM_BLOCKS
    for check in (lambda: parse_certificate(text), lambda: check_key_matches(SITE.cert_pem, text)):
        with contextlib.suppress(CertificateError):
            check()


def _armoured(label: str, der: bytes, width: int, indent: str) -> list[str]:
    encoded = base64.b64encode(der).decode("ascii")
    body = [indent + encoded[start : start + width] for start in range(0, len(encoded), width)]
    return [f"-----BEGIN {label}-----", *body, f"{indent}-----END {label}-----{indent}"]


@given(
    st.lists(st.tuples(_LABELS, st.binary(max_size=300)), max_size=MAX_PEM_BLOCKS),
    st.lists(_JUNK, min_size=MAX_PEM_BLOCKS + 1, max_size=MAX_PEM_BLOCKS + 1),
    st.integers(min_value=1, max_value=80),
    st.sampled_from(["", " ", "\t"]),
)
def test_well_formed_blocks_among_other_text_are_read_back_exactly(
    blocks: list[tuple[str, bytes]], junk: list[str], width: int, indent: str
) -> None:
    lines = [junk[0]]
    for (label, der), after in zip(blocks, junk[1:], strict=False):
        lines += [*_armoured(label, der, width, indent), after]
    read = pem_blocks("\n".join(lines), InvalidPem, "certificate")

    assert read == [PemBlock(label, (), der) for label, der in blocks]


class _AnyAlgorithm(core.Sequence):
    _fields: ClassVar = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _AnyPrivateKeyInfo(core.Sequence):
    """PKCS#8's outline with any parameters and any bytes as the key: what no library would write."""

    _fields: ClassVar = [("version", core.Integer), ("algorithm", _AnyAlgorithm), ("key", core.OctetString)]


_RSA_OID = "1.2.840.113549.1.1.1"
_EC_OID = "1.2.840.10045.2.1"
_INTEGERS = st.integers(min_value=-(2**64), max_value=2**4100)
_RSA_KEYS = st.builds(
    lambda n, e, other: asn1_keys.RSAPrivateKey(
        {
            "version": 0,
            "modulus": n,
            "public_exponent": e,
            "private_exponent": other,
            "prime1": other,
            "prime2": other,
            "exponent1": other,
            "exponent2": other,
            "coefficient": other,
        }
    ).dump(),
    _INTEGERS,
    _INTEGERS,
    _INTEGERS,
)
_EC_KEYS = st.builds(
    lambda scalar, point: asn1_keys.ECPrivateKey({"version": 1, "private_key": scalar, "public_key": point}).dump(),
    st.integers(min_value=1, max_value=2**400),
    st.none() | st.binary(max_size=100),
)
_KEY_DER = st.one_of(_RSA_KEYS, _EC_KEYS, st.binary(max_size=64))
_CURVES = st.sampled_from([None, "null", "secp256r1", "secp384r1", "secp521r1", "1.2.156.10197.1.301", "1.2.3.4"])


def _pkcs8(algorithm: str, curve: str | None, der: bytes) -> str:
    """A PKCS#8 text; `curve` None leaves the parameters out, "null" writes NULL, anything else names a curve."""
    outline: dict[str, object] = {"algorithm": algorithm}
    if curve is not None:
        outline["parameters"] = (
            core.Null() if curve == "null" else asn1_keys.ECDomainParameters(name="named", value=curve)
        )
    info = _AnyPrivateKeyInfo({"version": 0, "algorithm": outline, "key": der})
    return asn1_pem.armor("PRIVATE KEY", info.dump()).decode("ascii")


@example(_EC_OID, None, b"", True)  # an ECC key without curve parameters once was a 500
@given(st.sampled_from([_RSA_OID, _EC_OID, "1.3.101.112", "1.2.840.10040.4.1"]), _CURVES, _KEY_DER, st.booleans())
def test_any_private_key_structure_is_matched_or_refused_with_a_certificate_error(
    algorithm: str, curve: str | None, der: bytes, as_pkcs8: bool
) -> None:
    label = {_RSA_OID: "RSA PRIVATE KEY", _EC_OID: "EC PRIVATE KEY"}.get(algorithm, "SM2 PRIVATE KEY")
    key_pem = _pkcs8(algorithm, curve, der) if as_pkcs8 else asn1_pem.armor(label, der).decode("ascii")

    with contextlib.suppress(CertificateError):
        check_key_matches(RSA_SITE.cert_pem if algorithm == _RSA_OID else SITE.cert_pem, key_pem)
