"""Issue 10 items 1 and 2: seconds to refuse hostile uploads — repeated `-----BEGIN` lines in the certificate, and a
16,384-bit RSA key or certificate — and to accept the largest uploads the limits allow (README "Limits").

The 16,384-bit key is not generated (that takes minutes): it carries an arbitrary modulus (tests/hostile_inputs.py)
and is refused for its size before any check could find it invalid.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from tests.certgen import make_cert
from tests.hostile_inputs import huge_modulus, huge_rsa_key_pem, repeated_begin_lines, rsa_certificate_with_modulus

from certdeploy.domain.certificates import check_key_matches, parse_certificate
from certdeploy.domain.errors import CertificateError

BEGIN_LINE_SIZES = (144_000, 288_000)
NAMES = 10_000


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    with contextlib.suppress(CertificateError):
        call()
    return time.perf_counter() - started


def run() -> dict[str, object]:
    site = make_cert(["www.example.com"], common_name="www.example.com", key="rsa")
    huge_key = huge_rsa_key_pem(huge_modulus(16_384))
    huge_cert = rsa_certificate_with_modulus(huge_modulus(16_384))
    many_names = make_cert([f"host{index}.example.com" for index in range(NAMES)]).cert_pem
    results: dict[str, object] = {
        f"refuse_begin_lines_{size // 1000}kb_s": _seconds(
            lambda size=size: parse_certificate(repeated_begin_lines(size))
        )
        for size in BEGIN_LINE_SIZES
    }
    results["refuse_rsa_16384_key_s"] = _seconds(lambda: check_key_matches(site.cert_pem, huge_key))
    results["refuse_rsa_16384_cert_s"] = _seconds(lambda: parse_certificate(huge_cert))
    results[f"accept_{NAMES}_names_s"] = _seconds(lambda: parse_certificate(many_names))
    return results
