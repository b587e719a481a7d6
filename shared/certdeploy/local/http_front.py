"""The local HTTP front of the API (what `certdeploy serve` listens with), as an ASGI application: each request
becomes the FC 3.0 HTTP-trigger event (docs/runtime.md#http-trigger-event) the `api` function gets in the cloud, fed,
as bytes, to that function loaded from its code directory the way FC loads it (`functions/api`, handler
`handler.handler`); the function's reply dict is written back. `certdeploy.local.http_server` serves it with uvicorn.

The function is synchronous and uses the store, so it runs on a bounded thread pool; the event loop only reads
requests and writes replies. Limits (`FrontLimits`, docs/runtime.md#local-runner):
- request target up to `max_request_line` bytes (1 MiB): UploadUserCertificate carries PEM in the query string;
  longer ones are answered 414;
- body up to `max_body_bytes` (1 MiB; CAS operations send none), announced by Content-Length, answered 413 past it
  before it is read; chunked bodies are refused with 411; the body must arrive within `read_timeout_seconds` (408);
  a refused request closes the connection;
- methods other than GET, POST, PUT, DELETE, PATCH and OPTIONS are answered 501; `GET /health` answers 200.

Refusals are CAS error bodies. The access log (DEBUG, logger `certdeploy.local.http_front`) shows the request target
with the values of secret-bearing parameters (`Key`, `Cert`, `Signature`, `AccessKeySecret`, tokens, passwords) and
of any PEM replaced by `***`.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from certdeploy.api.errors import ApiError, error_body, internal_error, new_request_id
from certdeploy.api.rpc import form_decode
from certdeploy.bootstrap.container import Container
from certdeploy.local.context import LOCAL_ACCOUNT_ID, FcContext, FunctionMeta

MAX_REQUEST_LINE = 1024 * 1024
MAX_BODY_BYTES = 1024 * 1024
HEALTH_PATH = "/health"
HOST_ID = "cas.aliyuncs.com"
API_HANDLER = "handler.handler"
# The repository's functions/api, next to shared/ (this file is shared/certdeploy/local/http_front.py).
DEFAULT_API_CODE_DIR = Path(__file__).resolve().parents[3] / "functions" / "api"
FORWARDED_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
JSON_CONTENT_TYPE = "application/json;charset=utf-8"
# Parameters whose values never reach a log line: private keys, certificates, signatures, secrets.
SECRET_PARAMETER = re.compile(r"(key|cert|secret|signature|token|password)$", re.IGNORECASE)
REDACTED = "***"
LOGGED_TARGET_CHARS = 512

EventHandler = Callable[[bytes], dict[str, Any]]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrontLimits:
    """What the front accepts and how long it waits (docs/runtime.md#local-runner)."""

    max_request_line: int = MAX_REQUEST_LINE
    max_body_bytes: int = MAX_BODY_BYTES
    # A request head must arrive within this of the connection (or the previous reply), a body within this of its head.
    read_timeout_seconds: float = 10.0
    keep_alive_seconds: int = 5
    # Open connections at most; past it the one waiting longest for a request head is closed to make room.
    max_connections: int = 1000
    handler_threads: int = 8
    shutdown_grace_seconds: float = 30.0
    backlog: int = 2048


def load_function(code_dir: Path, handler: str) -> Callable[[bytes, Any], Any]:
    """Load `file.function` from `code_dir` by file path, as FC does with a function's code directory."""
    module_name, _, attribute = handler.rpartition(".")
    path = code_dir / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(f"certdeploy_function_{code_dir.name}_{module_name}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no function module at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function: Callable[[bytes, Any], Any] = getattr(module, attribute)
    return function


def api_function_runner(container: Container, code_dir: Path = DEFAULT_API_CODE_DIR) -> EventHandler:
    """Event bytes → the API function's reply, the function running in-process on `container`."""
    function = load_function(code_dir, API_HANDLER)

    def run(event: bytes) -> dict[str, Any]:
        reply: dict[str, Any] = function(
            event, FcContext(function=FunctionMeta("api", API_HANDLER), container=container)
        )
        return reply

    return run


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    payload: bytes
    close: bool = False


class Refused(Exception):
    """A request the front answers itself, with a CAS error body, closing the connection."""

    def __init__(self, status: HTTPStatus, code: str, message: str = "") -> None:
        super().__init__(code)
        self.error = ApiError(status.value, code, message or status.description)

    def reply(self) -> Reply:
        return _error_reply(self.error, close=True)


def _error_reply(error: ApiError, close: bool = False) -> Reply:
    body = error_body(error, request_id=new_request_id(), host_id=HOST_ID)
    return Reply(error.status, {"Content-Type": JSON_CONTENT_TYPE}, json.dumps(body).encode(), close)


class ApiFront:
    """The ASGI application: HTTP request → HTTP-trigger event → the API function on `executor` → HTTP reply."""

    def __init__(self, answer_event: EventHandler, limits: FrontLimits, executor: Executor) -> None:
        self._answer_event = answer_event
        self._limits = limits
        self._executor = executor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        try:
            reply = await self._answer(scope, receive)
        except Refused as refusal:
            reply = refusal.reply()
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in reply.headers.items()
            if name.lower() not in ("content-length", "connection", "transfer-encoding")
        ]
        headers.append((b"content-length", str(len(reply.payload)).encode()))
        if reply.close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.payload})
        if log.isEnabledFor(logging.DEBUG):
            client = (scope.get("client") or ("-",))[0]
            target = redacted_target(scope["raw_path"].decode("latin-1"), scope["query_string"].decode("latin-1"))
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.debug('%s "%s %s" %d %.1f ms', client, scope["method"], target, reply.status, elapsed_ms)

    async def _answer(self, scope: Scope, receive: Receive) -> Reply:
        method = scope["method"]
        if method == "GET" and scope["path"] == HEALTH_PATH:
            return Reply(200, {"Content-Type": "application/json"}, b'{"status":"ok"}')
        if method not in FORWARDED_METHODS:
            raise Refused(HTTPStatus.NOT_IMPLEMENTED, "NotImplemented", f"Unsupported method ({method!r}).")
        if len(scope["raw_path"]) + 1 + len(scope["query_string"]) > self._limits.max_request_line:
            raise Refused(HTTPStatus.REQUEST_URI_TOO_LONG, "RequestUriTooLong")
        body = await self._read_body(scope, receive)
        try:
            query = form_decode(scope["query_string"].decode("latin-1"), what="query string")
        except ApiError as error:
            return _error_reply(error)
        event = json.dumps(http_trigger_event(scope, query, body)).encode("utf-8")
        try:
            reply = await asyncio.get_running_loop().run_in_executor(self._executor, self._answer_event, event)
            return _unpack(reply)
        except Exception:  # the function's own failure: FC would answer an error too; ours is a CAS body
            log.exception("the API function failed on %s %s", method, scope["path"])
            return _error_reply(internal_error())

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        headers = _joined((name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"])
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise Refused(HTTPStatus.LENGTH_REQUIRED, "MissingContentLength", "Send the body with a Content-Length.")
        length = int(headers.get("content-length") or 0)  # h11 has checked it is one decimal number
        if length > self._limits.max_body_bytes:
            raise Refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "RequestTooLarge",
                f"The body is {length} bytes; at most {self._limits.max_body_bytes} are accepted.",
            )
        deadline = asyncio.get_running_loop().time() + self._limits.read_timeout_seconds
        chunks: list[bytes] = []
        while True:
            try:
                message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except asyncio.TimeoutError as error:
                raise Refused(HTTPStatus.REQUEST_TIMEOUT, "RequestTimeout", "The body did not arrive in time.") from (
                    error
                )
            if message["type"] == "http.disconnect":
                raise Refused(HTTPStatus.BAD_REQUEST, "IncompleteBody", "The client went away before its body.")
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)


