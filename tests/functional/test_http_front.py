"""The local HTTP front at the socket level: what it refuses (request smuggling, malformed requests), how it keeps
idle, half-sent and surplus connections from starving the others, graceful shutdown, and its redacted access log.
The API function is replaced by plain callables here; tests/functional/test_api_events.py drives the real one."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlencode

import pytest

from certdeploy.local.http_front import FrontLimits
from certdeploy.local.http_server import ApiHttpServer, serving

SOCKET_TIMEOUT = 20.0
REPLY = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "isBase64Encoded": False, "body": "{}"}


def _answer(event: bytes) -> dict[str, Any]:
    return REPLY


@contextmanager
def _front(answer: Callable[[bytes], dict[str, Any]] = _answer, **limits: Any) -> Iterator[ApiHttpServer]:
    with serving(ApiHttpServer(answer, limits=FrontLimits(**limits))) as server:
        yield server


def _connect(server: ApiHttpServer) -> socket.socket:
    return socket.create_connection(server.server_address, timeout=SOCKET_TIMEOUT)


def _read_reply(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def _closed_by_server(connection: socket.socket) -> bool:
    """Whether the server closed the connection without a reply (a reset counts: it may close before it read)."""
    try:
        return _read_reply(connection) == b""
    except ConnectionResetError:
        return True


def _exchange(server: ApiHttpServer, request: bytes) -> bytes:
    with _connect(server) as connection:
        connection.sendall(request)
        return _read_reply(connection)


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def _call(server: ApiHttpServer, target: str = "/?Action=ListContact") -> int:
    return _status(_exchange(server, f"POST {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()))


def _half_sent(server: ApiHttpServer) -> socket.socket:
    connection = _connect(server)
    connection.sendall(b"POST /?Action=ListContact HTTP/1.1\r\nHost: t\r\n")
    return connection


@pytest.fixture
def server() -> Iterator[ApiHttpServer]:
    with _front() as running:
        yield running


def test_two_content_lengths_that_differ_are_refused_with_400(server: ApiHttpServer) -> None:
    reply = _exchange(server, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 7\r\n\r\nabcdefg")

    assert reply.startswith(b"HTTP/1.1 400 ") and b"connection: close" in reply.lower()


def test_identical_content_lengths_read_as_one_and_a_chunked_body_beside_one_is_refused(server: ApiHttpServer) -> None:
    # RFC 9112 §6.3: identical duplicates announce one framing; a chunked body with a Content-Length gets 411.
    same = _exchange(
        server, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    )
    both = _exchange(
        server,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )

    assert _status(same) == 200
    assert _status(both) == 411 and b"connection: close" in both.lower()


def test_a_malformed_request_line_is_answered_400_with_a_status_line(server: ApiHttpServer) -> None:
    for request in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n", b"GET /\x00 HTTP/1.1\r\n\r\n"):
        assert _exchange(server, request).startswith(b"HTTP/1.1 400 "), request


def test_calls_on_one_kept_alive_connection_are_all_answered(server: ApiHttpServer) -> None:
    connection = http.client.HTTPConnection(*server.server_address, timeout=SOCKET_TIMEOUT)
    try:
        for _ in range(3):
            connection.request("POST", "/?Action=ListContact")
            response = connection.getresponse()
            assert (response.status, response.read(), response.will_close) == (200, b"{}", False)
    finally:
        connection.close()


def test_half_sent_requests_do_not_stop_others_from_being_served(server: ApiHttpServer) -> None:
    with ExitStack() as stack:
        for _ in range(50):
            stack.enter_context(_half_sent(server))

        assert [_call(server) for _ in range(3)] == [200, 200, 200]


def test_a_request_head_that_never_completes_is_closed_after_the_read_timeout() -> None:
    with _front(read_timeout_seconds=0.3) as server, _half_sent(server) as connection:
        assert _closed_by_server(connection)  # long before the socket's own timeout


def test_a_body_that_never_arrives_is_answered_408() -> None:
    with _front(read_timeout_seconds=0.3) as server, _connect(server) as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        reply = _read_reply(connection)

    assert _status(reply) == 408 and json.loads(reply.partition(b"\r\n\r\n")[2])["Code"] == "RequestTimeout"


def test_past_the_connection_cap_the_longest_waiting_connection_makes_room() -> None:
    with _front(max_connections=4) as server, ExitStack() as stack:
        oldest = stack.enter_context(_half_sent(server))
        for _ in range(3):
            stack.enter_context(_half_sent(server))

        assert _call(server) == 200
        assert _closed_by_server(oldest)


def test_past_the_connection_cap_with_every_connection_busy_a_newcomer_gets_503() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow(event: bytes) -> dict[str, Any]:
        started.release()
        release.wait(SOCKET_TIMEOUT)
        return REPLY

    with _front(slow, max_connections=2) as server, ThreadPoolExecutor(2) as pool:
        busy = [pool.submit(_call, server) for _ in range(2)]
        for _ in busy:
            assert started.acquire(timeout=SOCKET_TIMEOUT)
        refused = _exchange(server, b"POST / HTTP/1.1\r\nHost: t\r\n\r\n")
        release.set()

        assert [call.result() for call in busy] == [200, 200]
    assert _status(refused) == 503 and json.loads(refused.partition(b"\r\n\r\n")[2])["Code"] == "ServiceUnavailable"


def test_shutdown_lets_the_request_in_flight_finish() -> None:
    release = threading.Event()
    started = threading.Event()

    def slow(event: bytes) -> dict[str, Any]:
        started.set()
        release.wait(SOCKET_TIMEOUT)
        return REPLY

    server = ApiHttpServer(slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with ThreadPoolExecutor(1) as pool:
        in_flight: Future[int] = pool.submit(_call, server)
        assert started.wait(SOCKET_TIMEOUT)
        server.shutdown()
        release.set()

        assert in_flight.result() == 200
    thread.join(SOCKET_TIMEOUT)
    server.server_close()
    assert not thread.is_alive()
    with pytest.raises(OSError):
        _call(server)


def test_the_access_log_shows_requests_without_keys_certificates_signatures_or_secrets(
    server: ApiHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = {
        "Key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----",
        "Cert": "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+g\n-----END CERTIFICATE-----",
        "Signature": "c2lnbmF0dXJlLXZhbHVl",
        "AccessKeySecret": "very-secret-value",
        "SecurityToken": "sts-token-value",
        "Content": "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    }
    caplog.set_level(logging.DEBUG, logger="certdeploy")
    assert _call(server, "/?" + urlencode({"Action": "UploadUserCertificate", "Name": "web", **secrets})) == 200

    [line] = [record.getMessage() for record in caplog.records if "UploadUserCertificate" in record.getMessage()]
    assert "Name=web" in line and " 200 " in line
    for name, value in secrets.items():
        assert f"{name}=***" in line
        assert value not in line and value.split("\n")[0] not in line
