"""Workers of one job finishing at the same moment, on every database: the job always ends, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from certdeploy.app.accounts import create_account
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.execute import deploy_worker, deploy_workers
from certdeploy.app.jobs import JobDraft, change_job_status, create_job
from certdeploy.app.messages import DeployWorker, NotifyContacts, QueueRole, parse_command
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.domain.models import Product
from certdeploy.domain.notifications import NotificationEvent
from certdeploy.domain.stages import parse_stages
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.domain.timeline import JobEventType
from tests.certgen import make_cert
from tests.contract.store_fixtures import BACKENDS, fresh_database
from tests.fakes.queue_drain import deploy_messages
from tests.functional.conftest import load_inventory

WORKERS = 8
ROUNDS = 5
INVENTORY = "resources:\n" + "".join(
    f"  - {{product: CDN, region: cn-hangzhou, instance: cdn-{i}, domain: h{i}.example.com}}\n" for i in range(WORKERS)
)


@pytest.fixture(params=BACKENDS)
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    with fresh_database(request.param, tmp_path) as url:
        built = build_container(Settings(data=tmp_path / "data", database_url=url), migrate=True)
        try:
            yield built
        finally:
            built.close()


def test_the_last_worker_to_end_finishes_the_job_even_when_all_end_together(
    container: Container, tmp_path: Path
) -> None:
    aid = create_account(container.store, "acme", quota=WORKERS).account.id
    load_inventory(container, aid, INVENTORY, tmp_path)
    generated = make_cert(["*.example.com"])
    cert = upload_certificate(
        container.deps, aid, CertificateUpload(name="wild", cert=generated.cert_pem, key=generated.key_pem)
    )
    resource_ids = tuple(r.id for r in container.store.resources.search(aid).items)
    container.store.quota.add(aid, WORKERS * ROUNDS)
    for round_number in range(ROUNDS):  # the race is narrow: several bursts make a lost finish show
        draft = JobDraft(name=f"burst {round_number}", cert_ids=(cert.id,), resource_ids=resource_ids)
        job = create_job(container.deps, aid, draft)
        change_job_status(container.deps, aid, job.id, JobStatus.SCHEDULING)
        commands = [parse_command(m.body) for m in deploy_messages(container)]
        assert len(commands) == WORKERS and all(isinstance(c, DeployWorker) for c in commands)

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(lambda command: deploy_worker(container.deps, command), commands))

        assert {w.status for w in container.store.workers.of_job(aid, job.id)} == {WorkerStatus.SUCCESS}
        assert container.store.jobs.get(aid, job.id).status is JobStatus.SUCCESS
        notifications = container.deps.queues[QueueRole.NOTIFY].receive_batch(16)
        [told] = [parse_command(message.body) for message in notifications]  # the job finished once: told once
        assert isinstance(told, NotifyContacts)
        assert (told.job_id, told.event, told.outcome) == (job.id, NotificationEvent.JOB_FINISHED, JobStatus.SUCCESS)
        for message in notifications:
            container.deps.queues[QueueRole.NOTIFY].delete(message.receipt_handle)


def test_the_last_worker_of_a_stage_starts_the_next_one_exactly_once(container: Container, tmp_path: Path) -> None:
    aid = create_account(container.store, "acme", quota=WORKERS * ROUNDS).account.id
    load_inventory(container, aid, INVENTORY, tmp_path)
    generated = make_cert(["*.example.com"])
    cert = upload_certificate(
        container.deps, aid, CertificateUpload(name="wild", cert=generated.cert_pem, key=generated.key_pem)
    )
    resource_ids = tuple(r.id for r in container.store.resources.search(aid).items)
    for round_number in range(ROUNDS):
        draft = JobDraft(
            name=f"staged {round_number}",
            cert_ids=(cert.id,),
            resource_ids=resource_ids,
            stages=parse_stages("50%,100%"),
        )
        job = create_job(container.deps, aid, draft)
        change_job_status(container.deps, aid, job.id, JobStatus.SCHEDULING)
        for _stage in (1, 2):
            commands = [parse_command(m.body) for m in deploy_messages(container)]
            assert len(commands) == WORKERS // 2  # one stage's workers, fanned out once
            with ThreadPoolExecutor(max_workers=WORKERS) as pool:
                list(pool.map(lambda command: deploy_worker(container.deps, command), commands))

        assert deploy_messages(container) == []
        assert container.store.jobs.get(aid, job.id).status is JobStatus.SUCCESS
        events = container.store.job_events.page(aid, job.id, page_size=100).items
        assert [e.detail for e in events if e.type is JobEventType.STAGE_STARTED] == [
            "stage 1 of 2 started: 4 worker(s)",
            "stage 2 of 2 started: 4 worker(s)",
        ]
        notifications = container.deps.queues[QueueRole.NOTIFY].receive_batch(16)
        assert len(notifications) == 1  # finished once
        for message in notifications:
            container.deps.queues[QueueRole.NOTIFY].delete(message.receipt_handle)


def test_two_consumers_given_one_batch_deploy_each_worker_once_and_finish_the_job_once(
    container: Container, tmp_path: Path
) -> None:
    aid = create_account(container.store, "acme", quota=WORKERS * ROUNDS).account.id
    load_inventory(container, aid, INVENTORY, tmp_path)
    generated = make_cert(["*.example.com"])
    cert = upload_certificate(
        container.deps, aid, CertificateUpload(name="wild", cert=generated.cert_pem, key=generated.key_pem)
    )
    resources = container.store.resources.search(aid).items
    assert container.local_cloud is not None
    for round_number in range(ROUNDS):
        draft = JobDraft(name=f"twice {round_number}", cert_ids=(cert.id,), resource_ids=tuple(r.id for r in resources))
        job = create_job(container.deps, aid, draft)
        change_job_status(container.deps, aid, job.id, JobStatus.SCHEDULING)
        commands = [parse_command(m.body) for m in deploy_messages(container)]
        assert all(isinstance(c, DeployWorker) for c in commands)
        # The batch is delivered again (its visibility ran out) to a second consumer while the first works on it, in
        # the opposite order; the first also got three of its messages twice.
        batches = [commands + commands[:3], commands[::-1]]

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda batch: deploy_workers(container.deps, batch), batches))

        workers = container.store.workers.of_job(aid, job.id)
        assert {w.status for w in workers} == {WorkerStatus.SUCCESS}
        assert container.store.workers.counts(aid, job.id) == {(Product.CDN, WorkerStatus.SUCCESS): WORKERS}
        assert container.store.jobs.get(aid, job.id).status is JobStatus.SUCCESS
        assert {container.local_cloud.deploy_count(r) for r in resources} == {1}  # bound once, kept after
        notifications = container.deps.queues[QueueRole.NOTIFY].receive_batch(16)
        assert len(notifications) == 1  # finished once
        for message in notifications:
            container.deps.queues[QueueRole.NOTIFY].delete(message.receipt_handle)
