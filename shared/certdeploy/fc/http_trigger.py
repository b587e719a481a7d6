"""The API function's trigger events (docs/runtime.md#trigger-events) as `RpcRequest`s, and its replies in the shape
those triggers expect.

- API Gateway (event function): `{path, httpMethod, headers, queryParameters, pathParameters, body,
  isBase64Encoded}`; `isBase64Encoded` is documented as `"true|false"` and sent as a JSON boolean by others, so both
  are read. A query parameter given more than once may arrive as a list (our local HTTP front sends it so).
- FC 3.0 HTTP trigger: `{version, rawPath, body, isBase64Encoded, headers, queryParameters, requestContext}`; the
  method and decoded path come from `requestContext.http`; values of repeated headers/parameters arrive comma-joined.

Both take the reply `{isBase64Encoded, statusCode, headers, body}`; API Gateway answers 503 to anything else.
Query values arrive decoded, which is also what the signature checks canonicalise.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from certdeploy.api.actions_common import ApiDeps
from certdeploy.api.errors import BAD_REQUEST, ApiError
from certdeploy.api.rpc import RpcRequest
from certdeploy.api.service import ApiResponse, handle, refusal
from certdeploy.fc.console_files import console_reply, is_console_request
from certdeploy.fc.events import InvalidEvent, validate_event

Values = dict[str, str | list[str]]


class ApiGatewayEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    path: str
    http_method: str = Field(alias="httpMethod", min_length=1)
    headers: Values = Field(default_factory=dict)
    query_parameters: Values = Field(default_factory=dict, alias="queryParameters")
    body: str | None = None
    is_base64_encoded: bool | str = Field(False, alias="isBase64Encoded")


class HttpRequestContextHttp(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    method: str = Field(min_length=1)
    path: str
    source_ip: str = Field("", alias="sourceIp")


class HttpRequestContext(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    http: HttpRequestContextHttp


class HttpTriggerEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    version: str
    raw_path: str = Field(alias="rawPath")
    headers: Values = Field(default_factory=dict)
    query_parameters: Values = Field(default_factory=dict, alias="queryParameters")
    body: str | None = None
    is_base64_encoded: bool = Field(False, alias="isBase64Encoded")
    request_context: HttpRequestContext = Field(alias="requestContext")


_API_GATEWAY_EVENT: TypeAdapter[ApiGatewayEvent] = TypeAdapter(ApiGatewayEvent)
_HTTP_TRIGGER_EVENT: TypeAdapter[HttpTriggerEvent] = TypeAdapter(HttpTriggerEvent)


def _flag(value: bool | str) -> bool:
    if isinstance(value, bool):
        return value
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidEvent(f"isBase64Encoded is {value!r}, not true or false")


def _body(text: str | None, is_base64: bool) -> bytes:
    if not text:
        return b""
    if not is_base64:
        return text.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise InvalidEvent(f"the body is marked Base64 but is not: {error}") from error


def _first_header(headers: Values, name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value if isinstance(value, str) else ",".join(value)
    return ""


def parse_api_event(event: bytes | str) -> RpcRequest:
    """An API Gateway or FC HTTP trigger event as a request; `InvalidEvent` when it is neither."""
    try:
        shape = json.loads(event)
    except ValueError as error:
        raise InvalidEvent(f"the event is not JSON: {error}") from error
    if isinstance(shape, dict) and "requestContext" in shape and "rawPath" in shape:
        http = validate_event(event, _HTTP_TRIGGER_EVENT, "an FC HTTP trigger event")
        return RpcRequest.from_decoded(
            method=http.request_context.http.method,
            path=http.request_context.http.path,
            query=http.query_parameters,
            headers=http.headers,
            body=_body(http.body, http.is_base64_encoded),
            source=http.request_context.http.source_ip,
        )
    gateway = validate_event(event, _API_GATEWAY_EVENT, "an API Gateway event")
    forwarded = _first_header(gateway.headers, "x-forwarded-for")
    return RpcRequest.from_decoded(
        method=gateway.http_method,
        path=gateway.path,
        query=gateway.query_parameters,
        headers=gateway.headers,
        body=_body(gateway.body, _flag(gateway.is_base64_encoded)),
        source=forwarded.split(",")[0].strip(),
    )


def event_response(response: ApiResponse) -> dict[str, Any]:
    """The reply both triggers take."""
    return {
        "isBase64Encoded": False,
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": response.body_text(),
    }


def answer_event(api: ApiDeps, event: bytes | str) -> dict[str, Any]:
    """Read the event, answer the request, shape the reply; an unreadable event is answered 400. The web console's
    files are answered here too (`certdeploy.fc.console_files`), before any signature check."""
    try:
        request = parse_api_event(event)
    except InvalidEvent as error:
        return event_response(
            refusal(ApiError(BAD_REQUEST, "InvalidRequest", f"The request could not be read: {error}"))
        )
    if is_console_request(request.method, request.path, request.query, request.headers):
        return console_reply(request.method, request.path, request.headers)
    return event_response(handle(api, request))
