"""The signature procedures of docs/protocol.md#authentication: the documented worked examples reproduce exactly, and
the canonical forms agree with what the official SDK (`alibabacloud_tea_openapi` 0.4.6) signs for awkward values."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from alibabacloud_tea_openapi.utils import Utils, get_canonical_query_string
from hypothesis import given
from hypothesis import strategies as st

from certdeploy.api import signature
from certdeploy.api.rpc import form_decode

SECRET = "YourAccessKeySecret"
NONCE = "3156853299f313e23d1673dc12e1703d"
WORKED_EXAMPLE_HEADERS = {
    "accept": ("application/json",),
    "host": ("cas.aliyuncs.com",),
    "x-acs-action": ("UpdateDeploymentJobStatus",),
    "x-acs-content-sha256": (signature.EMPTY_PAYLOAD_SHA256,),
    "x-acs-date": ("2024-01-31T10:00:00Z",),
    "x-acs-signature-nonce": (NONCE,),
    "x-acs-version": ("2020-04-07",),
}
WORKED_EXAMPLE_CANONICAL_REQUEST = (
    "POST\n"
    "/\n"
    "JobId=1234&Status=scheduling\n"
    "accept:application/json\n"
    "host:cas.aliyuncs.com\n"
    "x-acs-action:UpdateDeploymentJobStatus\n"
    "x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    "x-acs-date:2024-01-31T10:00:00Z\n"
    f"x-acs-signature-nonce:{NONCE}\n"
    "x-acs-version:2020-04-07\n"
    "\n"
    "accept;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)
WORKED_EXAMPLE_AUTHORIZATION = (
    "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,"
    "SignedHeaders=accept;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
    "Signature=289e06a6e01c082e3e992c8484b34de4cefe83124c8e3020771ac17d3c900523"
)


def test_acs3_worked_example_reproduces_canonical_request_hash_and_signature() -> None:
    authorization = signature.parse_acs3_authorization(WORKED_EXAMPLE_AUTHORIZATION)

    canonical_request = signature.acs3_canonical_request(
        method="POST",
        path="/",
        query=[("Status", "scheduling"), ("JobId", "1234")],
        headers=WORKED_EXAMPLE_HEADERS,
        signed_headers=authorization.signed_headers,
        payload_sha256=signature.EMPTY_PAYLOAD_SHA256,
    )
    string_to_sign = signature.acs3_string_to_sign(canonical_request)

    assert canonical_request == WORKED_EXAMPLE_CANONICAL_REQUEST
    assert string_to_sign == "ACS3-HMAC-SHA256\n9e3b0e10505282e2d54e774433ebc3b70bfd139cec99dfd958c020d539e350f1"
    assert signature.acs3_signature(SECRET, string_to_sign) == authorization.signature
    assert authorization.access_key_id == "YourAccessKeyId"


def test_rpc_v1_worked_example_reproduces_string_to_sign_and_signature() -> None:
    parameters = [
        ("Action", "DescribeDeploymentJob"),
        ("Format", "json"),
        ("Version", "2020-04-07"),
        ("Timestamp", "2024-01-31T10:00:00Z"),
        ("SignatureNonce", NONCE),
        ("JobId", "1234"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("AccessKeyId", "YourAccessKeyId"),
        ("Signature", "left out of what is signed"),
    ]

    string_to_sign = signature.rpc_v1_string_to_sign("POST", parameters)

    assert string_to_sign == (
        "POST&%2F&AccessKeyId%3DYourAccessKeyId%26Action%3DDescribeDeploymentJob%26Format%3Djson%26JobId%3D1234"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3156853299f313e23d1673dc12e1703d%26SignatureVersion"
        "%3D1.0%26Timestamp%3D2024-01-31T10%253A00%253A00Z%26Version%3D2020-04-07"
    )
    assert signature.rpc_v1_signature(SECRET, string_to_sign) == "J4Age8bsdO0fBpMo+zhCKpX6z/E="


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a b", "a%20b"),
        ("a+b", "a%2Bb"),
        ("a/b", "a%2Fb"),
        ("a=b", "a%3Db"),
        ("a*b", "a%2Ab"),
        ("a~b", "a~b"),
        ("-_.", "-_."),
        ("l1\nl2\r\n", "l1%0Al2%0D%0A"),
        ("证书", "%E8%AF%81%E4%B9%A6"),
        ("ü", "%C3%BC"),
        ("a,b", "a%2Cb"),
        ("%41", "%2541"),
        ("", ""),
    ],
    ids=[
        "space",
        "plus",
        "slash",
        "equals",
        "star",
        "tilde",
        "unreserved",
        "newlines",
        "cjk",
        "latin",
        "comma",
        "percent",
        "empty",
    ],
)
def test_canonical_query_encodes_values_per_rfc3986(value: str, encoded: str) -> None:
    assert signature.canonical_query_string([("Name", value)]) == f"Name={encoded}"


def test_canonical_query_sorts_by_name_then_value_and_keeps_repeats_and_empty_values() -> None:
    pairs = [("b", "2"), ("a", "z"), ("Z", "upper first"), ("a", "y"), ("empty", "")]

    assert signature.canonical_query_string(pairs) == "Z=upper%20first&a=y&a=z&b=2&empty="


def test_canonical_query_of_no_parameters_is_empty() -> None:
    assert signature.canonical_query_string([]) == ""


def test_form_decoding_the_wire_query_turns_plus_into_space_and_keeps_an_encoded_plus() -> None:
    assert form_decode("Name=job+a%2Bb&CertIds=1%2C2&Empty=&Bare", what="query") == (
        ("Name", "job a+b"),
        ("CertIds", "1,2"),
        ("Empty", ""),
        ("Bare", ""),
    )


# Parameter names as CAS uses them (the SDK does not encode names; ours never need it).
_names = st.from_regex(r"[A-Za-z][A-Za-z0-9.]{0,12}", fullmatch=True)
_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(st.dictionaries(_names, _values, max_size=8))
def test_canonical_query_of_the_decoded_wire_query_is_what_the_sdk_signed(query: dict[str, str]) -> None:
    wire = urlencode(query)  # what the SDK puts on the request line (darabonba `compose_url`)

    assert signature.canonical_query_string(form_decode(wire, what="query")) == get_canonical_query_string(query)


@given(st.dictionaries(_names, _values, max_size=8), _values)
def test_rpc_v1_signature_of_the_decoded_wire_query_is_what_the_sdk_computed(
    query: dict[str, str], secret: str
) -> None:
    wire = urlencode(query)
    ours = signature.rpc_v1_signature(secret, signature.rpc_v1_string_to_sign("POST", form_decode(wire, what="query")))

    assert ours == Utils.get_rpcsignature(query, "POST", secret)


def test_several_values_of_one_header_are_trimmed_sorted_and_comma_joined() -> None:
    headers = {"x-acs-multi": (" b ", "a"), "host": ("h",)}

    assert signature.canonical_headers(["host", "x-acs-multi"], headers) == "host:h\nx-acs-multi:a,b\n"


def test_a_signed_header_missing_from_the_request_reads_as_empty() -> None:
    assert signature.canonical_headers(["x-acs-absent"], {}) == "x-acs-absent:\n"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ACS3-HMAC-SHA256",
        "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host",
        "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host,Signature=abc",
        "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=" + "a" * 64,
        "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host;;date,Signature=" + "a" * 64,
        "ACS3-HMAC-SHA256 Credential=ak,Credential=bk,SignedHeaders=host,Signature=" + "a" * 64,
        "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host,Signature=" + "a" * 64 + ",Extra=1",
        "HMAC-SHA256 Credential=ak,SignedHeaders=host,Signature=" + "a" * 64,
    ],
    ids=[
        "empty",
        "algorithm-only",
        "no-signature",
        "short-signature",
        "empty-credential",
        "empty-header-name",
        "repeated-part",
        "extra-part",
        "not-acs3",
    ],
)
def test_malformed_authorization_is_rejected(value: str) -> None:
    with pytest.raises(signature.MalformedAuthorization):
        signature.parse_acs3_authorization(value)


def test_authorization_parts_may_be_spaced_and_signature_upper_case() -> None:
    parsed = signature.parse_acs3_authorization(
        "ACS3-HMAC-SHA256 Credential=ak, SignedHeaders=host;x-acs-date, Signature=" + "AB" * 32
    )

    assert parsed == signature.Acs3Authorization(
        algorithm="ACS3-HMAC-SHA256",
        access_key_id="ak",
        signed_headers=("host", "x-acs-date"),
        signature="ab" * 32,
    )


def test_signatures_match_only_when_identical() -> None:
    assert signature.signatures_match("abc", "abc")
    assert not signature.signatures_match("abc", "abd")
    assert not signature.signatures_match("abc", "ab")
