"""The HTTP front fuzzed at the byte level (issue 10, beside the action fuzz of tests/functional/test_api_fuzz.py):
whatever bytes a client sends, as a whole request or as request lines and header variants, the front in front of
the real API function answers with well-formed status lines (or closes), never a 5xx but 501 for a method it does
not forward (RFC 9110 §15.6.2) and 503 past the connection cap, and keeps serving `/health` afterwards."""

from __future__ import annotations

import re
import socket
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certdeploy.local.http_front import FORWARDED_METHODS
from certdeploy.local.http_server import ApiHttpServer
from tests.conftest import examples

SOCKET_TIMEOUT = 30.0
PATIENCE = 0.3
STATUS_LINE = re.compile(rb"HTTP/1\.1 ([1-5]\d\d) [^\r\n]*\r\n")
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)\r\n", re.IGNORECASE)

methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "HEAD", "OPTIONS", "CONNECT", "TRACE", "get", "P\x00ST", ""]),
    st.text(max_size=12),
)
targets = st.one_of(
    st.sampled_from(["/", "/health", "/?Action=ListContact&Version=2020-04-07", "*", "http://x/", "/%", "/?%zz"]),
    st.text(max_size=80).map(lambda text: "/" + text),
    st.binary(max_size=80).map(lambda raw: "/" + raw.decode("latin-1")),
)
versions = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1.1x", "HTTP/9.9", "", "http/1.1"])
lengths = st.one_of(
    st.integers(min_value=-5, max_value=2**64).map(str),
    st.sampled_from(["", " 3", "3 ", "0x10", "1,1", "3, 3", "+3", "١"]),
)
header_lines = st.one_of(
    st.tuples(st.sampled_from(["Content-Length", "content-length", "Content-Length "]), lengths),
    st.tuples(
        st.sampled_from(["Transfer-Encoding", "transfer-encoding"]), st.sampled_from(["chunked", "gzip, chunked", "x"])
    ),
    st.tuples(
        st.sampled_from(["Host", "Connection", "Expect", "Content-Type", "Authorization", "x-acs-signature-nonce"]),
        st.text(max_size=40),
    ),
    st.tuples(st.text(max_size=20), st.text(max_size=40)),
    st.tuples(st.just(" folded"), st.text(max_size=20)),
)
parameter_names = st.one_of(
    st.sampled_from(
        ["Action", "Version", "AccessKeyId", "Signature", "SignatureNonce", "Timestamp", "Format", "JobId"]
    ),
    st.text(max_size=12),
)
# Header names and values h11 accepts, for requests that are to reach the API function.
VALUE_CHARACTERS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
header_names = st.one_of(
    st.sampled_from(
        ["Content-Type", "Authorization", "x-acs-signature-nonce", "x-acs-action", "x-acs-date", "x-acs-version"]
    ),
    st.text("abcdefghijklmnopqrstuvwxyz-0123456789!#$%&'*+.^_`|~", min_size=1, max_size=20),
)
line_ends = st.sampled_from(["\r\n", "\n", "\r"])


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """A request line, header lines in any of their variants, and a body, each possibly malformed."""
    end = draw(line_ends)
    lines = [f"{draw(methods)} {draw(targets)} {draw(versions)}"]
    lines += [
        f"{name}: {value}" if not name.startswith(" ") else name + value
        for name, value in draw(st.lists(header_lines, max_size=6))
    ]
    head = end.join(lines) + end + end
    return head.encode("utf-8", "surrogateescape") + draw(st.binary(max_size=200))


@st.composite
def framed_requests(draw: st.DrawFn) -> bytes:
    """Well-framed requests (so they reach the API function) with arbitrary targets, header variants and bodies."""
    body = draw(st.binary(max_size=200))
    query = draw(st.lists(st.tuples(parameter_names, st.text(max_size=40)), max_size=5))
    target = draw(st.sampled_from(["/", "/health", "/x/y", "/?"])) + urlencode(query)
    headers = draw(st.lists(st.tuples(header_names, st.text(VALUE_CHARACTERS, max_size=60)), max_size=4))
    lines = [f"{draw(st.sampled_from(['GET', 'POST', 'PUT']))} {target} HTTP/1.1", "Host: t", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("utf-8", "surrogateescape") + body


def _exchange(server: ApiHttpServer, data: bytes) -> bytes:
    """Send `data` and read until the server closes (a reset counts as closed). A request the server still waits on
    after `PATIENCE` seconds is ended by closing the sending side: uvicorn drops a request whose client sent EOF
    first, so it is not closed at once."""
    received = b""
    with socket.create_connection(server.server_address, timeout=PATIENCE) as connection:
        try:
            connection.sendall(data)
            while True:
                try:
                    chunk = connection.recv(65536)
                except TimeoutError:
                    connection.shutdown(socket.SHUT_WR)
                    connection.settimeout(SOCKET_TIMEOUT)
                    continue
                if not chunk:
                    break
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    return received


def _health(server: ApiHttpServer) -> bytes:
    return _exchange(server, b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")


def _statuses(received: bytes, bodiless: bool = False) -> list[int]:
    """The status of each reply in `received`, which must be whole replies one after another, framed by their
    Content-Length; a reply to HEAD (`bodiless`) has no body, its Content-Length being what a GET would get
    (RFC 9110 §9.3.2)."""
    statuses, position = [], 0
    while position < len(received):
        line = STATUS_LINE.match(received, position)
        assert line is not None, received[position : position + 80]
        head_end = received.index(b"\r\n\r\n", position) + 4
        length = CONTENT_LENGTH.search(received, line.end() - 2, head_end)
        statuses.append(int(line.group(1)))
        # Without a Content-Length the body runs to the close.
        # A HEAD parsed as such is answered without a body; one the server could not parse (it cannot know it was
        # HEAD) may carry one.
        bodiless_reply = bodiless and (head_end == len(received) or STATUS_LINE.match(received, head_end))
        body = 0 if bodiless_reply else int(length.group(1)) if length else len(received) - head_end
        position = head_end + body
    assert position == len(received)
    return statuses


def _assert_answered_well(reply: bytes, data: bytes) -> None:
    method = data.split(b" ", 1)[0].decode("latin-1")
    statuses = _statuses(reply, bodiless=method == "HEAD")
    for status in statuses:
        assert 100 <= status < 500 or status == 503 or (status == 501 and method not in FORWARDED_METHODS), (
            status,
            data[:200],
        )


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.one_of(framed_requests(), requests(), st.binary(max_size=400)))
def test_any_bytes_are_answered_with_a_status_line_or_closed_and_health_still_answers(
    server: ApiHttpServer, data: bytes
) -> None:
    _assert_answered_well(_exchange(server, data), data)
    assert _health(server).startswith(b"HTTP/1.1 200 ")
