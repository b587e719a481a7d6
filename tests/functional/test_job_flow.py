"""A deployment job end to end on the embedded runtime, through the use cases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from certdeploy.app import stages
from certdeploy.app.accounts import Credentials, create_account
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.jobs import JobDraft, change_job_status, create_job, delete_job, job_progress
from certdeploy.app.rollback import request_rollback
from certdeploy.app.scheduler import tick
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.domain.errors import InvalidStatus, NotFound, QuotaExceeded
from certdeploy.domain.models import Product
from certdeploy.domain.states import JobStatus, WorkerStatus
from tests.certgen import make_cert
from tests.fakes.queue_drain import drain
from tests.functional.conftest import START, ManualClock, load_inventory

INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com, cert: legacy-www}
  - {product: ALB, region: cn-shanghai, instance: alb-1, domain: api.example.com, port: 443}
  - {product: NLB, region: cn-shanghai, instance: nlb-1, domain: tcp.example.com, port: 8443, fail: listener is locked}
  - {product: OSS, region: cn-beijing, instance: bucket-a, domain: static.example.com, https: false}
  - {product: WAF, region: cn-hangzhou, instance: waf-1, domain: shop.example.org}
"""


@pytest.fixture
def world(container: Container, account: Credentials, tmp_path: Path) -> dict[str, int]:
    load_inventory(container, account.account.id, INVENTORY, tmp_path)
    generated = make_cert(["*.example.com"], common_name="*.example.com")
    cert = upload_certificate(
        container.deps,
        account.account.id,
        CertificateUpload(name="wild", cert=generated.cert_pem, key=generated.key_pem),
    )
    resources = container.store.resources.search(account.account.id, page_size=100).items
    ids = {r.product: r.id for r in resources}
    return {"cert": cert.id, **{str(p): i for p, i in ids.items()}}


def _job(container: Container, account: Credentials, world: dict[str, int], **overrides: object) -> int:
    draft = JobDraft(
        name="rollout",
        cert_ids=(world["cert"],),
        resource_ids=tuple(world[p] for p in ("CDN", "ALB", "NLB", "OSS", "WAF")),
        **overrides,
    )
    return create_job(container.deps, account.account.id, draft).id


def test_preview_counts_workers_cost_and_exclusions(container: Container, account: Credentials, world) -> None:
    job_id = _job(container, account, world)
    preview = job_progress(container.deps, account.account.id, job_id)
    assert preview.job.status is JobStatus.EDITING
    assert preview.worker_count == 3  # CDN, ALB, NLB; OSS has HTTPS off, WAF's domain is not covered
    assert preview.cost_count == 3 and preview.cert_count == 1
    assert (preview.quota.buy_count, preview.quota.use_count) == (10, 0)
    assert {(e.product, str(e.reason)) for e in preview.exclusions} == {
        (Product.OSS, "https_disabled"),
        (Product.WAF, "no_match"),
    }


def test_a_job_deploys_charges_refunds_and_notifies(container: Container, account: Credentials, world) -> None:
    aid = account.account.id
    job_id = _job(container, account, world)
    job = change_job_status(container.deps, aid, job_id, JobStatus.SCHEDULING)
    assert job.status is JobStatus.PROCESSING
    assert container.store.quota.balance(aid).use_count == 3
    drain(container)
    progress = job_progress(container.deps, aid, job_id)
    assert progress.job.status is JobStatus.ERROR
    assert (progress.success_count, progress.failed_count) == (2, 1)
    assert container.store.quota.balance(aid).use_count == 2  # the failed NLB worker gave its unit back
    workers = {w.product: w for w in container.store.workers.of_job(aid, job_id)}
    assert workers[Product.NLB].status is WorkerStatus.ERROR
    assert workers[Product.NLB].error_message == "listener is locked"
    assert workers[Product.CDN].resource_cert_name == "legacy-www"
    cdn = container.store.resources.get_many(aid, [world["CDN"]])[0]
    assert cdn.bound_cert_id == world["cert"]


