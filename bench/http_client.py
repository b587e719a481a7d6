"""What the HTTP front benchmark drives `certdeploy serve` with: the service as a child process on a loopback port,
and a raw HTTP/1.1 client on asyncio streams sending ACS3-signed CAS calls (docs/protocol.md#authentication), fresh
connections or one kept alive."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

from certdeploy.api import signature

REPO = Path(__file__).resolve().parent.parent
CERTDEPLOY = Path(sys.executable).parent / "certdeploy"
ACCESS_KEY = ("LTAIbenchhttpfront01", "bench-http-front-secret")
ACTION = "ListDeploymentJob"
QUERY = {"CurrentPage": "1", "ShowSize": "10"}
_SERVING = re.compile(r"serving the CAS API on http://([\d.]+):(\d+)")


@dataclass(frozen=True)
class SignedCall:
    """One signed request: its bytes on the wire and the pieces an HTTP-trigger event is made of."""

    wire: bytes
    headers: dict[str, str]
    query: dict[str, str]


def signed_call(host: str) -> SignedCall:
    """A ListDeploymentJob call signed with a fresh nonce (the server refuses a nonce it has seen)."""
    headers = {
        "host": host,
        "x-acs-action": ACTION,
        "x-acs-version": "2020-04-07",
        "x-acs-date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": signature.EMPTY_PAYLOAD_SHA256,
    }
    signed_headers = sorted(headers)
    canonical = signature.acs3_canonical_request(
        method="POST",
        path="/",
        query=tuple(QUERY.items()),
        headers={name: [value] for name, value in headers.items()},
        signed_headers=signed_headers,
        payload_sha256=signature.EMPTY_PAYLOAD_SHA256,
    )
    digest = signature.acs3_signature(ACCESS_KEY[1], signature.acs3_string_to_sign(canonical))
    headers["authorization"] = (
        f"{signature.ACS3_HMAC_SHA256} Credential={ACCESS_KEY[0]},"
        f"SignedHeaders={';'.join(signed_headers)},Signature={digest}"
    )
    headers["content-length"] = "0"
    head = [f"POST /?{urlencode(QUERY)} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    return SignedCall(("\r\n".join(head) + "\r\n\r\n").encode("ascii"), headers, dict(QUERY))


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one response with a Content-Length body; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return int(lines[0].split(" ", 2)[1])


@dataclass(frozen=True)
class Outcome:
    seconds: float
    status: int | None  # None: refused, reset or timed out
    failure: str = ""


async def fresh_call(host: str, port: int, call: SignedCall, timeout: float) -> Outcome:
    """Connect, send, read the reply, close: one call on a fresh connection."""
    started = time.perf_counter()

    async def exchange() -> int:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(call.wire)
            return await read_response(reader)
        finally:
            writer.close()

    try:
        status = await asyncio.wait_for(exchange(), timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
        return Outcome(time.perf_counter() - started, None, type(error).__name__)
    return Outcome(time.perf_counter() - started, status)


@dataclass
class ServeProcess:
    host: str
    port: int
    data: Path
    log: Path
    process: subprocess.Popen[bytes]


@contextmanager
def serve_process(
    timeout: float = 60.0, arguments: Sequence[str] = (), settings: Mapping[str, str] | None = None
) -> Iterator[ServeProcess]:
    """`certdeploy serve` on a free loopback port with a fresh data directory and the benchmark's AccessKey;
    `arguments` are added to its command line, `settings` (`CERTDEPLOY_*` variables) to its environment."""
    with tempfile.TemporaryDirectory(prefix="certdeploy-bench-") as directory:
        data = Path(directory) / "data"
        log = Path(directory) / "serve.log"
        environment = {key: value for key, value in os.environ.items() if not key.startswith("CERTDEPLOY_")}
        environment |= {"CERTDEPLOY_ACCESS_KEY_ID": ACCESS_KEY[0], "CERTDEPLOY_ACCESS_KEY_SECRET": ACCESS_KEY[1]}
        environment |= dict(settings or {})
        with log.open("wb") as output:
            process = subprocess.Popen(
                [str(CERTDEPLOY), "serve", "--data", str(data), "--port", "0", "--tick", "3600", *arguments],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=REPO,
            )
        try:
            deadline = time.monotonic() + timeout
            while not (match := _SERVING.search(log.read_text(errors="replace"))):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"certdeploy serve did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.05)
            yield ServeProcess(match.group(1), int(match.group(2)), data, log, process)
        finally:
            process.terminate()
            process.wait(30)
