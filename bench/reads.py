"""Issue 12 reads: what a console or SDK polls, and job creation, on an account of 10,000 resources.

`certdeploy serve` runs as a child process with an inventory of `RESOURCES` resources spread over the twelve
products (all under one zone, so one wildcard certificate matches every one) and the per-account API limits off (this
measures the reads, not the throttle). Through the official CAS SDK, each call is timed end to end; its handler time
is the `ms=` of the line the service logs for it (`api/service.py`), which leaves out the HTTP front and the
kept-alive connection's delays. Measured, p50 and p99 over `CALLS` calls of a page, `WHOLE_CALLS` of those reading
every resource (the matched list, job creation, the preview):

- ListCloudResources, a page of 50: the first page and the last one (offset paging pays for the pages it skips);
- ListCloudResources narrowed by `CertIds` to what the wildcard matches (the preview's resource list), page of 50;
- CreateDeploymentJob over every resource (each job deleted again, untimed), and the preview of one such job
  (DescribeDeploymentJobStatus while it is `editing`);
- ListWorkerResource on a job of every resource and on a job of `SMALL_JOB` resources (the baseline, which a page
  must cost the same as), pages of `SMALL_JOB` workers on both so they hold as much, and the big job's page of 50;
- serve's resident memory (VmRSS) once loaded, after the calls, and its peak (VmHWM).

`BENCH_RESOURCES`, `BENCH_CALLS` and `BENCH_WHOLE_CALLS` in the environment override the sizes.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.utils_models import Config
from tests.certgen import make_cert

from bench.http_client import ACCESS_KEY, ServeProcess, serve_process
from bench.jobs import create_job, resource_ids
from bench.measure import ms, percentile, verdict
from certdeploy.domain.models import LISTENER_PRODUCTS, Product

RESOURCES = int(os.environ.get("BENCH_RESOURCES", "10000"))
CALLS = int(os.environ.get("BENCH_CALLS", "200"))
WHOLE_CALLS = int(os.environ.get("BENCH_WHOLE_CALLS", "20"))
SMALL_JOB = 10
PAGE = 50
ZONE = "example.com"
PAGE_GOAL_SECONDS = 0.02
CREATE_GOAL_SECONDS = 0.3
SMALL_JOB_RATIO_GOAL = 1.5
_HANDLER_LINE = re.compile(r" api (\w+) account=\S+ status=(\d+) code=\S+ ms=([\d.]+)")
_PROC_MEMORY = re.compile(r"^(VmRSS|VmHWM):\s+(\d+) kB", re.MULTILINE)


def inventory(count: int) -> dict[str, object]:
    """`count` resources, product by product in turn, each a host of `ZONE`; listener products on port 443."""
    products = list(Product)
    entries = []
    for index in range(count):
        product = products[index % len(products)]
        entry: dict[str, object] = {
            "product": str(product),
            "region": "cn-hangzhou",
            "instance": f"{str(product).lower()}-{index // len(products)}",
            "domain": f"host{index}.{ZONE}",
        }
        if product in LISTENER_PRODUCTS:
            entry["port"] = 443
        entries.append(entry)
    return {"resources": entries}


def _client(service: ServeProcess) -> CasClient:
    return CasClient(
        Config(
            endpoint=f"{service.host}:{service.port}",
            protocol="http",
            access_key_id=ACCESS_KEY[0],
            access_key_secret=ACCESS_KEY[1],
            read_timeout=60_000,
        )
    )


class HandlerLog:
    """The handler times of serve's log lines written since the last `take`, for one action."""

    def __init__(self, log: Path) -> None:
        self._log = log
        self._offset = 0

    def take(self, action: str) -> list[float]:
        with self._log.open("rb") as log:
            log.seek(self._offset)
            text = log.read().decode("utf-8", errors="replace")
            self._offset = log.tell()
        return [float(seconds) / 1000 for name, _, seconds in _HANDLER_LINE.findall(text) if name == action]


