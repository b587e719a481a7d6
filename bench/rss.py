"""Issue 12: `certdeploy serve`'s resident memory at 100,000 workers, against the goal of 150 MiB ("nothing held per
worker in memory"). Opt-in, as it takes about ten minutes: `CERTDEPLOY_BENCH_RSS_WORKERS=100000 python -m bench rss`.

An account with an inventory of that many resources (bench/jobs.py's, loaded by `certdeploy cloud load`) and serve
with `--tick 1`; its RSS once idle (the inventory synced into the store, nothing running), then jobs of at most
10,000 workers each (the API's largest) over every resource, all submitted at once, polled until every one
finished, sampling serve's RSS; the peak is the larger of the samples and the kernel's high-water mark (VmHWM).
"""

from __future__ import annotations

import os
import time

from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from bench.jobs import JOB_TIMEOUT_SECONDS, RSS_GOAL_MIB, create_job, rss_mib, service
from bench.measure import Row, row, verdict

WORKERS = int(os.environ.get("CERTDEPLOY_BENCH_RSS_WORKERS", "0"))
LARGEST_JOB = 10_000
# Ticks serve runs before its idle RSS is read: the first syncs and relays have run by then.
SETTLE_SECONDS = 10.0


def _run_jobs(sdk: CasClient, pid: int, job_ids: list[int]) -> tuple[float, float]:
    """Submit every job at once, then poll until all finished: (seconds from the first submit, peak RSS in MiB)."""
    started = time.perf_counter()
    for job_id in job_ids:
        sdk.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status="scheduling"))
    running, peak = set(job_ids), 0.0
    while running:
        for job_id in sorted(running):
            status = sdk.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body.status
            if status in ("success", "error"):
                running.discard(job_id)
        peak = max(peak, rss_mib(pid)[0])
        if time.perf_counter() - started > JOB_TIMEOUT_SECONDS:
            raise AssertionError(f"jobs {sorted(running)} unfinished after {JOB_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.5)
    return time.perf_counter() - started, max(peak, rss_mib(pid)[1])


def run() -> dict[str, object] | list[Row]:
    if not WORKERS:
        return {"skipped": "opt-in: set CERTDEPLOY_BENCH_RSS_WORKERS (e.g. 100000); about ten minutes"}
    with service(WORKERS) as (processes, sdk, cert_id, resources, _):
        pid = processes[0].process.pid
        time.sleep(SETTLE_SECONDS)
        idle, idle_peak = rss_mib(pid)
        job_ids = [
            create_job(sdk, cert_id, resources[start : start + LARGEST_JOB], f"rss-{start // LARGEST_JOB}")
            for start in range(0, len(resources), LARGEST_JOB)
        ]
        seconds, peak = _run_jobs(sdk, pid, job_ids)
    return [
        row(
            f"serve RSS at {WORKERS:,} workers ({len(job_ids)} jobs over {WORKERS:,} resources) ≤ 150 MiB",
            f"peak {peak:.0f} MiB: {verdict(peak <= RSS_GOAL_MIB)}",
            f"idle with the inventory synced: {idle:.0f} MiB (high-water {idle_peak:.0f} MiB); "
            f"the jobs took {seconds:.0f} s",
        )
    ]
