"""Who is calling: verify an RPC request's signature (V3 ACS3-HMAC-SHA256 or legacy V1 HMAC-SHA1), its freshness and
its nonce, and find the account of its AccessKey.

Codes and messages are the gateway's (docs/protocol.md#error-codes, from help.aliyun.com/document_detail/48054.html;
`IncompleteSignature` and `IllegalTimestamp` from the POP client error table,
help.aliyun.com/document_detail/51132.html), all with status 400 so the SDK raises `ClientException`, but for
an unknown AccessKey: `InvalidAccessKeyId.NotFound` is 404, as the gateway answers it.

Decisions where the gateway's behaviour is not published:
- STS credentials (`x-acs-security-token` header or `SecurityToken` query) are refused with `InvalidSecurityToken`: a
  self-hosted server has no STS to check a token against, and accepting the request on the AccessKey signature alone
  would silently ignore what the caller meant to be a bounded, expiring credential.
- Bearer tokens (`SignatureType=BEARERTOKEN`, `x-acs-bearer-token`, `Authorization: Bearer …`) are refused with
  `UnsupportedSignatureType`: there is no token issuer to trust.
- Only ACS3-HMAC-SHA256 and HMAC-SHA1 are verified; ACS3-HMAC-SM3, ACS3-RSA-SHA256 and V4 get `IncompleteSignature`
  naming the algorithm.
- V3 requests must sign `host` and every V3 common header present (`x-acs-action`, `x-acs-version`, `x-acs-date`,
  `x-acs-signature-nonce`, `x-acs-content-sha256`), and `content-type` when there is a body
  ("除Authorization外的所有公共请求头，只要存在必须被加入签名", docs/protocol.md#v3-acs3-hmac-sha256); otherwise
  an unsigned header could change what the request means.
- The time check comes before the AccessKey look-up and the nonce is remembered only after the signature holds, so
  nobody without the secret can use up someone else's nonces.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple, Protocol

from certdeploy.api import signature
from certdeploy.api.errors import BAD_REQUEST, NOT_FOUND, ApiError
from certdeploy.api.rpc import RpcRequest
from certdeploy.ports.clock import Clock

HMAC_SHA1 = "HMAC-SHA1"
# x-acs-date "值为请求发出前15分钟内的时间" (V3 doc, docs/protocol.md#clock-skew-and-nonces); the gateway's
# InvalidTimeStamp.Expired is "request time vs server time > 15 min" either way (docs/protocol.md#error-codes).
MAX_CLOCK_SKEW = timedelta(minutes=15)

_V3_COMMON_HEADERS = (
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
)
# SDK format `%Y-%m-%dT%H:%M:%SZ`; fractions of a second are tolerated for other clients.
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d{1,9})?Z")


class AccessKeySecret(NamedTuple):
    """What an AccessKey ID stands for."""

    account_id: int
    secret: str


class AccessKeyLookup(Protocol):
    def find(self, access_key_id: str) -> AccessKeySecret | None:
        """The account and secret of an active AccessKey, or None when unknown or disabled."""
        ...


class NonceRegistry(Protocol):
    def remember(self, access_key_id: str, nonce: str, expires_at: datetime) -> bool:
        """Record a nonce until `expires_at`; False when this AccessKey used it before and it has not expired."""
        ...


@dataclass(frozen=True)
class Caller:
    """An authenticated caller."""

    account_id: int
    access_key_id: str
    signature_method: str


@dataclass(frozen=True)
class _SignedClaim:
    """What a request says about its signer before anything is checked."""

    access_key_id: str
    timestamp: str
    nonce: str


def authenticate(request: RpcRequest, keys: AccessKeyLookup, nonces: NonceRegistry, clock: Clock) -> Caller:
    """The caller of a correctly signed, fresh, first-seen request; otherwise an `ApiError` (status 400, or 404 for an
    unknown AccessKey)."""
    _refuse_unsupported_credentials(request)
    authorization = request.header("authorization")
    if authorization is not None and authorization.strip().startswith("ACS3-"):
        return _authenticate_acs3(request, authorization, keys, nonces, clock)
    if request.query_value("Signature") is not None:
        return _authenticate_rpc_v1(request, keys, nonces, clock)
    raise _incomplete("the request has neither an ACS3 Authorization header nor a Signature parameter.")


def _refuse_unsupported_credentials(request: RpcRequest) -> None:
    authorization = (request.header("authorization") or "").strip()
    bearer = (
        request.query_value("SignatureType") == "BEARERTOKEN"
        or request.header("x-acs-bearer-token") is not None
        or authorization.lower().startswith("bearer ")
    )
    if bearer:
        raise ApiError(
            BAD_REQUEST,
            "UnsupportedSignatureType",
            "Bearer tokens are not accepted by this server: sign requests with an AccessKey ID and secret.",
        )
    if request.header("x-acs-security-token") is not None or request.query_value("SecurityToken") is not None:
        raise ApiError(
            BAD_REQUEST,
            "InvalidSecurityToken",
            "STS security tokens are not accepted by this self-hosted server: sign requests with an AccessKey ID "
            "and secret issued by it.",
        )


def _authenticate_acs3(
    request: RpcRequest, authorization: str, keys: AccessKeyLookup, nonces: NonceRegistry, clock: Clock
) -> Caller:
    try:
        parsed = signature.parse_acs3_authorization(authorization)
    except signature.MalformedAuthorization as error:
        raise _incomplete(str(error)) from error
    if parsed.algorithm != signature.ACS3_HMAC_SHA256:
        raise _incomplete(f"signature algorithm {parsed.algorithm} is not supported; use {signature.ACS3_HMAC_SHA256}.")
    signed = {name.lower() for name in parsed.signed_headers}
    must_sign = (*_V3_COMMON_HEADERS, "content-type") if request.body else _V3_COMMON_HEADERS
    unsigned = [name for name in must_sign if request.header(name) is not None and name not in signed]
    if unsigned:
        raise _incomplete(f"header {', '.join(unsigned)} must be listed in SignedHeaders.")
    for name in ("host", "x-acs-action", "x-acs-version", "x-acs-content-sha256"):
        if request.header(name) is None:
            raise _incomplete(f"header {name} is missing.")
    claim = _SignedClaim(
        access_key_id=parsed.access_key_id,
        timestamp=_required_claim(request.header("x-acs-date"), "x-acs-date"),
        nonce=_required_nonce(
            signature.canonical_header_value(request.headers.get("x-acs-signature-nonce", ())),
            "x-acs-signature-nonce",
        ),
    )
    signed_at = _check_fresh(claim.timestamp, clock)
    secret = _secret_of(claim.access_key_id, keys)
    payload_sha256 = hashlib.sha256(request.body).hexdigest()
    canonical_request = signature.acs3_canonical_request(
        method=request.method,
        path=request.path,
        query=request.query,
        headers=request.headers,
        signed_headers=parsed.signed_headers,
        payload_sha256=payload_sha256,
    )
    string_to_sign = signature.acs3_string_to_sign(canonical_request)
    expected = signature.acs3_signature(secret.secret, string_to_sign)
    if request.header("x-acs-content-sha256") != payload_sha256 or not signature.signatures_match(
        expected, parsed.signature
    ):
        raise _mismatch(string_to_sign)
    _remember_nonce(claim, signed_at, nonces)
    return Caller(secret.account_id, claim.access_key_id, signature.ACS3_HMAC_SHA256)


def _authenticate_rpc_v1(request: RpcRequest, keys: AccessKeyLookup, nonces: NonceRegistry, clock: Clock) -> Caller:
    parameters = request.all_parameters()
    names = [name for name, _ in parameters]
    repeated = sorted({name for name in names if names.count(name) > 1} & _V1_SIGNATURE_PARAMETERS)
    if repeated:
        raise _incomplete(f"parameter {', '.join(repeated)} is given more than once.")
    method = request.query_value("SignatureMethod")
    if method != HMAC_SHA1 or request.query_value("SignatureVersion") != "1.0":
        raise _incomplete(
            f"SignatureMethod {method} with SignatureVersion "
            f"{request.query_value('SignatureVersion')} is not supported; use HMAC-SHA1 and 1.0."
        )
    access_key_id = request.query_value("AccessKeyId")
    if not access_key_id:
        raise _incomplete("parameter AccessKeyId is missing.")
    # V1 does not sign headers, so the action and version must come from the signed query, not x-acs-action.
    for name in ("Action", "Version"):
        if not request.query_value(name):
            raise _incomplete(f"parameter {name} is missing from the signed query.")
    claim = _SignedClaim(
        access_key_id=access_key_id,
        timestamp=_required_claim(request.query_value("Timestamp"), "Timestamp"),
        nonce=_required_nonce(request.query_value("SignatureNonce"), "SignatureNonce"),
    )
    signed_at = _check_fresh(claim.timestamp, clock)
    secret = _secret_of(claim.access_key_id, keys)
    string_to_sign = signature.rpc_v1_string_to_sign(request.method, parameters)
    expected = signature.rpc_v1_signature(secret.secret, string_to_sign)
    if not signature.signatures_match(expected, request.query_value("Signature") or ""):
        raise _mismatch(string_to_sign)
    _remember_nonce(claim, signed_at, nonces)
    return Caller(secret.account_id, claim.access_key_id, HMAC_SHA1)


_V1_SIGNATURE_PARAMETERS = frozenset(
    {"AccessKeyId", "Signature", "SignatureMethod", "SignatureNonce", "SignatureVersion", "Timestamp"}
)


def _required_claim(value: str | None, name: str) -> str:
    if not value:
        raise ApiError(
            BAD_REQUEST,
            "IllegalTimestamp",
            f"The input parameter {name} that is mandatory for processing this request is not supplied.",
        )
    return value


def _required_nonce(value: str | None, name: str) -> str:
    if not value:
        raise ApiError(BAD_REQUEST, "MissingSignatureNonce", f"{name} is mandatory for this action.")
    return value


def _check_fresh(timestamp: str, clock: Clock) -> datetime:
    """The signing time, when within the allowed skew of our clock in either direction."""
    match = _TIMESTAMP.fullmatch(timestamp)
    signed_at = _parse_utc_seconds(match.group(1)) if match else None
    if signed_at is None:
        raise ApiError(
            BAD_REQUEST,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted (expected yyyy-MM-ddTHH:mm:ssZ in UTC).",
        )
    if abs(clock.now() - signed_at) > MAX_CLOCK_SKEW:
        raise ApiError(
            BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            f"Specified time stamp or date value is expired: {timestamp} is more than 15 minutes from the server time.",
        )
    return signed_at


def _parse_utc_seconds(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _secret_of(access_key_id: str, keys: AccessKeyLookup) -> AccessKeySecret:
    found = keys.find(access_key_id)
    if found is None:
        raise ApiError(NOT_FOUND, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    return found


def _remember_nonce(claim: _SignedClaim, signed_at: datetime, nonces: NonceRegistry) -> None:
    # Past signed_at + skew the timestamp check refuses the request anyway, so the nonce need not be kept longer.
    if not nonces.remember(claim.access_key_id, claim.nonce, signed_at + MAX_CLOCK_SKEW):
        raise ApiError(BAD_REQUEST, "SignatureNonceUsed", "Specified signature nonce was used already.")


def _incomplete(detail: str) -> ApiError:
    return ApiError(
        BAD_REQUEST, "IncompleteSignature", f"The request signature does not conform to Aliyun standards: {detail}"
    )


def _mismatch(string_to_sign: str) -> ApiError:
    """The gateway's text: the legacy SDK splits it at `:` and compares our string to sign with its own (equal means
    a wrong secret), docs/protocol.md#error-codes. The string to sign holds no secret."""
    return ApiError(
        BAD_REQUEST,
        "SignatureDoesNotMatch",
        f"Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}",
    )