def _memory_mib(service: ServeProcess) -> dict[str, float]:
    status = Path(f"/proc/{service.process.pid}/status").read_text()
    return {name: round(int(kb) / 1024, 1) for name, kb in _PROC_MEMORY.findall(status)}


def _timed(call: Callable[[], object], rounds: int) -> list[float]:
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def _summary(round_trips: list[float], handler: list[float]) -> dict[str, float]:
    return {
        "p50_ms": ms(statistics.median(round_trips)),
        "p99_ms": ms(percentile(round_trips, 0.99)),
        "handler_p50_ms": ms(statistics.median(handler)) if handler else float("nan"),
        "handler_p99_ms": ms(percentile(handler, 0.99)) if handler else float("nan"),
    }


def _measure(service: ServeProcess) -> dict[str, dict[str, float]]:
    client = _client(service)
    handlers = HandlerLog(service.log)
    wildcard = make_cert([f"*.{ZONE}"], common_name=f"*.{ZONE}")
    cert_id = client.upload_user_certificate(
        cas.UploadUserCertificateRequest(name="bench-wildcard", cert=wildcard.cert_pem, key=wildcard.key_pem)
    ).body.cert_id
    all_ids = resource_ids(client)
    last_page = (len(all_ids) + PAGE - 1) // PAGE
    results: dict[str, dict[str, float]] = {"memory_loaded_mib": _memory_mib(service)}

    def measured(name: str, action: str, call: Callable[[], object], rounds: int = CALLS) -> None:
        handlers.take(action)
        round_trips = _timed(call, rounds)
        results[name] = _summary(round_trips, handlers.take(action))

    def list_page(page: int, **narrowing: list[int]) -> object:
        request = cas.ListCloudResourcesRequest(current_page=page, show_size=PAGE, **narrowing)
        return client.list_cloud_resources(request)

    measured("list_resources_first_page", "ListCloudResources", lambda: list_page(1))
    measured("list_resources_last_page", "ListCloudResources", lambda: list_page(last_page))
    measured("list_matched_resources_page", "ListCloudResources", lambda: list_page(1, cert_ids=[cert_id]), WHOLE_CALLS)

    def create_and_delete() -> None:
        job_id = create_job(client, cert_id, all_ids, "bench-create")
        started = time.perf_counter()
        client.delete_deployment_job(cas.DeleteDeploymentJobRequest(job_id=job_id))
        untimed.append(time.perf_counter() - started)

    untimed: list[float] = []
    handlers.take("CreateDeploymentJob")
    timed = _timed(create_and_delete, WHOLE_CALLS)
    created = [seconds - deleted for seconds, deleted in zip(timed, untimed, strict=True)]
    results["create_job"] = _summary(created, handlers.take("CreateDeploymentJob"))

    big_job = create_job(client, cert_id, all_ids, "bench-big")
    small_job = create_job(client, cert_id, all_ids[:SMALL_JOB], "bench-small")
    status = cas.DescribeDeploymentJobStatusRequest(job_id=big_job)
    measured(
        "preview", "DescribeDeploymentJobStatus", lambda: client.describe_deployment_job_status(status), WHOLE_CALLS
    )
    # Like for like: pages of as many workers as the small job has, then the big job's page of 50.
    pages = (
        ("list_workers_big_job", big_job, SMALL_JOB),
        ("list_workers_small_job", small_job, SMALL_JOB),
        ("list_workers_big_job_page_of_50", big_job, PAGE),
    )
    for name, job_id, size in pages:
        request = cas.ListWorkerResourceRequest(job_id=job_id, current_page=1, show_size=size)
        measured(name, "ListWorkerResource", lambda request=request: client.list_worker_resource(request))
    results["memory_after_mib"] = _memory_mib(service)
    return results


