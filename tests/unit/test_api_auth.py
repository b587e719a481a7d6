"""Authenticating RPC requests signed by the official SDK's own signing functions (`alibabacloud_tea_openapi` 0.4.6),
then altered the ways an attacker or a broken client would."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from alibabacloud_tea_openapi.utils import Utils

from certdeploy.api.auth import AccessKeySecret, Caller, authenticate
from certdeploy.api.errors import ApiError
from certdeploy.api.rpc import RpcRequest
from tests.fakes.auth import InMemoryAccessKeys, InMemoryNonceRegistry

AK = "LTAI-unit"
SECRET = "unit-secret"
ACCOUNT_ID = 42
SIGNED_AT = datetime(2024, 1, 31, 10, 0, 0, tzinfo=timezone.utc)
FORM = "application/x-www-form-urlencoded"


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


class RecordingNonces(InMemoryNonceRegistry):
    def __init__(self, clock: FixedClock) -> None:
        super().__init__(clock)
        self.expiries: list[datetime] = []

    def remember(self, access_key_id: str, nonce: str, expires_at: datetime) -> bool:
        self.expiries.append(expires_at)
        return super().remember(access_key_id, nonce, expires_at)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(SIGNED_AT)


@pytest.fixture
def nonces(clock: FixedClock) -> RecordingNonces:
    return RecordingNonces(clock)


KEYS = InMemoryAccessKeys({AK: AccessKeySecret(ACCOUNT_ID, SECRET), "LTAI-other": AccessKeySecret(7, "other")})


def acs3_headers(
    query: dict[str, str],
    *,
    body: bytes = b"",
    content_type: str | None = None,
    nonce: str = "n-1",
    date: str = "2024-01-31T10:00:00Z",
    secret: str = SECRET,
    access_key_id: str = AK,
    leave_out: tuple[str, ...] = (),
) -> dict[str, str]:
    """Headers as the SDK's `do_request` sends them, signed with the SDK's `get_authorization`."""
    headers = {
        "host": "cas.example.test",
        "x-acs-action": "DescribeDeploymentJob",
        "x-acs-version": "2020-04-07",
        "x-acs-date": date,
        "x-acs-signature-nonce": nonce,
        "accept": "application/json",
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if content_type is not None:
        headers["content-type"] = content_type
    for name in leave_out:
        del headers[name]
    to_sign = SimpleNamespace(pathname="/", method="POST", query=query, headers=headers)
    payload = hashlib.sha256(body).hexdigest()
    return {
        **headers,
        "Authorization": Utils.get_authorization(to_sign, "ACS3-HMAC-SHA256", payload, access_key_id, secret),
    }


def request_of(query: dict[str, str], headers: dict[str, str], body: bytes = b"") -> RpcRequest:
    target = "/?" + urlencode(query) if query else "/"
    return RpcRequest.from_http(method="POST", target=target, headers=list(headers.items()), body=body, source="::1")


def rpc_v1_query(
    business: dict[str, str], *, body: dict[str, str] | None = None, secret: str = SECRET, **protocol: str
) -> dict[str, str]:
    """The query of the SDK's `do_rpcrequest`, with the signature of its `get_rpcsignature` over query and body."""
    query = {
        "Action": "DescribeDeploymentJob",
        "Format": "json",
        "Version": "2020-04-07",
        "Timestamp": "2024-01-31T10:00:00Z",
        "SignatureNonce": "v1-nonce",
        **business,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": AK,
        **protocol,
    }
    return {**query, "Signature": Utils.get_rpcsignature({**query, **(body or {})}, "POST", secret)}


def refusal(request: RpcRequest, clock: FixedClock, nonces: RecordingNonces) -> ApiError:
    with pytest.raises(ApiError) as caught:
        authenticate(request, KEYS, nonces, clock)
    assert caught.value.status == (404 if caught.value.code == "InvalidAccessKeyId.NotFound" else 400)
    return caught.value


def test_acs3_request_signed_by_the_sdk_is_accepted(clock: FixedClock, nonces: RecordingNonces) -> None:
    query = {"JobId": "1", "Name": "a+b c/d=e*f~ü\n"}

    caller = authenticate(request_of(query, acs3_headers(query)), KEYS, nonces, clock)

    assert caller == Caller(ACCOUNT_ID, AK, "ACS3-HMAC-SHA256")


