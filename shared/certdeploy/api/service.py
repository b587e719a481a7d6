"""The API as one function: an `RpcRequest` in, an `ApiResponse` out — authenticate, check the version, run the
action, map every failure to a CAS error body. Both the FC function and the local HTTP front call `handle`.

Status rules: a caller's mistake is 4xx (`ApiError` as raised, a `DomainError` through `api_error_from_domain`), a
database that is down or lost a race past all retries is 503 `ServiceUnavailable` (worth retrying), anything else is
our fault: 500 `InternalError`, logged with the RequestId and never explained to the caller. Every reply carries
`RequestId`. One log line per request: action, account, status, code and duration — never parameters, so no PEM,
key or secret reaches the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from certdeploy.api.actions import ACTIONS
from certdeploy.api.actions_common import ActionContext, ApiDeps
from certdeploy.api.auth import AccessKeySecret, authenticate
from certdeploy.api.errors import (
    ApiError,
    api_error_from_domain,
    error_body,
    internal_error,
    invalid_api,
    invalid_parameter,
    missing_parameter,
    new_request_id,
)
from certdeploy.api.rpc import RpcRequest
from certdeploy.api.throttle import throttled
from certdeploy.api.xml import ERROR_ROOT, XML_CONTENT_TYPE, success_root, xml_text
from certdeploy.domain.errors import DomainError, NotFound
from certdeploy.ports.store.errors import StaleState, StoreUnavailable
from certdeploy.ports.store.messages import TooManyNonces
from certdeploy.ports.store.unit_of_work import Store

API_VERSION = "2020-04-07"
HOST_ID = "cas.aliyuncs.com"
SERVICE_UNAVAILABLE = 503
JSON_CONTENT_TYPE = "application/json;charset=utf-8"
# A reply body as it goes on the wire (`WireModel.wire()`, or an error body).
Reply = dict[str, Any]
# The store's nonce keys hold at most 191 characters.
_MAX_NONCE_KEY = 191

log = logging.getLogger("certdeploy.api")


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: Reply
    # The root element when the caller asked for `Format=XML`; None for JSON.
    xml_root: str | None = None

    def body_text(self) -> str:
        if self.xml_root is not None:
            return xml_text(self.xml_root, self.body)
        return json.dumps(self.body, ensure_ascii=False)


class StoreAccessKeys:
    """`AccessKeyLookup` on the store's access keys."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def find(self, access_key_id: str) -> AccessKeySecret | None:
        try:
            key = self._store.accounts.find_access_key(access_key_id)
        except NotFound:
            return None
        return AccessKeySecret(key.account_id, key.secret)


def nonce_key(access_key_id: str, nonce: str) -> str:
    """`nonce:<AccessKeyId>:<nonce>`, or a digest of both when that is too long to be a key."""
    key = f"nonce:{access_key_id}:{nonce}"
    if len(key) <= _MAX_NONCE_KEY:
        return key
    return "nonce-sha256:" + hashlib.sha256(f"{access_key_id}\n{nonce}".encode()).hexdigest()


