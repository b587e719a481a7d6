"""What the wire-level test servers share: serving on 127.0.0.1 at an ephemeral port from a daemon thread, the request
handler plumbing, and, for the cloud API servers, the one AccessKey they accept, the `ApiTarget` that reaches them,
the log of authenticated calls and the queue of injected faults.

    class FooTestServer(CloudApiTestServer[FooCall, FooError]):
        handler_class = _FooHandler                  # a LoopbackRequestHandler whose `serve` answers one request

    with FooTestServer(...) as server:               # started on 127.0.0.1:PORT, stopped on exit
        deployer = FooDeployer(server.credentials(), server.target())
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import SecretStr

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials

LOOPBACK_HOST = "127.0.0.1"
# A short poll interval keeps shutdown, and so each test's teardown, quick.
POLL_INTERVAL_SECONDS = 0.02

_ServerT = TypeVar("_ServerT", bound="LoopbackHttpServer")
_CallT = TypeVar("_CallT")
_ErrorT = TypeVar("_ErrorT", bound=Exception)


class ServiceError(Exception):
    """An error answer of a REST service: the HTTP status, the service's error code and its message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class BoundHttpServer(ThreadingHTTPServer):
    """The stdlib server on 127.0.0.1:0; `test_server` is the test server whose requests it answers."""

    daemon_threads = True

    def __init__(self, handler_class: type[BaseHTTPRequestHandler], test_server: LoopbackHttpServer) -> None:
        super().__init__((LOOPBACK_HOST, 0), handler_class)
        self.test_server: Any = test_server

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) is expected; anything else is reported as the stdlib does."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive (what the SDKs' connection pools expect), no access log; every method goes to `serve`."""

    server: BoundHttpServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle on, the client's delayed ACK costs ~40 ms per call.
    disable_nagle_algorithm = True

    def serve(self) -> None:
        raise NotImplementedError

    def _dispatch(self) -> None:
        self.serve()

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _dispatch

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def lowered_headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def send_reply(self, status: int, payload: bytes, headers: Mapping[str, str]) -> None:
        """Answer `payload` with `headers` (Content-Length is added)."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: failures show through the tests' assertions and the servers' call records, not access logs."""


class LoopbackHttpServer:
    """Answers requests with `handler_class` on 127.0.0.1 at an ephemeral port, from a daemon thread, once started.

    A context manager: entering starts it, leaving stops it. Starting or stopping twice does nothing more.
    """

    handler_class: ClassVar[type[BaseHTTPRequestHandler]]
    thread_name: ClassVar[str] = "loopback-test-server"

    def __init__(self) -> None:
        self._http: BoundHttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("the server is not started")
        return int(self._http.server_address[1])

    @property
    def endpoint(self) -> str:
        """`127.0.0.1:PORT`, what the SDKs take as endpoint."""
        return f"{LOOPBACK_HOST}:{self.port}"

    def start(self: _ServerT) -> _ServerT:
        if self._http is None:
            http = BoundHttpServer(self.handler_class, self)
            thread = threading.Thread(
                target=http.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
                name=self.thread_name,
                daemon=True,
            )
            thread.start()
            self._http, self._thread = http, thread
        return self

    def stop(self) -> None:
        if self._http is None:
            return
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._http, self._thread = None, None

    def __enter__(self: _ServerT) -> _ServerT:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass
class _Fault(Generic[_ErrorT]):
    remaining: int
    error: _ErrorT


class FaultQueue(Generic[_ErrorT]):
    """Errors queued per operation: each answers the next `times` calls of its operation, in the order queued."""

    def __init__(self) -> None:
        self._queued: dict[str, list[_Fault[_ErrorT]]] = {}
        self._lock = threading.Lock()

    def add(self, operation: str, error: _ErrorT, *, times: int) -> None:
        with self._lock:
            self._queued.setdefault(operation, []).append(_Fault(times, error))

    def take(self, operation: str) -> _ErrorT | None:
        """The error the next call of `operation` answers, or None when it runs."""
        with self._lock:
            queued = self._queued.get(operation, [])
            while queued and queued[0].remaining <= 0:
                queued.pop(0)
            if not queued:
                return None
            queued[0].remaining -= 1
            return queued[0].error


class CallLog(Generic[_CallT]):
    """Calls in arrival order, appended from the serving threads; `operation_of` names a call's operation."""

    def __init__(self, operation_of: Callable[[_CallT], str]) -> None:
        self._operation_of = operation_of
        self._calls: list[_CallT] = []
        self._lock = threading.Lock()

    def append(self, call: _CallT) -> None:
        with self._lock:
            self._calls.append(call)

    def all(self) -> list[_CallT]:
        with self._lock:
            return list(self._calls)

    def of(self, operation: str) -> list[_CallT]:
        return [call for call in self.all() if self._operation_of(call) == operation]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


class CloudApiTestServer(LoopbackHttpServer, Generic[_CallT, _ErrorT]):
    """A cloud API on loopback that accepts one AccessKey (and, when given one, only that STS token), records every
    authenticated call in `_call_log` and answers the faults queued in `_faults` instead of running a call."""

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        security_token: str | None,
        operation_of: Callable[[_CallT], str],
    ) -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.security_token = security_token
        self._call_log: CallLog[_CallT] = CallLog(operation_of)
        self._faults: FaultQueue[_ErrorT] = FaultQueue()

    def credentials(self) -> CloudCredentials:
        """Credentials the server accepts."""
        return CloudCredentials(
            access_key_id=self.access_key_id,
            access_key_secret=SecretStr(self.access_key_secret),
            security_token=SecretStr(self.security_token) if self.security_token else None,
        )

    def target(self, **settings: Any) -> ApiTarget:
        """How a deployer reaches this server (plain HTTP, short timeouts); `settings` override ApiTarget fields."""
        return ApiTarget(
            **{"endpoint": self.endpoint, "protocol": "http", "connect_timeout_ms": 2000, "read_timeout_ms": 5000}
            | settings
        )

    @property
    def calls(self) -> list[_CallT]:
        """Every authenticated call, in arrival order, with the status it got."""
        return self._call_log.all()

    def calls_of(self, operation: str) -> list[_CallT]:
        return self._call_log.of(operation)
