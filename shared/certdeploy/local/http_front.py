"""The local HTTP front of the API (what `certdeploy serve` listens with): each request becomes an API Gateway event
(docs/runtime.md#api-gateway-event) fed, as bytes, to the API function loaded from its code directory the way FC loads
it (`functions/api`, handler `handler.handler`); the function's reply dict is written back.

HTTP limits:
- Request line up to `max_request_line` bytes (1 MiB by default): UploadUserCertificate carries PEM in the query
  string. The stdlib handler reads the request line with `rfile.readline(65537)` and answers 414 past 65,536 bytes
  (`BaseHTTPRequestHandler.handle_one_request`, Python 3.10–3.13); `LongRequestLineHandler` reads up to its own limit
  and otherwise does what the stdlib does. Header lines keep the stdlib limits (65,536 bytes each, 100 headers:
  `http.client.parse_headers`), ample for the SDKs.
- Body up to `max_body_bytes` (1 MiB by default; CAS operations send none), announced by Content-Length; chunked
  bodies are refused with 411. A refused request closes the connection, since its body was not read.
- `GET /health` answers 200 once the function is loaded.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from certdeploy.api.errors import ApiError, error_body, internal_error, new_request_id
from certdeploy.api.rpc import form_decode
from certdeploy.bootstrap.container import Container
from certdeploy.local.context import FcContext, FunctionMeta

MAX_REQUEST_LINE = 1024 * 1024
MAX_BODY_BYTES = 1024 * 1024
HEALTH_PATH = "/health"
HOST_ID = "cas.aliyuncs.com"
API_HANDLER = "handler.handler"
# The repository's functions/api, next to shared/ (this file is shared/certdeploy/local/http_front.py).
DEFAULT_API_CODE_DIR = Path(__file__).resolve().parents[3] / "functions" / "api"

EventHandler = Callable[[bytes], dict[str, Any]]
log = logging.getLogger(__name__)


class LongRequestLineHandler(BaseHTTPRequestHandler):
    """`BaseHTTPRequestHandler` with a configurable request-line limit (1 MiB instead of 64 KiB)."""

    max_request_line = MAX_REQUEST_LINE

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(self.max_request_line + 1)
            if len(self.raw_requestline) > self.max_request_line:
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


class ApiHttpServer(ThreadingHTTPServer):
    """Threaded HTTP server in front of the API function. `port` 0 picks a free port (see `endpoint`)."""

    daemon_threads = True

    def __init__(
        self,
        app: Container | EventHandler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_request_line: int = MAX_REQUEST_LINE,
        max_body_bytes: int = MAX_BODY_BYTES,
        api_code_dir: Path = DEFAULT_API_CODE_DIR,
    ) -> None:
        self.answer_event: EventHandler = api_function_runner(app, api_code_dir) if isinstance(app, Container) else app
        self.max_request_line = max_request_line
        self.max_body_bytes = max_body_bytes
        super().__init__((host, port), ApiRequestHandler)

    @property
    def endpoint(self) -> str:
        """`host:port` as the SDK's `Config(endpoint=…)` takes it."""
        host, port = self.server_address[:2]
        return f"{host}:{port}"


class ApiRequestHandler(LongRequestLineHandler):
    server: ApiHttpServer
    protocol_version = "HTTP/1.1"

    def handle_one_request(self) -> None:
        self.max_request_line = self.server.max_request_line
        super().handle_one_request()

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self._send(HTTPStatus.OK, {"Content-Type": "application/json"}, b'{"status":"ok"}')
            return
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def _forward(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path, _, raw_query = self.path.partition("?")
        try:
            query = form_decode(raw_query, what="query string")
        except ApiError as error:
            self._send_error(error)
            return
        event = {
            "path": path or "/",
            "httpMethod": self.command,
            "headers": _grouped(self.headers.items()),
            "queryParameters": _grouped(query, case_sensitive=True),
            "pathParameters": {},
            "body": base64.b64encode(body).decode("ascii"),
            "isBase64Encoded": True,
        }
        try:
            reply = self.server.answer_event(json.dumps(event).encode("utf-8"))
            status, headers, payload = _unpack(reply)
        except Exception:  # the function's own failure: FC would answer an error too; ours is a CAS body
            log.exception("the API function failed on %s %s", self.command, path)
            self._send_error(internal_error())
            return
        self._send(status, headers, payload)

    def _read_body(self) -> bytes | None:
        """The request body, or None when the request was refused (and answered) instead."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._refuse(HTTPStatus.LENGTH_REQUIRED, "MissingContentLength", "Send the body with a Content-Length.")
            return None
        length_text = self.headers.get("Content-Length") or "0"
        if not length_text.isdecimal():
            self._refuse(HTTPStatus.BAD_REQUEST, "InvalidContentLength", "Content-Length is not a number.")
            return None
        length = int(length_text)
        if length > self.server.max_body_bytes:
            self._refuse(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "RequestTooLarge",
                f"The body is {length} bytes; at most {self.server.max_body_bytes} are accepted.",
            )
            return None
        return self.rfile.read(length)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """HTTP-level refusals (request line too long, malformed request, unknown method) as CAS error bodies too."""
        status = HTTPStatus(code)
        self.close_connection = True
        code_name = "".join(word.capitalize() for word in re.split(r"[^A-Za-z0-9]+", status.phrase))
        self._send_error(ApiError(status.value, code_name, message or status.description))

    def _refuse(self, status: HTTPStatus, code: str, message: str) -> None:
        self.close_connection = True
        self._send_error(ApiError(status.value, code, message))

    def _send_error(self, error: ApiError) -> None:
        body = error_body(error, request_id=new_request_id(), host_id=HOST_ID)
        self._send(error.status, {"Content-Type": "application/json;charset=utf-8"}, json.dumps(body).encode())

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Access lines go to debug logging: the API service logs one line per request already."""
        log.debug("%s " + format, self.address_string(), *args)


def _grouped(pairs: Any, *, case_sensitive: bool = False) -> dict[str, str | list[str]]:
    """Name → value, or a list of values when the name repeats (header names keep their first spelling)."""
    grouped: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name, value in pairs:
        key = name if case_sensitive else name.lower()
        spelling.setdefault(key, name)
        grouped.setdefault(key, []).append(value)
    return {spelling[key]: values[0] if len(values) == 1 else values for key, values in grouped.items()}


def _unpack(reply: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body bytes of a trigger reply `{statusCode, headers, isBase64Encoded, body}`."""
    status = int(reply["statusCode"])
    headers = {str(name): str(value) for name, value in (reply.get("headers") or {}).items()}
    body = reply.get("body") or ""
    payload = base64.b64decode(body) if reply.get("isBase64Encoded") else str(body).encode("utf-8")
    return status, headers, payload


@contextmanager
def serving(server: ApiHttpServer) -> Iterator[ApiHttpServer]:
    """Serve on a background thread for the duration of the block; shut down and close after it."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="api-http-front", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
