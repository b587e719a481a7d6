"""Issue 12: a job of N workers on `certdeploy serve`, against its goals, with the baselines measured in the same run.

`certdeploy serve` runs as a child process on a fresh data directory whose account has an inventory of N resources
spread over the twelve products (generated here) and one uploaded wildcard certificate that covers them all. Through
the official SDK the benchmark creates a job over every resource, submits it and polls until it finished, for each
size of `JOB_SIZES` (env `CERTDEPLOY_BENCH_JOB_SIZES`, e.g. `1000,10000`), then does the same with a 10-worker job
(the reads' baseline). Measured: the submit call, submit → finished, per worker, a bare durable SQLite commit (WAL,
synchronous=FULL, as the local queues use) on the same disk, the three status reads' p50/p99 on the big job against
the 10-worker one (read in turn, `READ_ROUNDS` times each: env `CERTDEPLOY_BENCH_READ_ROUNDS`), and serve's peak RSS.

With `CERTDEPLOY_BENCH_POSTGRES_URL` (or `CERTDEPLOY_TEST_POSTGRES_URL`) set, the largest size also runs with the
store on PostgreSQL, once with one serve process and once with `SCALE_OUT_PROCESSES` of them consuming the same
queues (the cloud shape: many FC instances on one RDS): goal, at most half the time.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import yaml
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.utils_models import Config
from tests.certgen import make_cert
from tests.functional.serve_process import ServeProcess, child_environment, run_cli, serve

from bench.measure import Row, ms, percentile, row, verdict

PRODUCTS = ("SAE", "MSE", "APIGateway", "GA", "FC", "OSS", "WAF", "ALB", "NLB", "CDN", "DCDN", "DDOS")
LISTENER_PRODUCTS = {"GA", "ALB", "NLB"}
JOB_SIZES = tuple(int(size) for size in os.environ.get("CERTDEPLOY_BENCH_JOB_SIZES", "1000").split(","))
SMALL_JOB = 10
READ_ROUNDS = int(os.environ.get("CERTDEPLOY_BENCH_READ_ROUNDS", "200"))
SCALE_OUT_PROCESSES = 4
BARE_COMMITS = 300
JOB_TIMEOUT_SECONDS = float(os.environ.get("CERTDEPLOY_BENCH_JOB_TIMEOUT", "1800"))
LOAD_TIMEOUT_SECONDS = 900  # `certdeploy cloud load` of 100,000 resources (bench/rss.py) on a loaded machine

SUBMIT_GOAL_SECONDS = 0.2
FINISH_GOAL_SECONDS_10K = 20.0
PER_WORKER_GOAL_SECONDS = 0.002
PER_WORKER_GOAL_RATIO = 7.0
READ_P99_GOAL_SECONDS = 0.02
READ_GOAL_RATIO = 1.5
RSS_GOAL_MIB = 150.0


def write_inventory(path: Path, size: int) -> None:
    """`size` resources, round-robin over the twelve products, each under `*.bench.example.com`."""
    resources = []
    for index in range(size):
        product = PRODUCTS[index % len(PRODUCTS)]
        entry: dict[str, object] = {
            "product": product,
            "region": "cn-hangzhou",
            "instance": f"{product.lower()}-{index}",
            "domain": f"h{index}.bench.example.com",
        }
        if product in LISTENER_PRODUCTS:
            entry["port"] = 443
        resources.append(entry)
    path.write_text(yaml.safe_dump({"resources": resources}, sort_keys=False))


def bare_commit_seconds(directory: Path, commits: int = BARE_COMMITS) -> float:
    """Median of one durable SQLite commit (WAL, synchronous=FULL), one small insert each, on the bench's disk."""
    path = directory / "bare-commit.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")
    seconds = []
    for _ in range(commits):
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (body) VALUES (?)", (uuid.uuid4().hex,))
        db.execute("COMMIT")
        seconds.append(time.perf_counter() - started)
    db.close()
    return statistics.median(seconds)


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@dataclass(frozen=True)
class Account:
    name: str
    access_key_id: str
    access_key_secret: str


def create_account(data: Path, env: dict[str, str], name: str, quota: int, inventory: Path) -> Account:
    migrated = run_cli(["--data", str(data), "migrate"], env=env)
    assert migrated.returncode == 0, migrated.stderr
    created = run_cli(["--data", str(data), "account", "create", name, "--quota", str(quota)], env=env)
    assert created.returncode == 0, created.stderr
    keys = json.loads(created.stdout)
    load = ["--data", str(data), "cloud", "load", str(inventory), "--account", name]
    loaded = run_cli(load, env=env, timeout=LOAD_TIMEOUT_SECONDS)
    assert loaded.returncode == 0, loaded.stderr
    return Account(name, keys["AccessKeyId"], keys["AccessKeySecret"])


def client(process: ServeProcess, account: Account) -> CasClient:
    return CasClient(
        Config(
            endpoint=f"127.0.0.1:{process.port}",
            protocol="http",
            access_key_id=account.access_key_id,
            access_key_secret=account.access_key_secret,
            read_timeout=120_000,
            connect_timeout=10_000,
        )
    )


