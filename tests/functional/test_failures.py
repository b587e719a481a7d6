"""One failure model for every queue consumer (docs/failures.md): a transient failure is retried by the consumer with
the policy's backoff, up to its attempts; a permanent one, or the last attempt's, is recorded and not retried."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from certdeploy.adapters.notify import ContactNotifier, RenderedNotification
from certdeploy.app.accounts import Credentials
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.jobs import JobDraft, change_job_status, create_job
from certdeploy.app.messages import QueueRole, RollbackWorker
from certdeploy.app.rollback import request_rollback, rollback_worker
from certdeploy.bootstrap.container import Container
from certdeploy.domain.failures import NotificationFailed, PermanentNotificationFailure, TransientNotificationFailure
from certdeploy.domain.models import Worker
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.ports.notifier import Channel
from tests.certgen import make_cert
from tests.fakes.queue_drain import drain
from tests.functional.conftest import ManualClock, load_inventory

W = WorkerStatus
INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com, cert: legacy-www%s}
"""


@dataclass
class ScriptedSender:
    """A channel that fails with the given failures, one per send, then delivers; it records what it delivered."""

    failures: list[NotificationFailed] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    calls: int = 0

    def send(self, address: str, message: RenderedNotification) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(address)


@dataclass
class OneWorkerJob:
    container: Container
    account_id: int
    job_id: int
    worker_id: int
    email: ScriptedSender
    sms: ScriptedSender

    def worker(self) -> Worker:
        return self.container.store.workers.get(self.account_id, self.worker_id)

    def reload(self, settings: str, tmp_path: Path) -> None:
        load_inventory(self.container, self.account_id, INVENTORY % settings, tmp_path)

    def served(self) -> str | None:
        [resource] = self.container.store.resources.search(self.account_id).items
        assert self.container.local_cloud is not None
        return self.container.local_cloud.current_binding(resource).cert_name


def _one_worker_job(
    container: Container, account: Credentials, tmp_path: Path, settings: str = "", sms: ScriptedSender | None = None
) -> OneWorkerJob:
    """One CDN resource serving `legacy-www`, one contact with an email and a mobile; the job is submitted."""
    aid = account.account.id
    load_inventory(container, aid, INVENTORY % settings, tmp_path)
    generated = make_cert(["*.example.com"])
    cert = upload_certificate(
        container.deps, aid, CertificateUpload(name="wild", cert=generated.cert_pem, key=generated.key_pem)
    )
    contact = container.store.contacts.add(aid, name="ops", email="ops@example.com", mobile="13800001234")
    [resource] = container.store.resources.search(aid).items
    draft = JobDraft(name="j", cert_ids=(cert.id,), resource_ids=(resource.id,), contact_ids=(contact.id,))
    job = create_job(container.deps, aid, draft)
    email, sms = ScriptedSender(), sms or ScriptedSender()
    container.notifier = ContactNotifier({Channel.EMAIL: email, Channel.SMS: sms})
    change_job_status(container.deps, aid, job.id, JobStatus.SCHEDULING)
    [worker] = container.store.workers.of_job(aid, job.id)
    return OneWorkerJob(container, aid, job.id, worker.id, email, sms)


def _rolled_back(container: Container, account: Credentials, tmp_path: Path, settings: str) -> OneWorkerJob:
    """The job deployed; then the resource is described with `settings`, and the rollback's first attempt runs."""
    world = _one_worker_job(container, account, tmp_path)
    drain(container)
    assert world.worker().status is W.SUCCESS and world.served() == "wild"
    world.reload(settings, tmp_path)
    request_rollback(container.deps, world.account_id, world.job_id, world.worker_id)
    drain(container)
    return world


# ------------------------------------------------------------------------------------------------------- rollback


def test_a_transient_rollback_failure_is_retried_with_backoff_then_succeeds(
    container: Container, account: Credentials, tmp_path: Path, clock: ManualClock
) -> None:
    # GIVEN a deployed worker whose resource is throttled twice, WHEN its rollback runs
    world = _rolled_back(container, account, tmp_path, ", flaky: 2")
    # THEN the first attempt is throttled: the worker waits for its next attempt, whose message is not due yet
    worker = world.worker()
    assert (worker.status, worker.attempt, worker.error_code) == (W.ROLLBACK, 1, "Throttling.User")
    assert "attempt 2 of 3 in 1 s" in (worker.error_message or "")
    clock.advance(1)
    drain(container)
    worker = world.worker()
    assert (worker.status, worker.attempt) == (W.ROLLBACK, 2)
    assert "attempt 3 of 3 in 2 s" in (worker.error_message or "")
    # AND the third attempt, after the doubled delay, puts the previous certificate back
    clock.advance(2)
    drain(container)
    worker = world.worker()
    assert (worker.status, worker.error_code, worker.error_message) == (W.ROLLBACK_SUCCESS, None, None)
    assert world.served() == "legacy-www"
    assert container.store.jobs.get(world.account_id, world.job_id).status is JobStatus.ROLLED_BACK