def test_nonce_is_kept_until_the_timestamp_itself_would_be_refused(clock: FixedClock, nonces: RecordingNonces) -> None:
    authenticate(request_of({}, acs3_headers({})), KEYS, nonces, clock)

    assert nonces.expiries == [SIGNED_AT + timedelta(minutes=15)]


def test_acs3_form_body_is_covered_by_the_payload_hash_and_readable(clock: FixedClock, nonces: RecordingNonces) -> None:
    body = b"Name=job+one&CertIds=1%2C2"
    request = request_of({}, acs3_headers({}, body=body, content_type=FORM), body)

    authenticate(request, KEYS, nonces, clock)

    assert request.parameters().text("Name") == "job one"


def test_acs3_body_other_than_the_one_hashed_is_signature_does_not_match(
    clock: FixedClock, nonces: RecordingNonces
) -> None:
    headers = acs3_headers({}, body=b"Name=a", content_type=FORM)

    assert refusal(request_of({}, headers, b"Name=b"), clock, nonces).code == "SignatureDoesNotMatch"


def test_acs3_changed_query_value_is_signature_does_not_match(clock: FixedClock, nonces: RecordingNonces) -> None:
    headers = acs3_headers({"JobId": "1"})

    assert refusal(request_of({"JobId": "2"}, headers), clock, nonces).code == "SignatureDoesNotMatch"


def test_acs3_changed_signed_header_is_signature_does_not_match(clock: FixedClock, nonces: RecordingNonces) -> None:
    headers = {**acs3_headers({}), "x-acs-action": "DeleteDeploymentJob"}

    assert refusal(request_of({}, headers), clock, nonces).code == "SignatureDoesNotMatch"


def test_acs3_added_query_parameter_is_signature_does_not_match(clock: FixedClock, nonces: RecordingNonces) -> None:
    headers = acs3_headers({"JobId": "1"})

    refused = refusal(request_of({"JobId": "1", "Action": "DeleteDeploymentJob"}, headers), clock, nonces)

    assert refused.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("header", ["x-acs-action", "x-acs-version", "host", "x-acs-content-sha256"])
def test_acs3_common_header_sent_but_not_signed_is_incomplete_signature(
    clock: FixedClock, nonces: RecordingNonces, header: str
) -> None:
    signed = acs3_headers({}, leave_out=(header,))
    value = {
        "x-acs-action": "DeleteDeploymentJob",
        "x-acs-version": "2020-04-07",
        "host": "h",
        "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
    }[header]

    refused = refusal(request_of({}, {**signed, header: value}), clock, nonces)

    assert refused.code == "IncompleteSignature"
    assert header in refused.message


def test_acs3_request_without_action_header_is_incomplete_signature(clock: FixedClock, nonces: RecordingNonces) -> None:
    headers = acs3_headers({}, leave_out=("x-acs-action",))

    assert refusal(request_of({}, headers), clock, nonces).code == "IncompleteSignature"


def test_acs3_body_with_unsigned_content_type_is_incomplete_signature(
    clock: FixedClock, nonces: RecordingNonces
) -> None:
    body = b"Name=a"
    headers = {**acs3_headers({}, body=body), "content-type": FORM}

    assert refusal(request_of({}, headers, body), clock, nonces).code == "IncompleteSignature"


def test_acs3_without_date_is_illegal_timestamp(clock: FixedClock, nonces: RecordingNonces) -> None:
    headers = acs3_headers({}, leave_out=("x-acs-date",))

    assert refusal(request_of({}, headers), clock, nonces).code == "IllegalTimestamp"


@pytest.mark.parametrize(
    "date", ["2024-01-31 10:00:00", "2024-01-31T10:00:00+08:00", "1706695200", "2024-02-30T10:00:00Z"]
)
def test_acs3_badly_formatted_date_is_invalid_timestamp_format(
    clock: FixedClock, nonces: RecordingNonces, date: str
) -> None:
    headers = acs3_headers({}, date=date)

    assert refusal(request_of({}, headers), clock, nonces).code == "InvalidTimeStamp.Format"


def test_acs3_without_nonce_is_missing_signature_nonce(clock: FixedClock, nonces: RecordingNonces) -> None:
    headers = acs3_headers({}, leave_out=("x-acs-signature-nonce",))

    assert refusal(request_of({}, headers), clock, nonces).code == "MissingSignatureNonce"