def resource_ids(sdk: CasClient) -> list[int]:
    ids: list[int] = []
    page = 1
    while True:
        request = cas.ListCloudResourcesRequest(current_page=page, show_size=500)
        body = sdk.list_cloud_resources(request).body
        ids += [item.id for item in body.data or []]
        if not body.data or len(ids) >= body.total:
            return ids
        page += 1


def create_job(sdk: CasClient, cert_id: int, resources: list[int], name: str) -> int:
    request = cas.CreateDeploymentJobRequest(
        name=name, job_type="user", cert_ids=str(cert_id), resource_ids=",".join(map(str, resources))
    )
    return sdk.create_deployment_job(request).body.job_id


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


@dataclass(frozen=True)
class JobRun:
    workers: int
    submit_seconds: float
    finish_seconds: float
    status: str
    peak_rss_mib: float

    @property
    def per_worker_seconds(self) -> float:
        return self.finish_seconds / self.workers


def run_job(process: ServeProcess, sdk: CasClient, cert_id: int, resources: list[int], name: str) -> tuple[int, JobRun]:
    job_id = create_job(sdk, cert_id, resources, name)
    started = time.perf_counter()
    submit = timed(
        lambda: sdk.update_deployment_job_status(
            cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status="scheduling")
        )
    )
    peak = 0.0
    while True:
        status = sdk.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body.status
        peak = max(peak, rss_mib(process.process.pid)[0])
        if status in ("success", "error"):
            break
        if time.perf_counter() - started > JOB_TIMEOUT_SECONDS:
            raise AssertionError(f"job {job_id} still {status} after {JOB_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.05)
    finished = time.perf_counter() - started
    return job_id, JobRun(len(resources), submit, finished, status, max(peak, rss_mib(process.process.pid)[1]))


def _read_calls(sdk: CasClient, job_id: int) -> dict[str, Callable[[], object]]:
    return {
        "DescribeDeploymentJobStatus": lambda: sdk.describe_deployment_job_status(
            cas.DescribeDeploymentJobStatusRequest(job_id=job_id)
        ),
        "DescribeDeploymentJob": lambda: sdk.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)),
        "ListDeploymentJob": lambda: sdk.list_deployment_job(
            cas.ListDeploymentJobRequest(current_page=1, show_size=10)
        ),
    }


def read_latencies(sdk: CasClient, job_ids: Sequence[int], rounds: int = READ_ROUNDS) -> list[dict[str, list[float]]]:
    """Each status read's latencies on each job of `job_ids`, the jobs read in turn: whatever else the machine or
    `serve` does meanwhile (other work, the scheduler's ticks) slows each alike, so their ratio tells what grows with
    the job."""
    calls = [_read_calls(sdk, job_id) for job_id in job_ids]
    latencies: list[dict[str, list[float]]] = [{name: [] for name in job_calls} for job_calls in calls]
    for _ in range(rounds):
        for job_calls, job_latencies in zip(calls, latencies, strict=True):
            for name, call in job_calls.items():
                job_latencies[name].append(timed(call))
    return latencies


def serve_env(*, database_url: str | None, consumers: int | None) -> dict[str, str]:
    overrides = {
        "CERTDEPLOY_API_RATE_PER_ACCOUNT": "0",
        "CERTDEPLOY_API_CONCURRENCY_PER_ACCOUNT": "0",
    }
    if database_url is not None:
        overrides["CERTDEPLOY_DATABASE_URL"] = database_url
    if consumers is not None:
        overrides["CERTDEPLOY_LOCAL_CONSUMERS"] = str(consumers)
    return child_environment(**overrides)


@contextmanager
def service(
    size: int, *, database_url: str | None = None, processes: int = 1, consumers: int | None = None
) -> Iterator[tuple[list[ServeProcess], CasClient, int, list[int], Path]]:
    """Serve processes on one fresh data directory (and store), an account with `size` resources and the wildcard
    certificate: (processes, SDK client of the first, certificate id, resource ids, data directory)."""
    with tempfile.TemporaryDirectory(prefix="certdeploy-bench-jobs-") as directory, ExitStack() as stack:
        root = Path(directory)
        data = root / "data"
        inventory = root / "inventory.yaml"
        write_inventory(inventory, size)
        env = serve_env(database_url=database_url, consumers=consumers)
        account = create_account(data, env, "bench", quota=4 * size + 100, inventory=inventory)
        started = [stack.enter_context(serve(data, "--tick", "1", env=env, timeout=120)) for _ in range(processes)]
        sdk = client(started[0], account)
        generated = make_cert(("*.bench.example.com",))
        cert_id = sdk.upload_user_certificate(
            cas.UploadUserCertificateRequest(name="bench-wildcard", cert=generated.chain_pem, key=generated.key_pem)
        ).body.cert_id
        yield started, sdk, cert_id, resource_ids(sdk), root


