"""`certdeploy serve` as a child process on an ephemeral port, as a user starts it; and the CLI as a child process."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CERTDEPLOY = Path(sys.executable).parent / "certdeploy"
_SERVING = re.compile(r"serving the CAS API on (http://[\d.]+:(\d+))")
PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def child_environment(**overrides: str) -> dict[str, str]:
    """The test's environment without proxies or certdeploy settings of the developer's shell, plus `overrides`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CERTDEPLOY_") and key not in PROXY_VARIABLES
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    data: Path
    lines: list[str] = field(default_factory=list)
    endpoint: str = ""
    port: int = 0

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def health(self) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/health")
            return connection.getresponse().status
        finally:
            connection.close()

    def terminate(self, timeout: float = 15.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


def _read(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)


@contextmanager
def serve(
    data: Path, *arguments: str, env: dict[str, str] | None = None, timeout: float = 30.0
) -> Iterator[ServeProcess]:
    """Start serve, wait until it answers /health, yield it; kill it afterwards if the test left it running."""
    process = subprocess.Popen(
        [str(CERTDEPLOY), "serve", "--data", str(data), "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env or child_environment(),
        cwd=REPO,
    )
    server = ServeProcess(process, data)
    threading.Thread(target=_read, args=(process, server.lines), daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while not server.port:
            match = _SERVING.search(server.output)
            if match:
                server.endpoint, server.port = match.group(1), int(match.group(2))
            elif process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start:\n{server.output}")
            else:
                time.sleep(0.05)
        while server.health() != 200:
            if time.monotonic() > deadline:
                raise AssertionError(f"serve never became healthy:\n{server.output}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def run_cli(
    arguments: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CERTDEPLOY), *arguments],
        capture_output=True,
        text=True,
        env=env or child_environment(),
        cwd=REPO,
        timeout=timeout,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