@pytest.mark.parametrize("skew", [timedelta(minutes=15), -timedelta(minutes=15), timedelta(0)])
def test_up_to_15_minutes_of_skew_either_way_is_accepted(
    clock: FixedClock, nonces: RecordingNonces, skew: timedelta
) -> None:
    clock.current = SIGNED_AT + skew

    assert authenticate(request_of({}, acs3_headers({})), KEYS, nonces, clock).account_id == ACCOUNT_ID


@pytest.mark.parametrize("skew", [timedelta(minutes=15, seconds=1), -timedelta(minutes=15, seconds=1)])
def test_more_than_15_minutes_of_skew_is_invalid_timestamp_expired(
    clock: FixedClock, nonces: RecordingNonces, skew: timedelta
) -> None:
    clock.current = SIGNED_AT + skew

    assert refusal(request_of({}, acs3_headers({})), clock, nonces).code == "InvalidTimeStamp.Expired"


def test_second_use_of_a_nonce_is_signature_nonce_used(clock: FixedClock, nonces: RecordingNonces) -> None:
    authenticate(request_of({"JobId": "1"}, acs3_headers({"JobId": "1"})), KEYS, nonces, clock)

    refused = refusal(request_of({"JobId": "2"}, acs3_headers({"JobId": "2"})), clock, nonces)

    assert refused.code == "SignatureNonceUsed"


def test_the_same_nonce_under_another_access_key_is_not_a_replay(clock: FixedClock, nonces: RecordingNonces) -> None:
    authenticate(request_of({}, acs3_headers({})), KEYS, nonces, clock)

    other = acs3_headers({}, access_key_id="LTAI-other", secret="other")

    assert authenticate(request_of({}, other), KEYS, nonces, clock).account_id == 7


def test_a_forged_request_does_not_use_up_the_nonce(clock: FixedClock, nonces: RecordingNonces) -> None:
    forged = acs3_headers({}, secret="guess")
    assert refusal(request_of({}, forged), clock, nonces).code == "SignatureDoesNotMatch"

    assert authenticate(request_of({}, acs3_headers({})), KEYS, nonces, clock).account_id == ACCOUNT_ID


def test_unknown_access_key_is_not_found(clock: FixedClock, nonces: RecordingNonces) -> None:
    headers = acs3_headers({}, access_key_id="LTAI-nobody")

    assert refusal(request_of({}, headers), clock, nonces).code == "InvalidAccessKeyId.NotFound"


def test_rpc_v1_request_signed_by_the_sdk_is_accepted_with_form_body_parameters_signed(
    clock: FixedClock, nonces: RecordingNonces
) -> None:
    body = {"Name": "job one+two"}
    query = rpc_v1_query({"JobId": "1"}, body=body)
    request = request_of(query, {"content-type": FORM}, urlencode(body).encode())

    assert authenticate(request, KEYS, nonces, clock) == Caller(ACCOUNT_ID, AK, "HMAC-SHA1")
    assert request.parameters().text("Name") == "job one+two"


def test_rpc_v1_changed_form_body_is_signature_does_not_match(clock: FixedClock, nonces: RecordingNonces) -> None:
    query = rpc_v1_query({}, body={"Name": "a"})
    request = request_of(query, {"content-type": FORM}, b"Name=b")

    assert refusal(request, clock, nonces).code == "SignatureDoesNotMatch"


def test_rpc_v1_without_timestamp_is_illegal_timestamp(clock: FixedClock, nonces: RecordingNonces) -> None:
    query = {name: value for name, value in rpc_v1_query({}).items() if name != "Timestamp"}

    assert refusal(request_of(query, {}), clock, nonces).code == "IllegalTimestamp"


def test_rpc_v1_without_action_in_the_signed_query_is_incomplete_signature(
    clock: FixedClock, nonces: RecordingNonces
) -> None:
    """Else an unsigned x-acs-action header would choose the operation."""
    query = rpc_v1_query({}, Action="")
    request = request_of(query, {"x-acs-action": "DeleteDeploymentJob"})

    refused = refusal(request, clock, nonces)

    assert refused.code == "IncompleteSignature"
    assert "Action" in refused.message


@pytest.mark.parametrize(("method", "version"), [("HMAC-SHA256", "1.0"), ("HMAC-SHA1", "2.0")])
def test_rpc_v1_other_signature_method_is_incomplete_signature(
    clock: FixedClock, nonces: RecordingNonces, method: str, version: str
) -> None:
    query = rpc_v1_query({}, SignatureMethod=method, SignatureVersion=version)

    assert refusal(request_of(query, {}), clock, nonces).code == "IncompleteSignature"


