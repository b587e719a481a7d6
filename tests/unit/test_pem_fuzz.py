"""Hypothesis fuzz of the PEM reader (issue 10 item 1): any text is read or refused with a certificate error, never
anything else; well-formed blocks among other text are read back exactly."""

from __future__ import annotations

import base64
import contextlib

from hypothesis import given
from hypothesis import strategies as st

from certdeploy.domain.certificates import check_key_matches, parse_certificate
from certdeploy.domain.errors import CertificateError, InvalidPem
from certdeploy.domain.pem import MAX_PEM_BLOCKS, PemBlock, pem_blocks
from tests.certgen import make_cert

SITE = make_cert(["www.example.com"], common_name="www.example.com")

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