def _rows(results: dict[str, dict[str, float]]) -> list[dict[str, str]]:
    """One row per goal, for the results table: the goal, what was measured, and the baseline beside it."""

    def p(name: str, key: str = "p99_ms") -> str:
        return f"{results[name][key]} ms"

    big, small = results["list_workers_big_job"], results["list_workers_small_job"]
    return [
        {
            "goal": f"ListCloudResources page of {PAGE} over {RESOURCES:,}: p99 ≤ {ms(PAGE_GOAL_SECONDS)} ms",
            "result": f"first page p99 {p('list_resources_first_page')} "
            f"(handler {p('list_resources_first_page', 'handler_p99_ms')}), "
            f"last page p99 {p('list_resources_last_page')}, matched p99 {p('list_matched_resources_page')}",
            "baseline": "p50 60–68 ms before issue 12",
        },
        {
            "goal": f"ListWorkerResource page on a {RESOURCES:,}-worker job: p99 ≤ {ms(PAGE_GOAL_SECONDS)} ms and "
            f"≤ {SMALL_JOB_RATIO_GOAL}× a {SMALL_JOB}-worker job's (pages of {SMALL_JOB})",
            "result": f"p50 {big['p50_ms']} ms, p99 {big['p99_ms']} ms (handler p50 {big['handler_p50_ms']} ms); "
            f"page of {PAGE}: p99 {p('list_workers_big_job_page_of_50')}",
            "baseline": f"{SMALL_JOB}-worker job: p50 {small['p50_ms']} ms, p99 {small['p99_ms']} ms "
            f"(handler p50 {small['handler_p50_ms']} ms)",
        },
        {
            "goal": f"CreateDeploymentJob / preview, {RESOURCES:,} resources: ≤ {ms(CREATE_GOAL_SECONDS)} ms",
            "result": f"create p50 {p('create_job', 'p50_ms')}, max of {WHOLE_CALLS} {p('create_job')}; "
            f"preview p50 {p('preview', 'p50_ms')}, p99 {p('preview')}",
            "baseline": "0.6–1.0 s / 0.45–1.1 s before issue 12",
        },
        {
            "goal": f"serve's RSS with {RESOURCES:,} resources: nothing kept per resource between calls",
            "result": f"{results['memory_after_mib'].get('VmRSS')} MiB after the calls, "
            f"peak {results['memory_after_mib'].get('VmHWM')} MiB",
            "baseline": f"{results['memory_loaded_mib'].get('VmRSS')} MiB once loaded",
        },
    ]


def _verdicts(results: dict[str, dict[str, float]]) -> dict[str, str]:
    pages = ("list_resources_first_page", "list_resources_last_page")
    big, small = results["list_workers_big_job"], results["list_workers_small_job"]
    return {
        "goal_list_resources_p99_le_20ms": verdict(
            all(results[name]["p99_ms"] <= ms(PAGE_GOAL_SECONDS) for name in pages)
        ),
        "goal_list_workers_flat": verdict(
            results["list_workers_big_job_page_of_50"]["p99_ms"] <= ms(PAGE_GOAL_SECONDS)
            and big["p99_ms"] <= SMALL_JOB_RATIO_GOAL * small["p99_ms"]
        ),
        "goal_create_and_preview_le_300ms": verdict(
            all(results[name]["p99_ms"] <= ms(CREATE_GOAL_SECONDS) for name in ("create_job", "preview"))
        ),
    }


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="certdeploy-bench-reads-") as directory:
        path = Path(directory) / "inventory.yaml"
        path.write_text(yaml.safe_dump(inventory(RESOURCES)))
        limits_off = {"CERTDEPLOY_API_RATE_PER_ACCOUNT": "0", "CERTDEPLOY_API_CONCURRENCY_PER_ACCOUNT": "0"}
        with serve_process(timeout=300, arguments=("--inventory", str(path)), settings=limits_off) as service:
            results = _measure(service)
    return {**results, **_verdicts(results), "rows": _rows(results)}
