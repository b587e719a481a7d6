"""The HTTP front of `certdeploy serve` under load, against the goals of its issue, all measured in one run on
loopback:

- a burst of 200 simultaneous clients on fresh connections all succeed (none refused, reset or timed out), p99 ≤ 2 s,
  and the burst's wall time is at most 1.5× the same 200 calls made one after another on fresh connections;
- a call on a kept-alive connection is no slower than on a fresh one and adds at most 2 ms over the API handler's own
  time (the `api` function called in this process with the same FC HTTP-trigger event);
- with 100 idle, half-sent requests held open, a normal client is still served (all calls succeed, median at most
  twice the median of a fresh call without them).

The call is a signed ListDeploymentJob (an empty list). The service runs as a child process, as a user starts it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.http_client import REPO, Outcome, SignedCall, fresh_call, read_response, serve_process, signed_call
from bench.measure import ms, percentile, verdict
from certdeploy.bootstrap.container import build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.local.context import FcContext, FunctionMeta
from certdeploy.local.http_front import load_function

CALLS = 200
KEPT_ALIVE_CALLS = 100
HANDLER_CALLS = 100
IDLE_SOCKETS = 100
PROBE_CALLS = 20
CALL_TIMEOUT_SECONDS = 10.0
BURST_P99_GOAL_SECONDS = 2.0
BURST_WALL_GOAL_RATIO = 1.5
KEPT_ALIVE_OVERHEAD_GOAL_MS = 2.0
IDLE_PROBE_GOAL_RATIO = 2.0
SERVE_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # certdeploy.cli.main's
HALF_SENT_HEAD = b"POST / HTTP/1.1\r\nHost: bench\r\nx-acs-action: ListDeploymentJob\r\n"


def _failures(outcomes: list[Outcome]) -> dict[str, int]:
    return dict(Counter(outcome.failure or f"HTTP {outcome.status}" for outcome in outcomes if outcome.status != 200))


async def _sequential(host: str, port: int, count: int) -> tuple[list[Outcome], float]:
    calls = [signed_call(f"{host}:{port}") for _ in range(count)]
    started = time.perf_counter()
    outcomes = [await fresh_call(host, port, call, CALL_TIMEOUT_SECONDS) for call in calls]
    return outcomes, time.perf_counter() - started


async def _burst(host: str, port: int, count: int) -> tuple[list[Outcome], float]:
    calls = [signed_call(f"{host}:{port}") for _ in range(count)]
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(fresh_call(host, port, call, CALL_TIMEOUT_SECONDS) for call in calls))
    return list(outcomes), time.perf_counter() - started


async def _kept_alive(host: str, port: int, count: int) -> list[float]:
    calls = [signed_call(f"{host}:{port}") for _ in range(count)]
    reader, writer = await asyncio.open_connection(host, port)
    seconds = []
    try:
        for call in calls:
            started = time.perf_counter()
            writer.write(call.wire)
            if await read_response(reader) != 200:
                raise RuntimeError("a kept-alive call was not answered 200")
            seconds.append(time.perf_counter() - started)
    finally:
        writer.close()
    return seconds


async def _with_idle_sockets(host: str, port: int) -> list[Outcome]:
    """Calls on fresh connections while IDLE_SOCKETS connections hold a half-sent request head."""
    idle = [await asyncio.open_connection(host, port) for _ in range(IDLE_SOCKETS)]
    for _, writer in idle:
        writer.write(HALF_SENT_HEAD)
    await asyncio.sleep(0.2)
    try:
        outcomes, _ = await _sequential(host, port, PROBE_CALLS)
    finally:
        for _, writer in idle:
            writer.close()
    return outcomes


def _trigger_event(call: SignedCall) -> bytes:
    """The FC HTTP-trigger event of the call (docs/runtime.md#http-trigger-event)."""
    now = datetime.now(timezone.utc)
    return json.dumps(
        {
            "version": "v1",
            "rawPath": "/",
            "body": "",
            "isBase64Encoded": False,
            "headers": call.headers,
            "queryParameters": call.query,
            "requestContext": {
                "accountId": "local",
                "domainName": call.headers["host"],
                "domainPrefix": call.headers["host"].split(".")[0],
                "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
                "requestId": uuid.uuid4().hex,
                "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "timeEpoch": str(int(now.timestamp() * 1000)),
            },
        }
    ).encode()


def _handler_seconds(data: Path, host: str, count: int) -> list[float]:
    """The api function's own time per call, in this process, on the service's data directory, logging its line per
    call at INFO as it does in `certdeploy serve`."""
    container = build_container(Settings(data=data))
    function = load_function(REPO / "functions" / "api", "handler.handler")
    log_handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (closed below)
    log_handler.setFormatter(logging.Formatter(SERVE_LOG_FORMAT))
    logger = logging.getLogger("certdeploy")
    logger.addHandler(log_handler)
    logger.setLevel(logging.INFO)
    seconds = []
    try:
        for _ in range(count):
            event = _trigger_event(signed_call(host))
            started = time.perf_counter()
            reply: dict[str, Any] = function(
                event, FcContext(function=FunctionMeta("api", "handler.handler"), container=container)
            )
            seconds.append(time.perf_counter() - started)
            if reply["statusCode"] != 200:
                raise RuntimeError(f"the api function answered {reply}")
    finally:
        logger.removeHandler(log_handler)
        log_handler.stream.close()
        container.close()
    return seconds


def run() -> dict[str, object]:
    load = os.getloadavg()
    with serve_process() as service:
        host, port = service.host, service.port
        sequential, sequential_wall = asyncio.run(_sequential(host, port, CALLS))
        kept_alive = asyncio.run(_kept_alive(host, port, KEPT_ALIVE_CALLS))
        burst, burst_wall = asyncio.run(_burst(host, port, CALLS))
        probes = asyncio.run(_with_idle_sockets(host, port))
        handler = _handler_seconds(service.data, f"{host}:{port}", HANDLER_CALLS)
    fresh = [outcome.seconds for outcome in sequential if outcome.status == 200]
    burst_seconds = [outcome.seconds for outcome in burst]
    fresh_p50, kept_alive_p50, handler_p50 = (statistics.median(values) for values in (fresh, kept_alive, handler))
    probe_p50 = statistics.median(outcome.seconds for outcome in probes)
    burst_ok = sum(outcome.status == 200 for outcome in burst)
    probes_ok = sum(outcome.status == 200 for outcome in probes)
    overhead = kept_alive_p50 - handler_p50
    return {
        "load_average_1_5_15": ", ".join(f"{value:.2f}" for value in load),
        "sequential_fresh": f"{len(fresh)}/{CALLS} ok in {sequential_wall:.2f} s, p50 {ms(fresh_p50)} ms",
        "burst": f"{burst_ok}/{CALLS} ok in {burst_wall:.2f} s, p50 {ms(statistics.median(burst_seconds))} ms, "
        f"p99 {ms(percentile(burst_seconds, 0.99))} ms, failures {_failures(burst) or 'none'}",
        "burst_wall_ratio_to_sequential": round(burst_wall / sequential_wall, 2),
        "kept_alive_p50_ms": ms(kept_alive_p50),
        "fresh_p50_ms": ms(fresh_p50),
        "handler_p50_ms": ms(handler_p50),
        "kept_alive_overhead_over_handler_ms": ms(overhead),
        "with_idle_half_sent_sockets": f"{probes_ok}/{PROBE_CALLS} ok, p50 {ms(probe_p50)} ms "
        f"({probe_p50 / fresh_p50:.2f}× fresh), failures {_failures(probes) or 'none'}",
        "goal_burst_all_succeed": verdict(burst_ok == CALLS),
        "goal_burst_p99_le_2s": verdict(percentile(burst_seconds, 0.99) <= BURST_P99_GOAL_SECONDS),
        "goal_burst_wall_le_1.5x_sequential": verdict(burst_wall <= BURST_WALL_GOAL_RATIO * sequential_wall),
        "goal_kept_alive_no_slower_than_fresh": verdict(kept_alive_p50 <= fresh_p50),
        "goal_kept_alive_overhead_le_2ms": verdict(overhead * 1000 <= KEPT_ALIVE_OVERHEAD_GOAL_MS),
        "goal_idle_sockets_do_not_starve": verdict(
            probes_ok == PROBE_CALLS and probe_p50 <= IDLE_PROBE_GOAL_RATIO * fresh_p50
        ),
    }
