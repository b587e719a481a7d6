"""Request signatures of the Alibaba Cloud OpenAPI gateway, from the verifier's side. Pure: no I/O, no clock.

ACS3-HMAC-SHA256 (V3, the SDK default) and the legacy RPC HMAC-SHA1 (V1, `signature_algorithm='v2'` in the SDK
config). The procedures are in docs/protocol.md#authentication; tests/unit/test_signature.py reproduces the worked
examples of the Alibaba Cloud signature documentation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

ACS3_HMAC_SHA256 = "ACS3-HMAC-SHA256"
EMPTY_PAYLOAD_SHA256 = hashlib.sha256(b"").hexdigest()

_ACS3_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class MalformedAuthorization(ValueError):
    """The Authorization header is not `<algorithm> Credential=…,SignedHeaders=…,Signature=…`."""


@dataclass(frozen=True)
class Acs3Authorization:
    """The parts of a V3 `Authorization` header."""

    algorithm: str
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_acs3_authorization(value: str) -> Acs3Authorization:
    """Split a V3 Authorization header; any algorithm name is returned as given, the caller decides what it accepts."""
    algorithm, _, credentials = value.strip().partition(" ")
    if not algorithm.startswith("ACS3-") or not credentials:
        raise MalformedAuthorization("Authorization must read '<algorithm> Credential=…,SignedHeaders=…,Signature=…'")
    parts: dict[str, str] = {}
    for item in credentials.split(","):
        name, separator, content = item.strip().partition("=")
        if not separator or name in parts:
            raise MalformedAuthorization(f"Authorization has a malformed or repeated part: {item.strip()!r}")
        parts[name] = content.strip()
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        raise MalformedAuthorization("Authorization needs exactly Credential, SignedHeaders and Signature")
    signed_headers = tuple(parts["SignedHeaders"].split(";"))
    if not parts["Credential"] or any(not name for name in signed_headers):
        raise MalformedAuthorization("Authorization has an empty Credential or SignedHeaders entry")
    signature = parts["Signature"].lower()
    if _ACS3_SIGNATURE.fullmatch(signature) is None:
        raise MalformedAuthorization("Signature must be 64 hexadecimal characters")
    return Acs3Authorization(
        algorithm=algorithm,
        access_key_id=parts["Credential"],
        signed_headers=signed_headers,
        signature=signature,
    )


def percent_encode(text: str) -> str:
    """RFC 3986 over UTF-8: only `A–Z a–z 0–9 - _ . ~` stay; space is `%20`, `*` is `%2A`, hex is upper case."""
    return quote(text, safe="~", encoding="utf-8")


def canonical_query_string(parameters: Iterable[tuple[str, str]]) -> str:
    """Decoded (name, value) pairs sorted by name then value, each side percent-encoded, joined with `&`."""
    return "&".join(f"{percent_encode(name)}={percent_encode(value)}" for name, value in sorted(parameters))


def canonical_headers(signed_headers: Sequence[str], headers: Mapping[str, Sequence[str]]) -> str:
    """`name:value\\n` for each signed header in the given order; several values are trimmed, sorted, comma-joined.

    `headers` maps lower-case names to every value received; a signed header that is absent reads as empty and so
    simply fails verification.
    """
    return "".join(f"{name}:{canonical_header_value(headers.get(name.lower(), ()))}\n" for name in signed_headers)


def canonical_header_value(values: Sequence[str]) -> str:
    """A header's values as they are signed: trimmed, sorted, comma-joined. Header lines that differ only in
    whitespace or in how a value is split over lines sign the same, so this is the value that names a request (the
    nonce, docs/protocol.md#clock-skew-and-nonces)."""
    return ",".join(sorted(value.strip() for value in values))


def acs3_canonical_request(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, Sequence[str]],
    signed_headers: Sequence[str],
    payload_sha256: str,
) -> str:
    return "\n".join(
        [
            method.upper(),
            path or "/",
            canonical_query_string(query),
            canonical_headers(signed_headers, headers),
            ";".join(signed_headers),
            payload_sha256,
        ]
    )


def acs3_string_to_sign(canonical_request: str) -> str:
    return f"{ACS3_HMAC_SHA256}\n{hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()}"


def acs3_signature(secret: str, string_to_sign: str) -> str:
    """Lower-case hex HMAC-SHA256 keyed with the AccessKey secret."""
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def rpc_v1_string_to_sign(method: str, parameters: Iterable[tuple[str, str]]) -> str:
    """`METHOD&%2F&percentEncode(CQS)` over every parameter but `Signature` (query and form body alike)."""
    signed = [(name, value) for name, value in parameters if name != "Signature"]
    return f"{method.upper()}&%2F&{percent_encode(canonical_query_string(signed))}"


def rpc_v1_signature(secret: str, string_to_sign: str) -> str:
    """Base64 HMAC-SHA1 keyed with the AccessKey secret followed by `&`."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signatures_match(expected: str, received: str) -> bool:
    """Constant-time comparison, so timing does not reveal how much of a forged signature was right."""
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8"))
