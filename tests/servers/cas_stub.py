"""A tiny threaded HTTP server speaking the CAS RPC protocol: it authenticates every request with
`certdeploy.api.auth`, parses it with `certdeploy.api.rpc`, records what it understood, and answers what a test's
responder returns (or a CAS error body).

It accepts request lines up to 1 MiB (UploadUserCertificate's PEM travels in the query string), as the production
front does.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from certdeploy.api.auth import AccessKeyLookup, Caller, NonceRegistry, authenticate
from certdeploy.api.errors import ApiError, error_body, internal_error, new_request_id
from certdeploy.api.rpc import RpcRequest
from tests.servers.loopback import BoundHttpServer, LoopbackHttpServer

HOST_ID = "cas.aliyuncs.com"
MAX_REQUEST_LINE = 1024 * 1024


class ShiftedClock:
    """System time plus an offset the test sets: the SDK signs with the real time, the server may be ahead."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


@dataclass(frozen=True)
class RawRequest:
    """A request as it came over the wire, so a test can send the very same bytes again."""

    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class UnderstoodCall:
    """What the server made of one authenticated request."""

    caller: Caller
    request: RpcRequest
    reply: dict[str, Any]


Responder = Callable[[RpcRequest, Caller], dict[str, Any]]


class _LongRequestLineHandler(BaseHTTPRequestHandler):
    """`BaseHTTPRequestHandler` reading request lines up to 1 MiB: the stdlib reads the request line with
    `rfile.readline(65537)` and answers 414 past 65,536 bytes (`BaseHTTPRequestHandler.handle_one_request`, Python
    3.10–3.13); this reads up to its own limit and otherwise does what the stdlib does."""

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.requestline = ""
                self.request_version = ""
                self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            handler = getattr(self, f"do_{self.command}", None)
            if handler is None:
                self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
                return
            handler()
            self.wfile.flush()
        except TimeoutError as error:
            self.log_error("Request timed out: %r", error)
            self.close_connection = True


class _CasRequestHandler(_LongRequestLineHandler):
    server: BoundHttpServer

    def do_POST(self) -> None:
        stub: CasStubServer = self.server.test_server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        stub.received.append(RawRequest(target=self.path, headers=tuple(self.headers.items()), body=body))
        try:
            request = RpcRequest.from_http(
                method=self.command,
                target=self.path,
                headers=self.headers.items(),
                body=body,
                source=self.client_address[0],
            )
            caller = authenticate(request, stub.keys, stub.nonces, stub.clock)
            reply = {"RequestId": new_request_id(), **stub.responder(request, caller)}
            stub.calls.append(UnderstoodCall(caller=caller, request=request, reply=reply))
            self._send_json(HTTPStatus.OK, reply)
        except ApiError as error:
            self._send_json(error.status, error_body(error, request_id=new_request_id(), host_id=HOST_ID))
        except Exception:
            stub.failures.append(traceback.format_exc())
            self._send_json(500, error_body(internal_error(), request_id=new_request_id(), host_id=HOST_ID))

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows failures through assertions, not access logs."""


class CasStubServer(LoopbackHttpServer):
    """Answers CAS RPC calls with `responder` on 127.0.0.1 (ephemeral port) once started."""

    handler_class = _CasRequestHandler
    thread_name = "cas-stub"

    def __init__(self, keys: AccessKeyLookup, nonces: NonceRegistry, clock: ShiftedClock, responder: Responder) -> None:
        super().__init__()
        self.keys = keys
        self.nonces = nonces
        self.clock = clock
        self.responder = responder
        self.calls: list[UnderstoodCall] = []
        self.received: list[RawRequest] = []
        self.failures: list[str] = []