def test_rpc_v1_signature_parameter_given_twice_is_incomplete_signature(
    clock: FixedClock, nonces: RecordingNonces
) -> None:
    query = rpc_v1_query({})
    target = "/?" + urlencode(query) + "&Signature=other"
    request = RpcRequest.from_http(method="POST", target=target, headers=[], body=b"", source="::1")

    assert refusal(request, clock, nonces).code == "IncompleteSignature"


def test_request_with_no_signature_at_all_is_incomplete_signature(clock: FixedClock, nonces: RecordingNonces) -> None:
    assert refusal(request_of({"JobId": "1"}, {"x-acs-action": "DescribeDeploymentJob"}), clock, nonces).code == (
        "IncompleteSignature"
    )


@pytest.mark.parametrize(
    ("query", "extra_headers"),
    [({}, {"x-acs-security-token": "tok", "x-acs-accesskey-id": AK}), ({"SecurityToken": "tok"}, {})],
    ids=["acs3-header", "v1-query"],
)
def test_sts_security_token_is_invalid_security_token(
    clock: FixedClock, nonces: RecordingNonces, query: dict[str, str], extra_headers: dict[str, str]
) -> None:
    request = request_of(query, {**acs3_headers(query), **extra_headers})

    assert refusal(request, clock, nonces).code == "InvalidSecurityToken"


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ({"SignatureType": "BEARERTOKEN"}, {"x-acs-bearer-token": "tok"}),
        ({"BearerToken": "tok", "SignatureType": "BEARERTOKEN"}, {}),
        ({}, {"Authorization": "Bearer tok"}),
    ],
    ids=["acs3", "v1", "authorization-header"],
)
def test_bearer_token_is_unsupported_signature_type(
    clock: FixedClock, nonces: RecordingNonces, query: dict[str, str], headers: dict[str, str]
) -> None:
    assert refusal(request_of(query, headers), clock, nonces).code == "UnsupportedSignatureType"


def _with_nonce_lines(headers: dict[str, str], *values: str) -> list[tuple[str, str]]:
    """The captured headers with `x-acs-signature-nonce` sent as these header lines instead."""
    kept = [(name, value) for name, value in headers.items() if name != "x-acs-signature-nonce"]
    return kept + [("x-acs-signature-nonce", value) for value in values]


# A captured nonce, and header lines that sign the same (values are trimmed, sorted and comma-joined) but read
# differently as sent: spaces, tabs, and one value split over several lines.
_V3_REPLAYS = [
    ("n-1", (" n-1",)),
    ("n-1", ("n-1 ",)),
    ("n-1", ("\tn-1",)),
    ("n-1", ("n-1\t",)),
    ("n-1", (" \t n-1 \t ",)),
    ("1,n", ("n", "1")),
    ("1,n", (" 1", "n\t")),
]


@pytest.mark.parametrize(("nonce", "replayed_as"), _V3_REPLAYS)
def test_acs3_replay_with_the_nonce_written_differently_is_signature_nonce_used(
    nonce: str, replayed_as: tuple[str, ...], clock: FixedClock, nonces: RecordingNonces
) -> None:
    captured = acs3_headers({"JobId": "1"}, nonce=nonce)
    authenticate(request_of({"JobId": "1"}, captured), KEYS, nonces, clock)
    replay = RpcRequest.from_http(
        method="POST", target="/?JobId=1", headers=_with_nonce_lines(captured, *replayed_as), body=b"", source="::1"
    )

    assert refusal(replay, clock, nonces).code == "SignatureNonceUsed"


@pytest.mark.parametrize(
    "nonce_in_query",
    ["v1-nonce", "v1%2Dnonce", "%76%31-nonce", "+v1-nonce", "v1-nonce+", "%20v1-nonce", "%09v1-nonce", "v1-nonce%09"],
)
def test_rpc_v1_replay_with_the_nonce_written_differently_is_refused(
    nonce_in_query: str, clock: FixedClock, nonces: RecordingNonces
) -> None:
    captured = rpc_v1_query({"JobId": "1"})
    authenticate(request_of(captured, {}), KEYS, nonces, clock)
    target = "/?" + urlencode({k: v for k, v in captured.items() if k != "SignatureNonce"})
    replay = RpcRequest.from_http(
        method="POST", target=f"{target}&SignatureNonce={nonce_in_query}", headers=[], body=b"", source="::1"
    )

    assert refusal(replay, clock, nonces).code in {"SignatureNonceUsed", "SignatureDoesNotMatch"}