class StoreNonces:
    """`NonceRegistry` on the store's nonces, each kept until `expires_at` (docs/protocol.md#clock-skew-and-nonces);
    an AccessKey holding too many is throttled."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def remember(self, access_key_id: str, nonce: str, expires_at: datetime) -> bool:
        try:
            return self._store.nonces.remember(access_key_id, nonce_key(access_key_id, nonce), expires_at)
        except TooManyNonces as exc:
            raise throttled() from exc


@dataclass
class _Call:
    request_id: str
    action: str | None
    account_id: int | None = None
    wants_xml: bool = False
    started: float = field(default_factory=time.perf_counter)


def _call_of(request: RpcRequest, account_id: int | None = None) -> _Call:
    wants_xml = (request.query_value("Format") or "").upper() == "XML"
    return _Call(new_request_id(), request.action, account_id, wants_xml)


def handle(api: ApiDeps, request: RpcRequest) -> ApiResponse:
    """Answer one signed request."""
    call = _call_of(request)

    def work() -> Reply:
        store = api.deps.store
        caller = authenticate(request, StoreAccessKeys(store), StoreNonces(store), api.deps.clock)
        call.account_id = caller.account_id
        with api.rate_limit.admitted(caller.account_id) if api.rate_limit else nullcontext():
            return dispatch(api, caller.account_id, request, call.request_id)

    return _respond(call, work)


def answer(api: ApiDeps, account_id: int, request: RpcRequest) -> ApiResponse:
    """Answer a request already known to come from `account_id` (no signature check)."""
    call = _call_of(request, account_id)
    return _respond(call, lambda: dispatch(api, account_id, request, call.request_id))


def refusal(error: ApiError) -> ApiResponse:
    """The reply to a request refused before it could be read (e.g. a malformed trigger event)."""
    call = _Call(new_request_id(), None)
    response = _failure(call, error)
    _log(call, response)
    return response


def dispatch(api: ApiDeps, account_id: int, request: RpcRequest, request_id: str) -> Reply:
    version, action = request.version, request.action
    if not version:
        raise missing_parameter("Version")
    if not action:
        raise missing_parameter("Action")
    handler = ACTIONS.get(action)
    if version != API_VERSION or handler is None:
        raise invalid_api(action, version)
    _refuse_unstorable_text(request.all_parameters())
    params = request.parameters()
    return handler(ActionContext(api, account_id, request_id), params).wire()


def _refuse_unstorable_text(pairs: Iterable[tuple[str, str]]) -> None:
    """NUL characters and lone surrogates (possible in a JSON event) are refused here, before a database does."""
    for name, value in pairs:
        if "\x00" in value or not _is_utf8_encodable(value) or not _is_utf8_encodable(name):
            raise invalid_parameter(
                name.encode("utf-8", "replace").decode("utf-8")[:64], "it contains a NUL character or invalid Unicode"
            )


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _respond(call: _Call, work: Callable[[], Reply]) -> ApiResponse:
    try:
        response = _success(call, work())
    except Exception as error:  # every failure becomes a CAS error reply; the mapping decides who is at fault
        response = _failure(call, _api_error(call, error))
    _log(call, response)
    return response


def _api_error(call: _Call, error: Exception) -> ApiError:
    if isinstance(error, ApiError):
        return error
    if isinstance(error, DomainError):
        return api_error_from_domain(error)
    if isinstance(error, (StoreUnavailable, StaleState)):
        log.warning("request %s: store unavailable: %s", call.request_id, error)
        return ApiError(
            SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is temporarily unavailable; retry the request later.",
        )
    log.exception("request %s (%s) failed", call.request_id, _loggable_action(call.action))
    return internal_error()


def _reply(call: _Call, status: int, body: Reply, xml_root: str) -> ApiResponse:
    content_type = XML_CONTENT_TYPE if call.wants_xml else JSON_CONTENT_TYPE
    headers = {"Content-Type": content_type, "x-acs-request-id": call.request_id}
    return ApiResponse(status, headers, body, xml_root if call.wants_xml else None)


def _success(call: _Call, reply: Reply) -> ApiResponse:
    return _reply(call, 200, {"RequestId": call.request_id, **reply}, success_root(call.action or ""))


def _failure(call: _Call, error: ApiError) -> ApiResponse:
    return _reply(call, error.status, error_body(error, request_id=call.request_id, host_id=HOST_ID), ERROR_ROOT)


def _loggable_action(action: str | None) -> str:
    """The action name, or a short quoted form of whatever the caller sent (no log injection)."""
    if action in ACTIONS:
        return action
    return repr((action or "")[:40])


def _log(call: _Call, response: ApiResponse) -> None:
    elapsed_ms = (time.perf_counter() - call.started) * 1000
    code: Any = response.body.get("Code", "-")
    log.info(
        "api %s account=%s status=%d code=%s ms=%.1f request_id=%s",
        _loggable_action(call.action),
        call.account_id if call.account_id is not None else "-",
        response.status,
        code,
        elapsed_ms,
        call.request_id,
    )
