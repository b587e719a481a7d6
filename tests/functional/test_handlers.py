"""Each FC handler fed its sample event from events/ as bytes, exactly as FC delivers it, on the embedded runtime."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from certdeploy.adapters.local_inventory import read_inventory
from certdeploy.adapters.notify import ContactNotifier, RenderedNotification
from certdeploy.app.accounts import Credentials
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.jobs import JobDraft, change_job_status, create_job
from certdeploy.app.messages import QueueRole
from certdeploy.app.rollback import request_rollback
from certdeploy.bootstrap.container import Container
from certdeploy.domain.deployment import Binding
from certdeploy.domain.failures import TransientNotificationFailure
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.fc import function
from certdeploy.fc.events import InvalidEvent
from certdeploy.local.http_front import load_function
from certdeploy.ports.notifier import Channel
from tests.certgen import DEFAULT_NOT_AFTER, make_cert
from tests.functional.conftest import ManualClock, load_inventory

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com, cert: legacy-www}
"""
GROWN = """  - {product: ALB, region: cn-shanghai, instance: alb-1, domain: api.example.com, port: 443}
"""


def handler(name: str) -> Any:
    return load_function(ROOT / "functions" / name, "handler.handler")


def event(file_name: str) -> bytes:
    return (ROOT / "events" / file_name).read_bytes()


LATER = DEFAULT_NOT_AFTER + timedelta(days=365)
CONTEXT = SimpleNamespace(request_id="req-1", function=SimpleNamespace(name="f", timeout=60), credentials=None)
# The trigger's IsBase64Decode as the handlers read it (trigger_decodes_base64, shared/certdeploy/fc/function.py).
BASE64_DECODED_BY_TRIGGER = "CERTDEPLOY_MNS_TRIGGER_BASE64_DECODE"


class Outbox:
    """The contacts' mailbox and phone: every notification sent, as (channel, address, subject). A channel in
    `fail_next` fails its next send transiently (the SMTP server or SMS gateway is briefly down)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Channel, str, str]] = []
        self.fail_next: set[Channel] = set()

    def sender(self, channel: Channel) -> _RecordingSender:
        return _RecordingSender(self, channel)


class _RecordingSender:
    def __init__(self, outbox: Outbox, channel: Channel) -> None:
        self._outbox, self._channel = outbox, channel

    def send(self, address: str, message: RenderedNotification) -> None:
        if self._channel in self._outbox.fail_next:
            self._outbox.fail_next.discard(self._channel)
            raise TransientNotificationFailure(f"{self._channel} gateway briefly down")
        self._outbox.sent.append((self._channel, address, message.subject))


@pytest.fixture
def outbox(container: Container) -> Outbox:
    recorded = Outbox()
    container.notifier = ContactNotifier(
        {channel: recorded.sender(channel) for channel in (Channel.EMAIL, Channel.SMS)}
    )
    return recorded


@pytest.fixture
def running(container: Container, account: Credentials, tmp_path: Path, outbox: Outbox) -> Iterator[Container]:
    """Account 1 with certificate 1 and job 1 (one worker, id 1, one contact) submitted: the ids the sample events
    name."""
    function.use_container(container)
    aid = account.account.id
    load_inventory(container, aid, INVENTORY, tmp_path)
    generated = make_cert(["www.example.com"], common_name="www.example.com")
    cert = upload_certificate(
        container.deps, aid, CertificateUpload(name="www", cert=generated.cert_pem, key=generated.key_pem)
    )
    [resource] = container.store.resources.search(aid).items
    contact = container.store.contacts.add(aid, name="ops", email="ops@acme.test", mobile="13800001234")
    draft = JobDraft(name="j", cert_ids=(cert.id,), resource_ids=(resource.id,), contact_ids=(contact.id,))
    job = create_job(container.deps, aid, draft)
    change_job_status(container.deps, aid, job.id, JobStatus.SCHEDULING)
    assert (aid, job.id, cert.id) == (1, 1, 1)
    yield container
    function.use_container(None)


def cloud_binding(container: Container) -> Binding:
    """What resource 1 serves in the (local) cloud: what a user's browser would see."""
    assert container.local_cloud is not None
    [resource] = container.store.resources.get_many(1, [1])
    return container.local_cloud.current_binding(resource)


def dead_letters(container: Container) -> list[str]:
    return [message.body for message in container.deps.queues[QueueRole.DEAD_LETTER].receive_batch(16)]


def mns_batch(bodies: list[str]) -> bytes:
    """The sample batch delivery (events/mns_batch.json) carrying `bodies`, Base64-encoded as our producers send."""
    template = json.loads(event("mns_batch.json"))
    deliveries = [
        {**delivery, "data": {**delivery["data"], "messageBody": base64.b64encode(body.encode()).decode()}}
        for delivery, body in zip(template[: len(bodies)], bodies, strict=True)
    ]
    return json.dumps(deliveries).encode()