def test_a_rollback_that_keeps_failing_transiently_ends_in_rollback_error_after_the_last_attempt(
    container: Container, account: Credentials, tmp_path: Path, clock: ManualClock
) -> None:
    world = _rolled_back(container, account, tmp_path, ", flaky: 9")
    for _ in range(container.deps.retry.max_attempts):
        clock.advance(container.deps.retry.max_delay_seconds)
        drain(container)
    worker = world.worker()
    assert (worker.status, worker.error_code) == (W.ROLLBACK_ERROR, "Throttling.User")
    assert "gave up after 3 attempts" in (worker.error_message or "")
    assert world.served() == "wild"
    # AND nothing loops: no message is left, however long one waits
    clock.advance(container.deps.stuck_after_seconds + 1)
    assert drain(container) == 0
    assert container.deps.queues[QueueRole.ROLLBACK].receive_batch(16) == []


def test_a_late_redelivery_of_a_retried_rollback_attempt_does_nothing(
    container: Container, account: Credentials, tmp_path: Path
) -> None:
    # GIVEN attempt 0 throttled: the worker is at attempt 1, whose message is not due yet
    world = _rolled_back(container, account, tmp_path, ", flaky: 1")
    # WHEN attempt 0's message comes again, with the resource no longer throttled
    stale = RollbackWorker(account_id=world.account_id, job_id=world.job_id, worker_id=world.worker_id)
    rollback_worker(container.deps, stale)
    # THEN it does nothing: the rollback is attempt 1's to do
    worker = world.worker()
    assert (worker.status, worker.attempt, world.served()) == (W.ROLLBACK, 1, "wild")


def test_a_permanent_rollback_failure_is_recorded_without_retry(
    container: Container, account: Credentials, tmp_path: Path
) -> None:
    world = _rolled_back(container, account, tmp_path, ", fail: the listener is locked")
    worker = world.worker()
    assert (worker.status, worker.attempt, worker.error_code) == (W.ROLLBACK_ERROR, 0, "OperationDenied")
    assert worker.error_message == "the listener is locked"


# --------------------------------------------------------------------------------------------------------- deploy


def test_a_permanent_deploy_failure_is_recorded_without_retry_and_refunded(
    container: Container, account: Credentials, tmp_path: Path, clock: ManualClock
) -> None:
    world = _one_worker_job(container, account, tmp_path, ", fail: the listener is locked")
    drain(container)
    worker = world.worker()
    assert (worker.status, worker.attempt, worker.error_code) == (W.ERROR, 0, "OperationDenied")
    assert container.store.quota.balance(world.account_id).use_count == 0
    clock.advance(container.deps.retry.max_delay_seconds)
    assert container.deps.queues[QueueRole.DEPLOY].receive_batch(16) == []


def test_a_deploy_that_succeeds_after_a_throttled_attempt_carries_no_error(
    container: Container, account: Credentials, tmp_path: Path, clock: ManualClock
) -> None:
    world = _one_worker_job(container, account, tmp_path, ", flaky: 1")
    drain(container)
    assert world.worker().error_code == "Throttling.User"
    clock.advance(container.deps.retry.max_delay_seconds)
    drain(container)
    worker = world.worker()
    assert (worker.status, worker.attempt, worker.error_code, worker.error_message) == (W.SUCCESS, 1, None, None)


# --------------------------------------------------------------------------------------------------------- notify


def _told(container: Container, account: Credentials, tmp_path: Path, *failures: NotificationFailed) -> OneWorkerJob:
    """The job runs and its contact is told, the SMS gateway failing its first sends with `failures`."""
    world = _one_worker_job(container, account, tmp_path, sms=ScriptedSender(failures=list(failures)))
    drain(container)
    return world


def test_a_channel_failing_transiently_is_retried_without_sending_again_what_went_out(
    container: Container, account: Credentials, tmp_path: Path, clock: ManualClock
) -> None:
    # GIVEN an SMS gateway that is throttling for two sends, WHEN the job runs and its contact is told
    world = _told(container, account, tmp_path, *[TransientNotificationFailure("isv.BUSINESS_LIMIT_CONTROL")] * 2)
    # THEN the mail went out and the SMS waits for its retry
    assert (world.email.sent, world.sms.sent, world.sms.calls) == (["ops@example.com"], [], 1)
    clock.advance(1)
    drain(container)
    assert (world.sms.sent, world.sms.calls) == ([], 2)
    # AND the third attempt delivers the SMS, and the mail is never sent again
    clock.advance(2)
    drain(container)
    assert (world.email.sent, world.sms.sent, world.sms.calls) == (["ops@example.com"], ["13800001234"], 3)
    clock.advance(container.deps.retry.max_delay_seconds)
    assert drain(container) == 0


def test_a_channel_that_keeps_failing_transiently_is_given_up_after_the_last_attempt(
    container: Container, account: Credentials, tmp_path: Path, clock: ManualClock
) -> None:
    world = _told(container, account, tmp_path, *[TransientNotificationFailure("isv.BUSINESS_LIMIT_CONTROL")] * 9)
    for _ in range(container.deps.retry.max_attempts + 1):
        clock.advance(container.deps.retry.max_delay_seconds)
        drain(container)
    assert (world.email.sent, world.sms.sent, world.sms.calls) == (["ops@example.com"], [], 3)


def test_a_permanent_notification_failure_is_recorded_without_retry(
    container: Container, account: Credentials, tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    world = _told(container, account, tmp_path, PermanentNotificationFailure("isv.MOBILE_NUMBER_ILLEGAL"))
    clock.advance(container.deps.retry.max_delay_seconds)
    assert drain(container) == 0
    assert (world.email.sent, world.sms.sent, world.sms.calls) == (["ops@example.com"], [], 1)
    assert "failed for good: isv.MOBILE_NUMBER_ILLEGAL" in caplog.text
