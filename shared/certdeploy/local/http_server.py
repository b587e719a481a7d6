"""The HTTP server under the local front (`certdeploy.local.http_front`): uvicorn with its h11 protocol, chosen and
tuned as docs/runtime.md#local-runner says.

What uvicorn gives: an asyncio server (idle and slow connections cost no thread), a listen backlog of 2048, HTTP/1.1
keep-alive with an idle timeout, refusal of malformed requests and of conflicting
Content-Length headers with 400 (h11), and a graceful shutdown that stops accepting, closes idle connections and lets
requests in flight finish. What this module adds, in `FrontProtocol`:
- TCP_NODELAY on every connection, so a kept-alive call costs no delayed-ACK wait;
- a request-head timeout: h11 in uvicorn waits for a head forever once a byte has arrived (its keep-alive timer stops
  at the first byte, and there is none before the first request), so a connection whose head is not complete within
  `read_timeout_seconds` of its start, or of its previous reply, is closed;
- a connection cap: past `max_connections` (kept below the process's file-descriptor limit), the connection that has
  been waiting longest for a request head is closed to make room; when every connection is busy with a request, the
  newcomer's request is answered 503 and its connection closed.
h11's head-size limit is raised so that a request line of `max_request_line` bytes plus ordinary headers is read.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from certdeploy.api.errors import ApiError, error_body, new_request_id
from certdeploy.bootstrap.container import Container
from certdeploy.local.http_front import (
    DEFAULT_API_CODE_DIR,
    HOST_ID,
    JSON_CONTENT_TYPE,
    ApiFront,
    EventHandler,
    FrontLimits,
    Receive,
    Scope,
    Send,
    api_function_runner,
)

# Room for the headers beside a request line of `max_request_line` bytes in h11's head-size limit.
HEADERS_ALLOWANCE = 64 * 1024
# File descriptors kept for the store, queues and logs when the connection cap is fitted under the process limit.
RESERVED_DESCRIPTORS = 64


def connection_cap(wanted: int) -> int:
    """`wanted`, lowered to fit the process's soft limit on open files."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_DESCRIPTORS))


async def _busy(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI app of a connection past the cap: 503, and the connection closes."""
    error = ApiError(503, "ServiceUnavailable", "Too many connections; retry the request later.")
    body = json.dumps(error_body(error, request_id=new_request_id(), host_id=HOST_ID)).encode()
    headers = [
        (b"content-type", JSON_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FrontConfig(uvicorn.Config):
    """uvicorn's configuration plus the front's limits, which `FrontProtocol` reads."""

    def __init__(self, app: ApiFront, limits: FrontLimits, **options: Any) -> None:
        self.limits = limits
        self.max_connections = connection_cap(limits.max_connections)
        super().__init__(app, **options)


class FrontProtocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head timeout and a connection cap (see the module's docstring)."""

    config: FrontConfig

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # uvicorn writes a reply's head and body in two writes: without TCP_NODELAY the body waits for the client's
        # delayed ACK (~40 ms) on a kept-alive connection. asyncio sets it only on sockets created with
        # IPPROTO_TCP, which the listening socket bound by `ApiHttpServer` is not.
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._head_deadline: asyncio.TimerHandle | None = None
        self.waiting_since = 0.0
        super().connection_made(transport)
        self._arm_head_deadline()
        if len(self.connections) > self.config.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if not self.awaiting_head:
            self._cancel_head_deadline()

    def on_response_complete(self) -> None:
        self._arm_head_deadline()
        super().on_response_complete()

    @property
    def awaiting_head(self) -> bool:
        """Between requests or inside a head not yet complete: nothing of ours is in flight."""
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self.waiting_since = self.loop.time()
        self._head_deadline = self.loop.call_later(self.config.limits.read_timeout_seconds, self._head_timed_out)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.awaiting_head:
            self.transport.close()

    def _make_room(self) -> None:
        waiting = [
            other
            for other in self.connections
            if isinstance(other, FrontProtocol) and other is not self and other.awaiting_head
        ]
        if waiting:
            min(waiting, key=lambda other: other.waiting_since).transport.close()
        else:
            self.app = _busy


class ApiHttpServer:
    """The front on uvicorn, bound at construction (`port` 0 picks a free port; see `endpoint`); `serve_forever`
    blocks until `shutdown`, `server_close` releases the socket and the handler threads."""

    def __init__(
        self,
        app: Container | EventHandler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: FrontLimits | None = None,
        api_code_dir: Path = DEFAULT_API_CODE_DIR,
    ) -> None:
        self.limits = limits or FrontLimits()
        answer_event = api_function_runner(app, api_code_dir) if isinstance(app, Container) else app
        self._executor = ThreadPoolExecutor(self.limits.handler_threads, thread_name_prefix="certdeploy-api")
        self._socket = socket.create_server((host, port), backlog=self.limits.backlog)
        config = FrontConfig(
            ApiFront(answer_event, self.limits, self._executor),
            self.limits,
            http=FrontProtocol,
            loop="asyncio",
            interface="asgi3",
            lifespan="off",
            ws="none",
            log_config=None,
            access_log=False,  # the front logs each request itself, redacted
            proxy_headers=False,  # the caller's address is the peer's, never a header's
            server_header=False,
            backlog=self.limits.backlog,
            timeout_keep_alive=self.limits.keep_alive_seconds,
            timeout_graceful_shutdown=self.limits.shutdown_grace_seconds,
            h11_max_incomplete_event_size=self.limits.max_request_line + HEADERS_ALLOWANCE,
        )
        self._server = uvicorn.Server(config)

    @property
    def server_address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def endpoint(self) -> str:
        """`host:port` as the SDK's `Config(endpoint=…)` takes it."""
        host, port = self.server_address
        return f"{host}:{port}"

    def serve_forever(self) -> None:
        self._server.run(sockets=[self._socket])

    def shutdown(self) -> None:
        """Ask `serve_forever` to stop: no new connections, idle ones closed, requests in flight finished (for at
        most `shutdown_grace_seconds`)."""
        self._server.should_exit = True

    def server_close(self) -> None:
        self._socket.close()
        self._executor.shutdown(wait=False)


@contextmanager
def serving(server: ApiHttpServer) -> Iterator[ApiHttpServer]:
    """Serve on a background thread for the duration of the block; shut down and close after it."""
    thread = threading.Thread(target=server.serve_forever, name="api-http-front", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=server.limits.shutdown_grace_seconds + 5)
        server.server_close()