def _reads_rows(big: dict[str, list[float]], small: dict[str, list[float]], size: int) -> list[Row]:
    rows = []
    for name, seconds in big.items():
        p50, p99 = statistics.median(seconds), percentile(seconds, 0.99)
        base_p99 = percentile(small[name], 0.99)
        ratio = p99 / base_p99
        rows.append(
            row(
                f"{name} on {size:,} workers: p99 ≤ 20 ms and ≤ 1.5× a {SMALL_JOB}-worker job",
                f"p50 {ms(p50)} ms, p99 {ms(p99)} ms ({ratio:.2f}×): "
                + verdict(p99 <= READ_P99_GOAL_SECONDS and ratio <= READ_GOAL_RATIO),
                f"{SMALL_JOB} workers: p50 {ms(statistics.median(small[name]))} ms, p99 {ms(base_p99)} ms",
            )
        )
    return rows


def sqlite_rows(sizes: tuple[int, ...]) -> list[Row]:
    rows: list[Row] = []
    per_worker: list[float] = []
    for size in sizes:
        with service(size) as (processes, sdk, cert_id, resources, root):
            process = processes[0]
            bare = bare_commit_seconds(root)
            idle = rss_mib(process.process.pid)[0]
            job_id, run = run_job(process, sdk, cert_id, resources, f"bench-{size}")
            small_id, small_run = run_job(process, sdk, cert_id, resources[:SMALL_JOB], "bench-small")
            big_reads, small_reads = read_latencies(sdk, (job_id, small_id))
        per_worker.append(run.per_worker_seconds)
        ratio = run.per_worker_seconds / bare
        finish_goal = FINISH_GOAL_SECONDS_10K * size / 10_000
        rows += [
            row(
                f"submit (UpdateDeploymentJobStatus) of {size:,} workers ≤ 200 ms",
                f"{ms(run.submit_seconds)} ms: {verdict(run.submit_seconds <= SUBMIT_GOAL_SECONDS)}",
                f"{SMALL_JOB} workers: {ms(small_run.submit_seconds)} ms",
            ),
            row(
                f"{size:,} workers submit → finished ≤ {finish_goal:.1f} s (10,000 in 20 s)",
                f"{run.finish_seconds:.2f} s, job {run.status}: {verdict(run.finish_seconds <= finish_goal)}",
                f"{SMALL_JOB} workers: {small_run.finish_seconds:.2f} s",
            ),
            row(
                f"per worker at {size:,} ≤ 2 ms and ≤ 7× a bare durable commit",
                f"{ms(run.per_worker_seconds)} ms = {ratio:.1f}× bare: "
                + verdict(run.per_worker_seconds <= PER_WORKER_GOAL_SECONDS and ratio <= PER_WORKER_GOAL_RATIO),
                f"bare SQLite commit (WAL, synchronous=FULL): {ms(bare)} ms",
            ),
            *_reads_rows(big_reads, small_reads, size),
            row(
                f"serve RSS with a {size:,}-worker job ≤ 150 MiB (goal at 100,000)",
                f"peak {run.peak_rss_mib:.0f} MiB: {verdict(run.peak_rss_mib <= RSS_GOAL_MIB)}",
                f"idle before the job: {idle:.0f} MiB",
            ),
        ]
    if len(per_worker) > 1:
        spread = max(per_worker) / min(per_worker)
        rows.append(
            row(
                f"per worker flat from {min(sizes):,} to {max(sizes):,} (≤ 1.5× apart)",
                f"{' / '.join(f'{ms(value)} ms' for value in per_worker)} ({spread:.2f}×): {verdict(spread <= 1.5)}",
            )
        )
    return rows


def _fresh_postgres(url: str) -> str:
    """A schema of its own on the shared server, so the run starts empty and leaves others' data alone."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def postgres_rows(size: int, url: str) -> list[Row]:
    seconds: dict[int, float] = {}
    for processes in (1, SCALE_OUT_PROCESSES):
        with service(size, database_url=_fresh_postgres(url), processes=processes, consumers=1) as (
            started,
            sdk,
            cert_id,
            resources,
            _,
        ):
            seconds[processes] = run_job(started[0], sdk, cert_id, resources, f"bench-pg-{processes}")[1].finish_seconds
    ratio = seconds[SCALE_OUT_PROCESSES] / seconds[1]
    return [
        row(
            f"PostgreSQL, {size:,} workers: {SCALE_OUT_PROCESSES} consumer processes ≤ 1/2 the time of one",
            f"{seconds[SCALE_OUT_PROCESSES]:.2f} s ({ratio:.2f}×): {verdict(ratio <= 0.5)}",
            f"1 process: {seconds[1]:.2f} s",
        )
    ]


def run() -> list[Row]:
    rows = sqlite_rows(JOB_SIZES)
    postgres = os.environ.get("CERTDEPLOY_BENCH_POSTGRES_URL")
    if postgres:
        rows += postgres_rows(max(JOB_SIZES), postgres)
    return rows