def test_rollback_restores_the_previous_certificate(container: Container, account: Credentials, world) -> None:
    aid = account.account.id
    job_id = _job(container, account, world)
    change_job_status(container.deps, aid, job_id, JobStatus.SCHEDULING)
    drain(container)
    cdn_worker = next(w for w in container.store.workers.of_job(aid, job_id) if w.product is Product.CDN)
    request_rollback(container.deps, aid, job_id, cdn_worker.id)
    with pytest.raises(InvalidStatus, match="rollback"):
        delete_job(container.deps, aid, job_id)  # not while its rollback runs
    drain(container)
    assert container.store.workers.get(aid, cdn_worker.id).status is WorkerStatus.ROLLBACK_SUCCESS
    assert container.store.jobs.get(aid, job_id).status is JobStatus.ROLLED_BACK
    cdn = container.store.resources.get_many(aid, [world["CDN"]])[0]
    assert (cdn.bound_cert_id, cdn.bound_cert_name) == (None, "legacy-www")
    assert container.store.quota.balance(aid).use_count == 2  # rollback gives nothing back
    delete_job(container.deps, aid, job_id)
    with pytest.raises(NotFound):
        container.store.jobs.get(aid, job_id)


def test_quota_exceeded_keeps_the_job_editing(container: Container, account: Credentials, world) -> None:
    aid = account.account.id
    container.store.quota.add(aid, -8)
    job_id = _job(container, account, world)
    with pytest.raises(QuotaExceeded):
        change_job_status(container.deps, aid, job_id, JobStatus.PENDING)
    assert container.store.jobs.get(aid, job_id).status is JobStatus.EDITING
    assert container.store.quota.balance(aid).use_count == 0


def test_a_scheduled_job_runs_when_its_time_comes(
    container: Container, account: Credentials, world, clock: ManualClock
) -> None:
    aid = account.account.id
    job_id = _job(container, account, world, schedule_time=clock.now() + timedelta(hours=1))
    assert change_job_status(container.deps, aid, job_id, JobStatus.PENDING).status is JobStatus.PENDING
    assert tick(container.deps).started_jobs == 0
    clock.advance(3600)
    assert tick(container.deps).started_jobs == 1
    assert tick(container.deps).started_jobs == 0
    drain(container)
    assert container.store.jobs.get(aid, job_id).status is JobStatus.ERROR


def test_deleting_a_pending_job_gives_its_quota_back(
    container: Container, account: Credentials, world, clock: ManualClock
) -> None:
    aid = account.account.id
    job_id = _job(container, account, world, schedule_time=clock.now() + timedelta(days=1))
    change_job_status(container.deps, aid, job_id, JobStatus.PENDING)
    assert container.store.quota.balance(aid).use_count == 3
    delete_job(container.deps, aid, job_id)
    assert container.store.quota.balance(aid).use_count == 0


def test_a_running_job_cannot_be_deleted(container: Container, account: Credentials, world) -> None:
    aid = account.account.id
    job_id = _job(container, account, world)
    change_job_status(container.deps, aid, job_id, JobStatus.SCHEDULING)
    with pytest.raises(InvalidStatus):
        delete_job(container.deps, aid, job_id)


def test_rolling_back_a_renewal_rebinds_our_previous_certificate(
    container: Container, account: Credentials, world
) -> None:
    aid = account.account.id
    first = _job(container, account, world)
    change_job_status(container.deps, aid, first, JobStatus.SCHEDULING)
    drain(container)
    renewal = make_cert(["www.example.com"], common_name="www.example.com")
    newer = upload_certificate(
        container.deps, aid, CertificateUpload(name="www-2027", cert=renewal.cert_pem, key=renewal.key_pem)
    )
    second = create_job(
        container.deps, aid, JobDraft(name="renew", cert_ids=(newer.id,), resource_ids=(world["CDN"],))
    ).id
    change_job_status(container.deps, aid, second, JobStatus.SCHEDULING)
    drain(container)
    [worker] = container.store.workers.of_job(aid, second)
    assert worker.resource_cert_id == world["cert"]

    request_rollback(container.deps, aid, second, worker.id)
    drain(container)

    cdn = container.store.resources.get_many(aid, [world["CDN"]])[0]
    assert (cdn.bound_cert_id, cdn.bound_cert_name) == (world["cert"], "wild")
    assert container.local_cloud is not None
    assert container.local_cloud.current_binding(cdn).cert_id == world["cert"]


