"""Reading an RPC request: where parameters, action and version come from, and typed parameter reads with CAS
errors."""

from __future__ import annotations

import pytest

from certdeploy.api.errors import ApiError
from certdeploy.api.rpc import MAX_PARAMETERS, RpcParameters, RpcRequest


def http_request(target: str, *, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> RpcRequest:
    return RpcRequest.from_http(method="post", target=target, headers=headers or [], body=body, source="10.0.0.1")


def params(**values: str) -> RpcParameters:
    return RpcParameters(values.items())


def error_of(call: object) -> ApiError:
    assert callable(call)
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def test_raw_request_is_split_into_path_decoded_query_and_lower_cased_headers() -> None:
    request = http_request(
        "/?Name=a+b%2Bc&Tag=1&Tag=2",
        headers=[("X-Acs-Action", "DescribeDeploymentJob"), ("Accept", "a"), ("accept", "b")],
    )

    assert (request.method, request.path) == ("POST", "/")
    assert request.query == (("Name", "a b+c"), ("Tag", "1"), ("Tag", "2"))
    assert request.headers["accept"] == ("a", "b")
    assert request.header("ACCEPT") == "a,b"
    assert request.action == "DescribeDeploymentJob"


def test_business_parameters_come_from_query_and_form_body_without_protocol_parameters() -> None:
    request = http_request(
        "/?Action=CreateDeploymentJob&Version=2020-04-07&Signature=x&Timestamp=t&JobType=user",
        headers=[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
        body=b"Name=job+one&CertIds=1%2C2",
    )

    parameters = request.parameters()

    assert parameters.names() == {"JobType", "Name", "CertIds"}
    assert parameters.text("Name") == "job one"
    assert parameters.integer_list("CertIds") == [1, 2]


def test_a_body_that_is_not_a_form_carries_no_parameters() -> None:
    request = http_request("/?JobId=1", headers=[("Content-Type", "application/json")], body=b'{"Name": "x"}')

    assert request.parameters().names() == {"JobId"}


def test_action_and_version_prefer_the_query_which_v1_signs_over_unsigned_headers() -> None:
    request = http_request(
        "/?Action=DescribeDeploymentJob&Version=2020-04-07",
        headers=[("x-acs-action", "DeleteDeploymentJob"), ("x-acs-version", "1999-01-01")],
    )

    assert (request.action, request.version) == ("DescribeDeploymentJob", "2020-04-07")


def test_event_shaped_request_takes_decoded_query_and_multi_value_headers() -> None:
    request = RpcRequest.from_decoded(
        method="POST",
        path="",
        query={"Name": "a+b c", "Tag": ["1", "2"]},
        headers={"X-Acs-Version": "2020-04-07", "Via": ["p1", "p2"]},
        body=b"",
        source="10.0.0.2",
    )

    assert request.path == "/"
    assert request.query == (("Name", "a+b c"), ("Tag", "1"), ("Tag", "2"))
    assert request.version == "2020-04-07"
    assert request.headers["via"] == ("p1", "p2")


def test_query_that_is_not_utf8_is_invalid_parameter() -> None:
    error = error_of(lambda: http_request("/?Name=%FF"))

    assert (error.status, error.code) == (400, "InvalidParameter")


def test_too_many_parameters_are_refused() -> None:
    error = error_of(lambda: http_request("/?" + "&".join(f"p{i}=1" for i in range(MAX_PARAMETERS + 1))))

    assert (error.status, error.code) == (400, "InvalidParameter")


def test_required_text_absent_or_empty_is_missing_parameter_naming_it() -> None:
    for parameters in (params(), params(Name="")):
        error = error_of(lambda parameters=parameters: parameters.text("Name"))
        assert (error.status, error.code) == (400, "MissingParameter")
        assert "Name" in error.message


def test_optional_reads_of_absent_or_empty_values_are_none() -> None:
    parameters = params(Keyword="", ShowSize="")

    assert parameters.optional_text("Keyword") is None
    assert parameters.optional_integer("ShowSize") is None
    assert parameters.optional_boolean("CertFilter") is None
    assert parameters.optional_integer_list("CertIds") is None
    assert parameters.optional_json_text_list("Webhooks") is None


def test_a_name_given_twice_is_invalid() -> None:
    error = error_of(lambda: RpcParameters([("JobId", "1"), ("JobId", "2")]).integer("JobId"))

    assert (error.status, error.code) == (400, "InvalidParameter.JobId")


@pytest.mark.parametrize("text", ["12", "-3", "0", "9223372036854775807", "1706613560008"])
def test_decimal_64_bit_integers_are_read(text: str) -> None:
    assert params(JobId=text).integer("JobId") == int(text)


@pytest.mark.parametrize("text", ["1.0", " 1", "1_000", "0x10", "abc", "٣", "9223372036854775808"])
def test_anything_else_is_invalid_parameter_of_that_name(text: str) -> None:
    error = error_of(lambda: params(JobId=text).integer("JobId"))

    assert (error.status, error.code) == (400, "InvalidParameter.JobId")


@pytest.mark.parametrize(("text", "value"), [("True", True), ("true", True), ("False", False), ("false", False)])
def test_booleans_in_python_sdk_and_lower_case_forms(text: str, value: bool) -> None:
    assert params(CertFilter=text).boolean("CertFilter") is value


@pytest.mark.parametrize("text", ["1", "yes", "TRUE", "T"])
def test_other_boolean_spellings_are_invalid(text: str) -> None:
    assert error_of(lambda: params(CertFilter=text).boolean("CertFilter")).code == "InvalidParameter.CertFilter"


def test_required_boolean_absent_is_missing_parameter() -> None:
    assert error_of(lambda: params().boolean("CertFilter")).code == "MissingParameter"


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,2,3", [1, 2, 3]), ("7", [7]), ("1, 2", [1, 2]), ("[12,34]", [12, 34]), (" [5]", [5])],
)
def test_integer_lists_as_comma_lists_or_json_arrays(text: str, value: list[int]) -> None:
    assert params(CertIds=text).integer_list("CertIds") == value


@pytest.mark.parametrize("text", ["1,,2", "1,2,", "a,b", "[1,", "[1.5]", '["1"]', "[true]", '{"a": 1}'])
def test_malformed_integer_lists_are_invalid_parameter_of_that_name(text: str) -> None:
    error = error_of(lambda: params(CertIds=text).integer_list("CertIds"))

    assert (error.status, error.code) == (400, "InvalidParameter.CertIds")


def test_required_integer_list_that_is_an_empty_json_array_is_missing() -> None:
    assert error_of(lambda: params(CertIds="[]").integer_list("CertIds")).code == "MissingParameter"


def test_json_text_list_reads_webhook_urls() -> None:
    webhooks = '["https://open.feishu.cn/open-apis/bot/v2/hook/X","https://oapi.dingtalk.com/robot/send?a=b"]'

    assert params(Webhooks=webhooks).optional_json_text_list("Webhooks") == [
        "https://open.feishu.cn/open-apis/bot/v2/hook/X",
        "https://oapi.dingtalk.com/robot/send?a=b",
    ]


@pytest.mark.parametrize("text", ["https://x", "[1]", '{"a": "b"}'])
def test_json_text_list_refuses_anything_but_a_list_of_strings(text: str) -> None:
    assert error_of(lambda: params(Webhooks=text).optional_json_text_list("Webhooks")).code == (
        "InvalidParameter.Webhooks"
    )


def test_object_list_is_read_from_dotted_keys_in_index_order() -> None:
    parameters = RpcParameters(
        [
            ("Tags.2.Key", "t2"),
            ("Tags.2.Value", "v 2"),
            ("Tags.1.Key", "env"),
            ("Tags.1.Value", "prod"),
            ("Tags.10.Key", "ten"),
            ("Name", "n"),
        ]
    )

    assert parameters.object_list("Tags", ("Key", "Value")) == [
        {"Key": "env", "Value": "prod"},
        {"Key": "t2", "Value": "v 2"},
        {"Key": "ten"},
    ]


def test_object_list_without_any_key_is_empty() -> None:
    assert params(Name="n").object_list("Tags", ("Key", "Value")) == []


@pytest.mark.parametrize("key", ["Tags.0.Key", "Tags.x.Key", "Tags.1.Colour", "Tags.1", "Tags.-1.Key"])
def test_object_list_with_a_bad_index_or_field_is_invalid(key: str) -> None:
    error = error_of(lambda: RpcParameters([(key, "v")]).object_list("Tags", ("Key", "Value")))

    assert (error.status, error.code) == (400, "InvalidParameter.Tags")
