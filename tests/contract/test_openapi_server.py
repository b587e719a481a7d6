"""The generic OpenAPI test server, driven by the real Tea SDK: what the product deployer tests rely on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, classify_sdk_error, sdk_errors, tea_config
from certdeploy.domain.deployment import PermanentDeployFailure, TransientDeployFailure
from tests.rpc_calls import raw_call
from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer

VERSION = "2024-01-01"


def _echo(call: OpenApiCall) -> dict[str, Any]:
    return {"Action": call.action, "Parameters": call.parameters, "Path": call.path_parameters, "Body": call.body}


def _refuse(call: OpenApiCall) -> dict[str, Any]:
    raise OpenApiError("InvalidDomain.NotFound", f"The domain {call.require('DomainName')} does not exist.", 404)


def _crash(call: OpenApiCall) -> dict[str, Any]:
    raise RuntimeError("bug in a handler")


@pytest.fixture
def server() -> Iterator[OpenApiServer]:
    api = OpenApiServer(version=VERSION)
    api.rpc("DescribeThing", _echo)
    api.rpc("DeleteThing", _refuse)
    api.rpc("Crash", _crash)
    api.roa("PUT", "/pop/v1/things/{ThingId}", _echo, action="UpdateThing")
    with api:
        yield api


def _client(server: OpenApiServer, credentials: CloudCredentials | None = None, **config: Any) -> OpenApiClient:
    settings = tea_config(credentials or server.credentials(), "cn-hangzhou", server.target())
    for name, value in config.items():
        setattr(settings, name, value)
    return OpenApiClient(settings)


def _rpc(client: OpenApiClient, action: str, query: dict[str, str]) -> dict[str, Any]:
    return raw_call(client, action, query, VERSION)


def test_rpc_call_signed_with_acs3_reaches_its_handler_with_its_parameters(server: OpenApiServer) -> None:
    reply = _rpc(_client(server), "DescribeThing", {"DomainName": "a.example.com", "Pem": "-----BEGIN X+/=\n"})

    assert reply["Action"] == "DescribeThing"
    assert reply["Parameters"] == {"DomainName": "a.example.com", "Pem": "-----BEGIN X+/=\n"}
    assert reply["RequestId"]
    [call] = server.calls
    assert (call.style, call.signature_method, call.status) == ("RPC", "ACS3-HMAC-SHA256", 200)


def test_rpc_call_signed_with_v1_hmac_sha1_is_accepted(server: OpenApiServer) -> None:
    reply = _rpc(_client(server, signature_algorithm="v2"), "DescribeThing", {"DomainName": "a.example.com"})

    assert reply["Parameters"] == {"DomainName": "a.example.com"}
    assert server.calls[0].signature_method == "HMAC-SHA1"


def test_roa_call_matches_its_route_with_path_parameters_and_json_body(server: OpenApiServer) -> None:
    params = Params(
        action="UpdateThing",
        version=VERSION,
        protocol="HTTP",
        pathname="/pop/v1/things/th-1%3Ab",
        method="PUT",
        auth_type="AK",
        style="ROA",
        req_body_type="json",
        body_type="json",
    )
    request = OpenApiRequest(query={"force": "true"}, body={"Certificate": {"Id": 7}})

    reply = _client(server).call_api(params, request, RuntimeOptions())["body"]

    assert reply["Path"] == {"ThingId": "th-1:b"}
    assert reply["Body"] == {"Certificate": {"Id": 7}}
    assert reply["Parameters"] == {"force": "true"}
    assert server.calls_of("UpdateThing")[0].style == "ROA"


def test_sts_token_is_accepted_and_checked_when_the_server_expects_one() -> None:
    with OpenApiServer(security_token="sts-token-1") as api:
        api.rpc("DescribeThing", _echo)
        assert _rpc(_client(api), "DescribeThing", {})["Action"] == "DescribeThing"
        assert api.calls[0].security_token == "sts-token-1"

        stale = CloudCredentials.model_validate({**api.credentials().model_dump(), "security_token": "sts-token-0"})
        with pytest.raises(ClientException) as refused:
            _rpc(_client(api, stale), "DescribeThing", {})
    assert refused.value.code == "InvalidSecurityToken.Mismatch"


def test_wrong_secret_is_refused_and_not_recorded(server: OpenApiServer) -> None:
    forged = CloudCredentials(access_key_id=server.access_key_id, access_key_secret="not-the-secret")

    with pytest.raises(ClientException) as refused:
        _rpc(_client(server, forged), "DescribeThing", {})

    assert refused.value.code == "SignatureDoesNotMatch"
    assert server.calls == []


def test_unknown_action_is_not_found(server: OpenApiServer) -> None:
    with pytest.raises(ClientException) as refused:
        _rpc(_client(server), "NoSuchThing", {})
    assert (refused.value.code, refused.value.status_code) == ("InvalidAction.NotFound", 404)


def test_injected_faults_answer_the_next_calls_then_the_handler_runs_again(server: OpenApiServer) -> None:
    server.fail_next("DescribeThing", times=2)
    client = _client(server)

    for _ in range(2):
        with pytest.raises(ClientException) as throttled:
            _rpc(client, "DescribeThing", {})
        assert throttled.value.code == "Throttling.User"
    assert _rpc(client, "DescribeThing", {})["Action"] == "DescribeThing"
    assert [call.status for call in server.calls_of("DescribeThing")] == [400, 400, 200]


def test_fault_with_retry_after_is_a_throttling_exception_classified_transient(server: OpenApiServer) -> None:
    server.fail_next("DescribeThing", code="Throttling.Api", status=429, retry_after_seconds=3)

    with pytest.raises(ThrottlingException) as throttled:
        _rpc(_client(server), "DescribeThing", {})

    failure = classify_sdk_error(throttled.value)
    assert isinstance(failure, TransientDeployFailure)
    assert failure.code == "Throttling.Api"


def test_server_errors_are_transient_and_client_errors_permanent_with_the_product_message(
    server: OpenApiServer,
) -> None:
    server.fail_next("DescribeThing", code="ServiceUnavailable", message="Busy now.", status=503)
    client = _client(server)

    with pytest.raises(TransientDeployFailure) as transient, sdk_errors("DescribeThing"):
        _rpc(client, "DescribeThing", {})
    with pytest.raises(PermanentDeployFailure) as permanent, sdk_errors("DeleteThing"):
        _rpc(client, "DeleteThing", {"DomainName": "gone.example.com"})

    assert transient.value.code == "ServiceUnavailable"
    assert transient.value.message.startswith("Busy now.")
    assert permanent.value.code == "InvalidDomain.NotFound"
    assert permanent.value.message.startswith("The domain gone.example.com does not exist.")


def test_a_crashing_handler_answers_500_and_is_reported(server: OpenApiServer) -> None:
    with pytest.raises(ServerException):
        _rpc(_client(server), "Crash", {})
    with pytest.raises(AssertionError, match="bug in a handler"):
        server.assert_healthy()


def test_connection_refused_is_transient_and_names_no_request_parameter() -> None:
    with OpenApiServer() as api:
        target = api.target()
    client = OpenApiClient(tea_config(api.credentials(), "cn-hangzhou", target))

    with pytest.raises(TransientDeployFailure) as unreachable, sdk_errors("SetThing"):
        _rpc(client, "SetThing", {"SSLPri": "PRIVATE-KEY-MATERIAL"})

    assert unreachable.value.code == "ConnectionError"
    assert "PRIVATE-KEY-MATERIAL" not in str(unreachable.value)
    assert unreachable.value.__cause__ is None and unreachable.value.__suppress_context__


def test_a_read_timeout_is_transient(server: OpenApiServer) -> None:
    answer = threading.Event()  # the server answers only once the client has given up waiting

    def _slow(call: OpenApiCall) -> dict[str, Any]:
        answer.wait(timeout=30)
        return {}

    server.rpc("Slow", _slow)
    client = OpenApiClient(tea_config(server.credentials(), "cn-hangzhou", server.target(read_timeout_ms=100)))

    try:
        with pytest.raises(TransientDeployFailure) as timed_out, sdk_errors("Slow"):
            _rpc(client, "Slow", {})
    finally:
        answer.set()

    assert timed_out.value.code == "Timeout"


def test_api_target_defaults_leave_the_endpoint_to_the_sdk() -> None:
    config = tea_config(CloudCredentials(access_key_id="id", access_key_secret="s"), "cn-shanghai", ApiTarget())
    assert (config.endpoint, config.region_id, config.protocol) == (None, "cn-shanghai", "https")


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("Throttling.User", 400, True),
        ("Throttling", 400, True),
        ("ServiceUnavailable", 503, True),
        ("SomethingBroke", 502, True),
        ("TooManyRequests", 429, True),
        ("InvalidDomain.NotFound", 404, False),
        ("Forbidden.RAM", 403, False),
    ],
)
def test_sdk_errors_are_classified_by_code_and_status(code: str, status: int, transient: bool) -> None:
    kind = ServerException if status >= 500 else ClientException
    error = kind(
        status_code=status,
        code=code,
        message=f"code: {status}, The words. request id: R1",
        data={"Code": code, "Message": "The words.", "RequestId": "R1"},
    )

    failure = classify_sdk_error(error)

    assert isinstance(failure, TransientDeployFailure if transient else PermanentDeployFailure)
    assert (failure.code, failure.message) == (code, "The words. (RequestId R1)")