def http_trigger_event(scope: Scope, query: Iterable[tuple[str, str]], body: bytes) -> dict[str, Any]:
    """The FC 3.0 HTTP-trigger event of one request (events/http_trigger_request.json): repeated headers and
    parameters comma-joined, the body in Base64."""
    headers = _joined((name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"])
    host = headers.get("host", "")
    now = datetime.now(timezone.utc)
    return {
        "version": "v1",
        "rawPath": scope["raw_path"].decode("latin-1") or "/",
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
        "headers": headers,
        "queryParameters": _joined(query),
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": scope["method"],
                "path": scope["path"] or "/",
                "protocol": f"HTTP/{scope['http_version']}",
                "sourceIp": (scope.get("client") or ("",))[0],
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": new_request_id(),
            "time": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "timeEpoch": str(int(now.timestamp() * 1000)),
        },
    }


def redacted_target(path: str, query_string: str) -> str:
    """The request target as logged: secret-bearing values and PEM replaced, at most LOGGED_TARGET_CHARS long."""
    if query_string:
        pairs = parse_qsl(query_string, keep_blank_values=True, errors="replace")
        shown = [
            (name, REDACTED if SECRET_PARAMETER.search(name) or "-----BEGIN" in value else value)
            for name, value in pairs
        ]
        path = f"{path}?{urlencode(shown, safe='*')}"
    return path if len(path) <= LOGGED_TARGET_CHARS else path[:LOGGED_TARGET_CHARS] + "…"


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Name → value, the values of a repeated name comma-joined, as the HTTP trigger delivers them."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in grouped.items()}


def _unpack(reply: dict[str, Any]) -> Reply:
    """A trigger reply `{statusCode, headers, isBase64Encoded, body}` as status, headers and body bytes."""
    headers = {str(name): str(value) for name, value in (reply.get("headers") or {}).items()}
    body = reply.get("body") or ""
    payload = base64.b64decode(body) if reply.get("isBase64Encoded") else str(body).encode("utf-8")
    return Reply(int(reply["statusCode"]), headers, payload)
