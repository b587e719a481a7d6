"""Each FC handler fed its sample event from events/ as bytes, exactly as FC delivers it, on the embedded runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from certdeploy.app.accounts import Credentials
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.jobs import JobDraft, change_job_status, create_job
from certdeploy.app.messages import QueueRole
from certdeploy.app.rollback import request_rollback
from certdeploy.bootstrap.container import Container
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.fc import function
from certdeploy.local.http_front import load_function
from tests.certgen import DEFAULT_NOT_AFTER, make_cert
from tests.functional.conftest import load_inventory

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com, cert: legacy-www}
"""


def handler(name: str) -> Any:
    return load_function(ROOT / "functions" / name, "handler.handler")


def event(file_name: str) -> bytes:
    return (ROOT / "events" / file_name).read_bytes()


LATER = DEFAULT_NOT_AFTER + timedelta(days=365)
CONTEXT = SimpleNamespace(request_id="req-1", function=SimpleNamespace(name="f", timeout=60), credentials=None)


@pytest.fixture
def running(container: Container, account: Credentials, tmp_path: Path) -> Iterator[Container]:
    """Account 1 with certificate 1 and job 1 (one worker, id 1) submitted: the ids the sample events name."""
    function.use_container(container)
    aid = account.account.id
    load_inventory(container, aid, INVENTORY, tmp_path)
    generated = make_cert(["www.example.com"], common_name="www.example.com")
    cert = upload_certificate(
        container.deps, aid, CertificateUpload(name="www", cert=generated.cert_pem, key=generated.key_pem)
    )
    [resource] = container.store.list_resources(aid).items
    job = create_job(container.deps, aid, JobDraft(name="j", cert_ids=(cert.id,), resource_ids=(resource.id,)))
    change_job_status(container.deps, aid, job.id, JobStatus.SCHEDULING)
    assert (aid, job.id, cert.id) == (1, 1, 1)
    yield container
    function.use_container(None)


def test_execute_deploys_the_worker_its_event_names(running: Container) -> None:
    assert handler("execute")(event("mns_execute.json"), CONTEXT) == "handled 1 message(s)"
    assert running.store.get_worker(1, 1).status is WorkerStatus.SUCCESS
    assert running.store.get_job(1, 1).status is JobStatus.SUCCESS


def test_rollback_restores_what_its_event_names(running: Container) -> None:
    handler("execute")(event("mns_execute.json"), CONTEXT)
    request_rollback(running.deps, 1, 1, 1)
    assert handler("rollback")(event("mns_rollback.json"), CONTEXT) == "handled 1 message(s)"
    assert running.store.get_worker(1, 1).status is WorkerStatus.ROLLBACK_SUCCESS
    assert running.store.get_resources(1, [1])[0].bound_cert_name == "legacy-www"


def test_a_redelivered_execute_event_changes_nothing(running: Container) -> None:
    handler("execute")(event("mns_execute.json"), CONTEXT)
    version = running.store.get_worker(1, 1).version
    handler("execute")(event("mns_execute.json"), CONTEXT)
    assert running.store.get_worker(1, 1).version == version


def test_notify_takes_a_batch_of_base64_bodies(running: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTDEPLOY_MNS_TRIGGER_BASE64_DECODE", "false")
    assert handler("notify")(event("mns_batch.json"), CONTEXT) == "handled 3 message(s)"


def test_the_scheduler_ticks_on_its_timer_event(running: Container) -> None:
    report = json.loads(handler("scheduler")(event("timer.json"), CONTEXT))
    assert report["synced_resources"] == 1 and report["started_jobs"] == 0


def test_certificate_issued_deploys_a_renewal_for_a_hosting_account(running: Container) -> None:
    handler("execute")(event("mns_execute.json"), CONTEXT)
    running.store.set_hosting(1, True)
    renewal = make_cert(["www.example.com"], common_name="www.example.com", not_after=LATER)
    renewed = upload_certificate(
        running.deps, 1, CertificateUpload(name="www-renewed", cert=renewal.cert_pem, key=renewal.key_pem)
    )
    assert renewed.id == 2
    running.deps.queues[QueueRole.CERTIFICATE_ISSUED].receive_batch(16)  # the upload's own event: not this test's
    assert handler("certificate_issued")(event("certificate_issued.json"), CONTEXT) == "ok"
    hosted = running.store.list_jobs(1, page_size=10).items[0]
    assert (str(hosted.job_type), hosted.cert_ids) == ("trustee", (2,))
    assert hosted.status is JobStatus.PROCESSING


def test_certificate_issued_also_takes_the_event_from_its_queue(running: Container) -> None:
    handler("execute")(event("mns_execute.json"), CONTEXT)
    running.store.set_hosting(1, True)
    renewal = make_cert(["www.example.com"], common_name="www.example.com", not_after=LATER)
    renewed = upload_certificate(
        running.deps, 1, CertificateUpload(name="www-renewed", cert=renewal.cert_pem, key=renewal.key_pem)
    )
    messages = running.deps.queues[QueueRole.CERTIFICATE_ISSUED].receive_batch(16)
    [body] = [m.body for m in messages if json.loads(m.body)["data"]["certId"] == renewed.id]
    queued = json.loads(event("mns_execute.json"))
    queued[0]["data"]["messageBody"] = body  # what the queue trigger delivers (IsBase64Decode: true)
    assert handler("certificate_issued")(json.dumps(queued).encode(), CONTEXT) == "ok"
    assert str(running.store.list_jobs(1, page_size=10).items[0].job_type) == "trustee"
