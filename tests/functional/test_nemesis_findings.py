"""Regressions the fault-injection suite (tests/functional/test_fault_injection.py) found, each pinned on one small
job so it stays fixed whatever schedule the nemesis draws next."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from certdeploy.adapters.notify import ContactNotifier
from certdeploy.app.accounts import create_account
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.consumers import consume
from certdeploy.app.jobs import JobDraft, change_job_status, create_job
from certdeploy.app.messages import QueueRole
from certdeploy.app.rollback import request_rollback
from certdeploy.app.scheduler import tick
from certdeploy.bootstrap.container import Container
from certdeploy.domain.notifications import NotificationEvent
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.ports.notifier import Channel
from tests.certgen import make_cert
from tests.fakes.nemesis import (
    Nemesis,
    NeverFailingSender,
    Notified,
    RecordingCloud,
    RecordingNotifier,
    SimulatedCrash,
)
from tests.fakes.queue_drain import deploy_messages, drain
from tests.functional.conftest import ManualClock, load_inventory

J, W = JobStatus, WorkerStatus
# About a third of a second each; set CERTDEPLOY_FAULT_EXAMPLES higher for a longer soak.
# The smallest histories in which it found a bug, kept as plain tests.

WILDCARD = make_cert(["*.example.com"])
SMALL_INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com, cert: legacy-www%s}
"""


@dataclass
class SmallWorld:
    container: Container
    account_id: int
    job_id: int
    worker_id: int
    notifier: RecordingNotifier


def _one_worker_job(container: Container, tmp_path: Path) -> SmallWorld:
    """One uploaded certificate, one CDN resource, one contact (email and SMS); the job is submitted to run now."""
    store, deps = container.store, container.deps
    account_id = create_account(store, "acme", quota=5).account.id
    load_inventory(container, account_id, SMALL_INVENTORY % "", tmp_path)
    cert = upload_certificate(
        deps, account_id, CertificateUpload(name="wildcard", cert=WILDCARD.cert_pem, key=WILDCARD.key_pem)
    )
    contact = store.contacts.add(account_id, name="ops", email="ops@acme.test", mobile="13800001234")
    [resource] = store.resources.search(account_id).items
    draft = JobDraft(name="www", cert_ids=(cert.id,), resource_ids=(resource.id,), contact_ids=(contact.id,))
    job = create_job(deps, account_id, draft)
    change_job_status(deps, account_id, job.id, J.SCHEDULING)
    notifier = RecordingNotifier(
        ContactNotifier({Channel.EMAIL: NeverFailingSender(), Channel.SMS: NeverFailingSender()})
    )
    container.notifier = notifier
    [worker] = store.workers.of_job(account_id, job.id)
    return SmallWorld(container, account_id, job.id, worker.id, notifier)


def _consume_all(container: Container, role: QueueRole) -> None:
    queue = container.deps.queues[role]
    while batch := queue.receive_batch(16):  # until empty: a job's fan-out sends its workers' messages to this queue
        for message in batch:
            consume(container.deps, container.notifier, role, message.body)
            queue.delete(message.receipt_handle)


def _told(world: SmallWorld, event: NotificationEvent) -> list[Notified]:
    return [n for n in world.notifier.delivered if f":{event}:" in n.delivery_key]


def test_a_failed_rollback_is_reported_to_the_contacts(container: Container, tmp_path: Path) -> None:
    # Found: a rollback_finished report required the job to read rolled_back, so the report of a failed rollback
    # could not even be built; the notify message failed on every receive and was dead-lettered.
    world = _one_worker_job(container, tmp_path)
    drain(container)
    load_inventory(container, world.account_id, SMALL_INVENTORY % ", fail: the listener is locked", tmp_path)

    request_rollback(container.deps, world.account_id, world.job_id, world.worker_id)
    drain(container)

    assert container.store.workers.get(world.account_id, world.worker_id).status is W.ROLLBACK_ERROR
    assert {n.channel for n in _told(world, NotificationEvent.ROLLBACK_FINISHED)} == {Channel.EMAIL, Channel.SMS}


def test_a_job_rolled_back_before_its_report_went_out_is_still_reported(container: Container, tmp_path: Path) -> None:
    # Found: the job-finished report was built from the job as it is when the notify message is handled; a job
    # rolled back in the meantime made it invalid, and the contacts never heard that the job had finished.
    world = _one_worker_job(container, tmp_path)
    _consume_all(container, QueueRole.DEPLOY)
    request_rollback(container.deps, world.account_id, world.job_id, world.worker_id)
    _consume_all(container, QueueRole.ROLLBACK)

    drain(container)

    assert container.store.jobs.get(world.account_id, world.job_id).status is J.ROLLED_BACK
    assert len(_told(world, NotificationEvent.JOB_FINISHED)) == 2  # email and SMS
    assert len(_told(world, NotificationEvent.ROLLBACK_FINISHED)) == 2


def test_a_rollback_asked_for_again_is_reported_again(container: Container, tmp_path: Path) -> None:
    # Found: every rollback of one worker was told under the same key, so after a failed rollback the report of
    # the rollback asked for again was skipped as already sent.
    world = _one_worker_job(container, tmp_path)
    drain(container)
    load_inventory(container, world.account_id, SMALL_INVENTORY % ", fail: the listener is locked", tmp_path)
    request_rollback(container.deps, world.account_id, world.job_id, world.worker_id)
    drain(container)
    load_inventory(container, world.account_id, SMALL_INVENTORY % "", tmp_path)

    request_rollback(container.deps, world.account_id, world.job_id, world.worker_id)
    drain(container)

    assert container.store.workers.get(world.account_id, world.worker_id).status is W.ROLLBACK_SUCCESS
    assert len(_told(world, NotificationEvent.ROLLBACK_FINISHED)) == 4  # two rollbacks, email and SMS each


def test_a_worker_given_up_on_after_its_certificate_was_bound_ends_in_success(
    container: Container, clock: ManualClock, tmp_path: Path
) -> None:
    # Found: an execution that bound the certificate and died before recording it left the worker in flight; the
    # scheduler, at the last attempt, ended it in error (and refunded it) while the resource served the certificate.
    world = _one_worker_job(container, tmp_path)
    assert container.local_cloud is not None
    cloud = RecordingCloud(container.local_cloud, container.store)
    container.deps = replace(container.deps, deployers=cloud)
    [message] = deploy_messages(container)
    cloud.after_change = Nemesis.crash
    with pytest.raises(SimulatedCrash):
        consume(container.deps, container.notifier, QueueRole.DEPLOY, message.body)

    for _ in range(container.deps.retry.max_attempts):  # every later execution is lost too
        clock.advance(container.deps.stuck_after_seconds + 1)
        tick(container.deps, sync=False)

    worker = container.store.workers.get(world.account_id, world.worker_id)
    assert (worker.status, worker.error_code) == (W.SUCCESS, None)
    assert container.store.jobs.get(world.account_id, world.job_id).status is J.SUCCESS
    assert container.store.quota.balance(world.account_id).use_count == 1
    assert [c.changed for c in cloud.changes] == [True]