def test_execute_deploys_the_worker_its_event_names(running: Container) -> None:
    assert handler("execute")(event("mns_execute.json"), CONTEXT) == "handled 1 message(s)"
    assert running.store.workers.get(1, 1).status is WorkerStatus.SUCCESS
    assert running.store.jobs.get(1, 1).status is JobStatus.SUCCESS
    assert (cloud_binding(running).cert_id, cloud_binding(running).cert_name) == (1, "www")
    assert dead_letters(running) == []


def test_rollback_restores_what_its_event_names(running: Container) -> None:
    handler("execute")(event("mns_execute.json"), CONTEXT)
    request_rollback(running.deps, 1, 1, 1)
    assert handler("rollback")(event("mns_rollback.json"), CONTEXT) == "handled 1 message(s)"
    assert running.store.workers.get(1, 1).status is WorkerStatus.ROLLBACK_SUCCESS
    assert running.store.resources.get_many(1, [1])[0].bound_cert_name == "legacy-www"
    assert (cloud_binding(running).cert_id, cloud_binding(running).cert_name) == (None, "legacy-www")
    assert dead_letters(running) == []


def test_a_redelivered_execute_event_changes_nothing(running: Container) -> None:
    handler("execute")(event("mns_execute.json"), CONTEXT)
    version = running.store.workers.get(1, 1).version
    handler("execute")(event("mns_execute.json"), CONTEXT)
    assert running.store.workers.get(1, 1).version == version
    assert running.local_cloud is not None
    [resource] = running.store.resources.get_many(1, [1])
    assert running.local_cloud.deploy_count(resource) == 1  # deployed once, not twice


def notify_bodies_of_a_rolled_back_job(running: Container) -> list[str]:
    """Job 1 deployed and rolled back through the handlers: the two notify messages it queued, in order."""
    handler("execute")(event("mns_execute.json"), CONTEXT)
    request_rollback(running.deps, 1, 1, 1)
    handler("rollback")(event("mns_rollback.json"), CONTEXT)
    bodies = [message.body for message in running.deps.queues[QueueRole.NOTIFY].receive_batch(16)]
    assert [json.loads(body)["event"] for body in bodies] == ["job_finished", "rollback_finished"]
    return bodies


JOB_FINISHED_SUBJECT = '[certdeploy] Deployment job "j" (ID 1) succeeded: 1 resource deployed'
ROLLBACK_SUBJECT = '[certdeploy] Rollback of deployment job "j" (ID 1) finished: 1 resource restored'


