"""Issue 10 item 4, shared by tests/functional/api/test_availability.py and bench/availability.py: a hostile
client sending the worst inputs of items 1–3 in a loop from several threads, beside probes of `/health` and of a
second account's ListDeploymentJob, against an in-process HTTP front whose API function records each request's CPU
time (`time.thread_time()` around the call, in the handler thread)."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.exceptions import ClientException

from certdeploy.app.accounts import Credentials
from certdeploy.local.http_front import EventHandler
from certdeploy.local.http_server import ApiHttpServer
from tests.certgen import make_cert
from tests.functional.api_support import sdk_client_at, upload
from tests.hostile_inputs import huge_modulus, huge_rsa_key_pem, repeated_begin_lines
from tests.rpc_calls import raw_call

NESTED = "[" * 20_000 + "]" * 20_000
WILDCARD_NAMES = 2_000
BEGIN_LINES_SIZE = 144_000
HOSTILE_THREADS = 4
HOSTILE_NICENESS = 10


class CpuMeter:
    """Wraps the API function: the CPU seconds of each request, measured in the thread that answers it."""

    def __init__(self, answer: EventHandler) -> None:
        self._answer = answer
        self._lock = threading.Lock()
        self.seconds: list[float] = []

    def __call__(self, event: bytes) -> dict[str, Any]:
        started = time.thread_time()
        try:
            return self._answer(event)
        finally:
            spent = time.thread_time() - started
            with self._lock:
                self.seconds.append(spent)


def upload_many_wildcards(client: CasClient) -> int:
    """A certificate of `WILDCARD_NAMES` wildcard names, for the matching calls of `hostile_calls`; its id."""
    return upload(client, "many", make_cert([f"*.zone{n}.example.net" for n in range(WILDCARD_NAMES)]))


def hostile_calls(client: CasClient, many: int) -> list[Callable[[], object]]:
    """The worst inputs of items 1–3 as SDK calls of the hostile account (each is refused, throttled or bounded);
    `many` is the id of its certificate of many wildcard names."""
    site = make_cert(["www.example.com"], common_name="www.example.com", key="rsa")
    begin_lines = repeated_begin_lines(BEGIN_LINES_SIZE)
    huge_key = huge_rsa_key_pem(huge_modulus(16_384))

    def uploading(cert: str, key: str) -> Callable[[], object]:
        return lambda: client.upload_user_certificate(cas.UploadUserCertificateRequest(name="h", cert=cert, key=key))

    def calling(action: str, query: dict[str, str]) -> Callable[[], object]:
        return lambda: raw_call(client, action, query)

    return [
        uploading(begin_lines, site.key_pem),
        uploading(site.cert_pem, begin_lines),
        uploading(site.cert_pem, huge_key),
        calling("ListCloudResources", {"CertIds": NESTED}),
        calling("CreateDeploymentJob", {"Name": "j", "JobType": "user", "CertIds": "1", "ResourceIds": NESTED}),
        calling("CreateContact", {"Name": "ops", "Email": "ops@example.com", "Webhooks": NESTED}),
        calling("ListCloudResources", {"Keyword": "a" * 50_000}),
        calling("GetMatchedResources", {"CertIds": str(many)}),
        calling("ListCloudResources", {"CertIds": f"[{many}]", "ShowSize": "100"}),
    ]


@dataclass
class HostileTally:
    """How the hostile calls were answered: by SDK error code (`ok` for a success)."""

    answers: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: str) -> None:
        with self.lock:
            self.answers[answer] = self.answers.get(answer, 0) + 1


@contextmanager
def hostile_load(calls: list[Callable[[], object]], threads: int = HOSTILE_THREADS) -> Iterator[HostileTally]:
    """`threads` threads making `calls` round and round for the duration of the block. Any answer but a success or
    a 4xx (`ClientException`) is tallied by its exception's type, so a 5xx or a timeout shows."""
    stop = threading.Event()
    tally = HostileTally()

    def loop(offset: int) -> None:
        index = offset
        while not stop.is_set():
            try:
                calls[index % len(calls)]()
                tally.add("ok")
            except ClientException as refused:
                tally.add(str(refused.code))
            except Exception as other:  # tallied: the test and the bench report any
                tally.add(type(other).__name__)
            index += 1

    workers = [threading.Thread(target=loop, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield tally
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)


@dataclass
class Probes:
    """Seconds of each successful probe, per kind, and the failures."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: {"health": [], "list_jobs": []})
    failures: list[str] = field(default_factory=list)


def _health(server: ApiHttpServer) -> None:
    host, port = server.server_address
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("GET", "/health")
        status = connection.getresponse().status
    finally:
        connection.close()
    if status != 200:
        raise RuntimeError(f"/health answered {status}")


def probe(server: ApiHttpServer, other: CasClient, rounds: int, pause: float = 0.01) -> Probes:
    """`rounds` times: `/health`, then the second account's ListDeploymentJob, each timed."""
    probes = Probes()
    checks: dict[str, Callable[[], object]] = {
        "health": lambda: _health(server),
        "list_jobs": lambda: other.list_deployment_job(cas.ListDeploymentJobRequest()),
    }
    for _ in range(rounds):
        for name, check in checks.items():
            started = time.perf_counter()
            try:
                check()
            except Exception as error:  # a failed probe is the result, reported
                probes.failures.append(f"{name}: {type(error).__name__}: {error}"[:200])
            else:
                probes.seconds[name].append(time.perf_counter() - started)
            time.sleep(pause)
    return probes


def _hostile_process(endpoint: str, credentials: Credentials, many: int, stop: Any, answers: Any) -> None:
    """A child process's hostile load: until `stop` is set; its tally is put on `answers`. It runs at a low CPU
    priority: a hostile client is somewhere else, and on a small machine its own work would otherwise be counted
    against the server's."""
    os.nice(HOSTILE_NICENESS)
    with hostile_load(hostile_calls(sdk_client_at(endpoint, credentials), many)) as tally:
        stop.wait()
    answers.put(tally.answers)


@contextmanager
def hostile_processes(
    endpoint: str, credentials: Credentials, many: int, processes: int = 2
) -> Iterator[dict[str, int]]:
    """`hostile_load` in `processes` child processes, so the hostile client does not share the server's interpreter
    lock; the dict yielded holds their tally once the block has ended."""
    context = multiprocessing.get_context("spawn")
    stop, answers = context.Event(), context.Queue()
    children = [
        context.Process(target=_hostile_process, args=(endpoint, credentials, many, stop, answers), daemon=True)
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    tally: dict[str, int] = {}
    try:
        yield tally
    finally:
        stop.set()
        for _ in children:
            for answer, count in answers.get(timeout=120).items():
                tally[answer] = tally.get(answer, 0) + count
        for child in children:
            child.join(timeout=30)
