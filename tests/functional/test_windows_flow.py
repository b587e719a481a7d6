"""Maintenance windows on the embedded runtime, over days of a manual clock (the API tests cannot move the clock more
than the signature's 15 minutes): a worker waiting days for its window is neither re-sent nor given up by the
scheduler's stuck-work check, and runs at the opening."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from certdeploy.app.accounts import Credentials
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.jobs import JobDraft, change_job_status, create_job
from certdeploy.app.scheduler import tick
from certdeploy.app.windows import add_window
from certdeploy.bootstrap.container import Container
from certdeploy.domain.models import Product
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.domain.timeline import JobEventType
from certdeploy.domain.windows import WindowSpec
from tests.certgen import make_cert
from tests.fakes.queue_drain import drain
from tests.functional.conftest import ManualClock, load_inventory

INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com}
  - {product: ALB, region: cn-shanghai, instance: alb-1, domain: api.example.com, port: 443, tags: {env: prod}}
"""


@pytest.fixture
def world(container: Container, account: Credentials, tmp_path: Path) -> int:
    """The inventory loaded for the account, and the id of a certificate that covers it."""
    load_inventory(container, account.account.id, INVENTORY, tmp_path)
    generated = make_cert(["*.example.com"], common_name="*.example.com")
    upload = CertificateUpload(name="wild", cert=generated.cert_pem, key=generated.key_pem)
    return upload_certificate(container.deps, account.account.id, upload).id


def test_a_worker_waiting_days_for_its_window_is_not_taken_for_stuck_and_runs_at_the_opening(
    container: Container, account: Credentials, clock: ManualClock, world: int
) -> None:
    aid, cert_id = account.account.id, world
    resources = {r.product: r.id for r in container.store.resources.search(aid, page_size=10).items}
    opening = (clock.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    prod = WindowSpec(
        days=(opening.weekday(),),
        start=opening.strftime("%H:%M"),
        duration_minutes=60,
        time_zone="UTC",
        tag_key="env",
        tag_value="prod",
    )
    add_window(container.deps, aid, prod)
    draft = JobDraft(name="rollout", cert_ids=(cert_id,), resource_ids=(resources[Product.CDN], resources[Product.ALB]))
    job_id = create_job(container.deps, aid, draft).id

    change_job_status(container.deps, aid, job_id, JobStatus.SCHEDULING)
    drain(container)
    for _ in range(6):  # hours past the stuck-work deadline, and past the attempts a stuck worker would be given
        clock.advance(3600)
        assert tick(container.deps).resent_workers == 0
        drain(container)

    alb = next(w for w in container.store.workers.of_job(aid, job_id) if w.product is Product.ALB)
    assert (alb.status, alb.attempt) == (WorkerStatus.SCHEDULING, 0)
    assert container.store.jobs.get(aid, job_id).status is JobStatus.PROCESSING

    clock.current = opening + timedelta(seconds=1)
    tick(container.deps)
    drain(container)

    assert container.store.jobs.get(aid, job_id).status is JobStatus.SUCCESS
    events = container.store.job_events.page(aid, job_id, page=1, page_size=100).items
    waits = [e for e in events if e.type is JobEventType.WAITING_FOR_WINDOW]
    assert [e.worker_id for e in waits] == [alb.id]


def test_workers_not_started_when_the_window_closes_wait_for_its_next_opening(
    container: Container, account: Credentials, clock: ManualClock, world: int
) -> None:
    aid, cert_id = account.account.id, world
    resources = [r.id for r in container.store.resources.search(aid, page_size=10).items]
    opening = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    one_minute = WindowSpec(
        days=(opening.weekday(),), start=opening.strftime("%H:%M"), duration_minutes=1, time_zone="UTC"
    )
    add_window(container.deps, aid, one_minute)
    job_id = create_job(
        container.deps, aid, JobDraft(name="rollout", cert_ids=(cert_id,), resource_ids=tuple(resources))
    ).id
    change_job_status(container.deps, aid, job_id, JobStatus.PENDING)

    clock.current = opening
    assert tick(container.deps).started_jobs == 1
    clock.advance(60)  # the window closed before the job's workers were taken from the queue
    drain(container)

    workers = container.store.workers.of_job(aid, job_id)
    assert {w.status for w in workers} == {WorkerStatus.SCHEDULING}
    assert container.store.jobs.get(aid, job_id).status is JobStatus.PROCESSING

    clock.current = opening + timedelta(days=7, seconds=1)
    drain(container)

    assert container.store.jobs.get(aid, job_id).status is JobStatus.SUCCESS