def test_notify_tells_the_contacts_what_each_base64_body_of_a_batch_says(
    running: Container, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = notify_bodies_of_a_rolled_back_job(running)
    monkeypatch.setenv(BASE64_DECODED_BY_TRIGGER, "false")  # the notify trigger passes the bodies as sent

    assert handler("notify")(mns_batch(bodies), CONTEXT) == "handled 2 message(s)"

    assert sorted(outbox.sent) == [
        (Channel.EMAIL, "ops@acme.test", JOB_FINISHED_SUBJECT),
        (Channel.EMAIL, "ops@acme.test", ROLLBACK_SUBJECT),
        (Channel.SMS, "13800001234", JOB_FINISHED_SUBJECT),
        (Channel.SMS, "13800001234", ROLLBACK_SUBJECT),
    ]
    assert dead_letters(running) == []


def test_notify_decodes_the_sample_batch_into_notify_commands(
    running: Container, outbox: Outbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The sample names jobs 1001 to 1003, which account 1 does not have: each is read, found gone, and skipped.
    monkeypatch.setenv(BASE64_DECODED_BY_TRIGGER, "false")
    caplog.set_level(logging.INFO, logger="certdeploy.app.notify")

    assert handler("notify")(event("mns_batch.json"), CONTEXT) == "handled 3 message(s)"

    assert [record.getMessage() for record in caplog.records if record.name == "certdeploy.app.notify"] == [
        f"job {job_id} was deleted before its contacts were told" for job_id in (1001, 1002, 1003)
    ]
    assert (outbox.sent, dead_letters(running)) == ([], [])


def test_base64_bodies_from_a_trigger_said_to_decode_them_are_dead_lettered_unsent(
    running: Container, outbox: Outbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The setting says the trigger decoded the bodies, but it did not: every body is poison, none is a notification.
    bodies = notify_bodies_of_a_rolled_back_job(running)
    batch = mns_batch(bodies)
    monkeypatch.setenv(BASE64_DECODED_BY_TRIGGER, "true")

    handler("notify")(batch, CONTEXT)

    assert outbox.sent == []
    assert dead_letters(running) == [base64.b64encode(body.encode()).decode() for body in bodies]
    poisoned = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and "poison" in r.getMessage()]
    assert [message.split()[2] for message in poisoned] == [d["data"]["messageId"] for d in json.loads(batch)]


def test_a_body_the_trigger_already_decoded_fails_the_event_when_the_setting_says_it_did_not(
    running: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    # mns_execute.json carries its body decoded (IsBase64Decode: true); told otherwise, the handler cannot read it.
    monkeypatch.setenv(BASE64_DECODED_BY_TRIGGER, "false")

    with pytest.raises(InvalidEvent, match="0FFF111D2A6B444B7FE46AE2A1B2"):
        handler("execute")(event("mns_execute.json"), CONTEXT)

    assert running.store.workers.get(1, 1).status is not WorkerStatus.SUCCESS
    assert cloud_binding(running).cert_name == "legacy-www"  # nothing was deployed


def test_a_notification_failing_transiently_is_sent_again_later_and_only_that_one(
    running: Container, outbox: Outbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    [job_finished, _] = notify_bodies_of_a_rolled_back_job(running)
    monkeypatch.setenv(BASE64_DECODED_BY_TRIGGER, "false")
    outbox.fail_next.add(Channel.SMS)

    assert handler("notify")(mns_batch([job_finished]), CONTEXT) == "handled 1 message(s)"
    assert outbox.sent == [(Channel.EMAIL, "ops@acme.test", JOB_FINISHED_SUBJECT)]

    # The retry policy sends the message again at its next attempt, after the policy's first delay.
    notify_queue = running.deps.queues[QueueRole.NOTIFY]
    assert notify_queue.receive() is None
    clock.advance(running.deps.retry.delay_before(1))
    retry = notify_queue.receive()
    assert retry is not None and json.loads(retry.body)["attempt"] == 1

    assert handler("notify")(mns_batch([retry.body]), CONTEXT) == "handled 1 message(s)"
    assert outbox.sent[1:] == [(Channel.SMS, "13800001234", JOB_FINISHED_SUBJECT)]


def test_the_scheduler_ticks_on_its_timer_event(running: Container, tmp_path: Path, clock: ManualClock) -> None:
    # A resource appears in the cloud after the last sync: the first tick once the sync interval passed offers it,
    # beside the one already known.
    (tmp_path / "grown.yaml").write_text(INVENTORY + GROWN)
    assert running.local_cloud is not None
    running.local_cloud.load(1, read_inventory(tmp_path / "grown.yaml"))
    clock.advance(running.deps.resource_sync_seconds)

    report = json.loads(handler("scheduler")(event("timer.json"), CONTEXT))

    assert report["synced_resources"] == 2 and report["started_jobs"] == 0  # job 1 was started when submitted
    listed = running.store.resources.search(1).items
    assert sorted(r.domain for r in listed) == ["api.example.com", "www.example.com"]


def test_certificate_issued_deploys_a_renewal_for_a_hosting_account(running: Container) -> None:
    handler("execute")(event("mns_execute.json"), CONTEXT)
    running.store.accounts.set_hosting(1, True)
    renewal = make_cert(["www.example.com"], common_name="www.example.com", not_after=LATER)
    renewed = upload_certificate(
        running.deps, 1, CertificateUpload(name="www-renewed", cert=renewal.cert_pem, key=renewal.key_pem)
    )
    assert renewed.id == 2
    running.deps.queues[QueueRole.CERTIFICATE_ISSUED].receive_batch(16)  # the upload's own event: not this test's
    assert handler("certificate_issued")(event("certificate_issued.json"), CONTEXT) == "ok"
    hosted = running.store.jobs.search(1, page_size=10).items[0]
    assert (str(hosted.job_type), hosted.cert_ids) == ("trustee", (2,))
    assert hosted.status is JobStatus.PROCESSING


def test_certificate_issued_also_takes_the_event_from_its_queue(running: Container) -> None:
    handler("execute")(event("mns_execute.json"), CONTEXT)
    running.store.accounts.set_hosting(1, True)
    renewal = make_cert(["www.example.com"], common_name="www.example.com", not_after=LATER)
    renewed = upload_certificate(
        running.deps, 1, CertificateUpload(name="www-renewed", cert=renewal.cert_pem, key=renewal.key_pem)
    )
    messages = running.deps.queues[QueueRole.CERTIFICATE_ISSUED].receive_batch(16)
    [body] = [m.body for m in messages if json.loads(m.body)["data"]["certId"] == renewed.id]
    queued = json.loads(event("mns_execute.json"))
    queued[0]["data"]["messageBody"] = body  # what the queue trigger delivers (IsBase64Decode: true)
    assert handler("certificate_issued")(json.dumps(queued).encode(), CONTEXT) == "ok"
    hosted = running.store.jobs.search(1, page_size=10).items[0]
    assert (str(hosted.job_type), hosted.cert_ids, hosted.status) == ("trustee", (renewed.id,), JobStatus.PROCESSING)
