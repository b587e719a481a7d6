"""Issue 10 item 4: availability beside a hostile client, against its goals, measured in one run.

An in-process HTTP front on a fresh embedded store serves the real API function, wrapped to measure each request's
CPU time (`time.thread_time()` in the thread that answers it). The probes — `/health`, then a second account's
ListDeploymentJob through the SDK, `ROUNDS` times each — run three times: alone (the baseline), beside two child
processes of `HOSTILE_THREADS` threads each sending the worst inputs of items 1–3 in a loop (tests/availability.py)
with the default per-account limits, and beside the same load with those limits off (so the bounds of items 1–3 are
measured on their own). The hostile client runs in other processes, so it does not hold the server's interpreter
lock, and at a lower CPU priority (`HOSTILE_NICENESS`), as a real one runs elsewhere; its call rate is reported.
Goals, for each loaded phase: every probe succeeds, p99 of each probe under 100 ms, and no request uses more than
1 s of CPU; the ratio of each loaded p99 to the baseline's is reported.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tests.availability import CpuMeter, Probes, hostile_processes, probe, upload_many_wildcards
from tests.functional.api_support import INVENTORY, sdk_client
from tests.functional.conftest import load_inventory

from bench.measure import ms, percentile, verdict
from certdeploy.app.accounts import create_account
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.local.http_front import api_function_runner
from certdeploy.local.http_server import ApiHttpServer, serving

ROUNDS = 200
P99_GOAL_SECONDS = 0.1
CPU_GOAL_SECONDS = 1.0


def _p99s(probes: Probes) -> dict[str, float]:
    return {name: percentile(seconds, 0.99) if seconds else float("inf") for name, seconds in probes.seconds.items()}


def _phase(
    name: str, probes: Probes, cpu: list[float], hostile: dict[str, int], wall: float, baseline: dict[str, float]
) -> dict[str, object]:
    p99 = _p99s(probes)
    summary = {
        f"{name}_{probe_name}": f"{len(seconds)}/{ROUNDS} ok, p50 {ms(statistics.median(seconds))} ms, "
        f"p99 {ms(p99[probe_name])} ms ({p99[probe_name] / baseline[probe_name]:.1f}× baseline)"
        for probe_name, seconds in probes.seconds.items()
    }
    worst_cpu = max(cpu, default=0.0)
    return {
        **summary,
        f"{name}_calls": f"{sum(hostile.values())} in {wall:.1f} s ({sum(hostile.values()) / wall:.0f}/s): "
        + ", ".join(f"{answer}={count}" for answer, count in sorted(hostile.items())),
        f"{name}_max_cpu_per_request": f"{ms(worst_cpu)} ms over {len(cpu)} requests (probes included)",
        f"{name}_probe_failures": "; ".join(probes.failures[:3]) or "none",
        f"goal_{name}_probes_all_succeed": verdict(not probes.failures),
        f"goal_{name}_p99_lt_100ms": verdict(all(value < P99_GOAL_SECONDS for value in p99.values())),
        f"goal_{name}_cpu_per_request_lt_1s": verdict(worst_cpu < CPU_GOAL_SECONDS),
    }


def _run(container: Container, data: Path) -> dict[str, object]:
    hostile = create_account(container.store, "hostile", quota=10)
    other = create_account(container.store, "bystander", quota=10)
    for account in (hostile, other):
        load_inventory(container, account.account.id, INVENTORY, data)
    meter = CpuMeter(api_function_runner(container))
    results: dict[str, object] = {"load_average_1_5_15": ", ".join(f"{value:.2f}" for value in os.getloadavg())}
    with serving(ApiHttpServer(meter)) as server:
        probe_client = sdk_client(server, other)
        many = upload_many_wildcards(sdk_client(server, hostile))
        baseline = probe(server, probe_client, ROUNDS)
        baseline_p99 = _p99s(baseline)
        results.update(
            {f"baseline_{name}_p99_ms": ms(value) for name, value in baseline_p99.items()},
        )
        for phase, rate_limit in (("hostile", container.api.rate_limit), ("hostile_unthrottled", None)):
            container.api = replace(container.api, rate_limit=rate_limit)
            meter.seconds.clear()
            with hostile_processes(server.endpoint, hostile, many) as tally:
                started = time.perf_counter()
                probes = probe(server, probe_client, ROUNDS)
                wall = time.perf_counter() - started
            results.update(_phase(phase, probes, list(meter.seconds), tally, wall, baseline_p99))
    return results


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="certdeploy-bench-availability-") as directory:
        data = Path(directory)
        container = build_container(Settings(data=data / "data"))
        try:
            return _run(container, data)
        finally:
            container.close()