def test_a_certificate_that_expires_before_a_late_start_fails_its_worker_and_gives_the_unit_back(
    tmp_path: Path,
) -> None:
    scheduled = START + timedelta(hours=2)
    with freeze_time(START) as frozen:
        container = build_container(Settings(data=tmp_path / "data"))  # on the system clock, frozen
        try:
            aid = create_account(container.store, "acme", quota=5).account.id
            load_inventory(container, aid, INVENTORY, tmp_path)
            short = make_cert(["www.example.com"], not_after=scheduled + timedelta(seconds=1))
            cert = upload_certificate(
                container.deps, aid, CertificateUpload(name="short", cert=short.cert_pem, key=short.key_pem)
            )
            cdn = next(r for r in container.store.resources.search(aid).items if r.product is Product.CDN)
            draft = JobDraft(name="late", cert_ids=(cert.id,), resource_ids=(cdn.id,), schedule_time=scheduled)
            job_id = create_job(container.deps, aid, draft).id
            assert job_progress(container.deps, aid, job_id).worker_count == 1  # valid at the scheduled time
            change_job_status(container.deps, aid, job_id, JobStatus.PENDING)
            assert container.store.quota.balance(aid).use_count == 1

            frozen.move_to(scheduled + timedelta(seconds=2))  # the scheduler starts it two seconds late
            assert tick(container.deps).started_jobs == 1

            [worker] = container.store.workers.of_job(aid, job_id)
            assert (worker.status, worker.error_code) == (WorkerStatus.ERROR, "CertificateNotValid")
            assert container.store.jobs.get(aid, job_id).status is JobStatus.ERROR
            assert container.store.quota.balance(aid).use_count == 0
        finally:
            container.close()


ALTERNATING_INVENTORY = "resources:\n" + "".join(
    f"  - {{product: CDN, region: cn-hangzhou, instance: cdn-{n}{tld}, domain: s{n}.example.{tld}}}\n"
    for n in range(3)
    for tld in ("com", "org")
)


def test_every_worker_of_an_expired_certificate_fails_at_start_however_many_pages_they_fill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of two workers over six that alternate between a valid and an expired certificate: ending a page's
    # workers takes them out of `pending`, so paging by offset would skip some and leave the job running for ever.
    monkeypatch.setattr(stages, "ID_PAGE", 2)
    scheduled = START + timedelta(hours=2)
    lasting = make_cert(["*.example.com"])
    short = make_cert(["*.example.org"], not_after=scheduled + timedelta(seconds=1))
    with freeze_time(START) as frozen:
        container = build_container(Settings(data=tmp_path / "data"))
        try:
            aid = create_account(container.store, "acme", quota=10).account.id
            load_inventory(container, aid, ALTERNATING_INVENTORY, tmp_path)
            cert_ids = tuple(
                upload_certificate(
                    container.deps, aid, CertificateUpload(name=name, cert=made.cert_pem, key=made.key_pem)
                ).id
                for name, made in (("lasting", lasting), ("short", short))
            )
            resource_ids = tuple(r.id for r in container.store.resources.search(aid, page_size=10).items)
            draft = JobDraft(name="mixed", cert_ids=cert_ids, resource_ids=resource_ids, schedule_time=scheduled)
            job_id = create_job(container.deps, aid, draft).id
            change_job_status(container.deps, aid, job_id, JobStatus.PENDING)

            frozen.move_to(scheduled + timedelta(seconds=2))
            assert tick(container.deps).started_jobs == 1
            drain(container)

            ended = {w.resource_id: (w.status, w.error_code) for w in container.store.workers.of_job(aid, job_id)}
            assert (
                sorted(ended.values())
                == [(WorkerStatus.ERROR, "CertificateNotValid")] * 3 + [(WorkerStatus.SUCCESS, None)] * 3
            )
            assert container.store.jobs.get(aid, job_id).status is JobStatus.ERROR
            assert container.store.quota.balance(aid).use_count == 3
        finally:
            container.close()
