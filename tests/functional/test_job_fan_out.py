"""Starting a job records one message whatever its size; the fan-out behind it sends every worker's deploy message
once, a page at a time, in batches of 16; the job's counters answer its progress and finish it."""

from __future__ import annotations

from pathlib import Path

from certdeploy.app.accounts import Credentials
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.fanout import fan_out_job
from certdeploy.app.jobs import JobDraft, change_job_status, create_job, job_progress
from certdeploy.app.messages import DeployJob, DeployWorker, QueueRole, parse_command
from certdeploy.bootstrap.container import Container
from certdeploy.domain.models import Product
from certdeploy.domain.states import JobStatus, WorkerStatus
from tests.certgen import make_cert
from tests.fakes.queue_drain import drain
from tests.functional.conftest import load_inventory

WORKERS = 40
PAGE = 16


def _inventory(count: int) -> str:
    products = ("CDN", "DCDN", "WAF", "SAE")
    lines = [
        f"  - {{product: {products[i % len(products)]}, region: cn-hangzhou, instance: i-{i},"
        f" domain: h{i}.example.com}}"
        for i in range(count)
    ]
    return "resources:\n" + "\n".join(lines) + "\n"


def _started_job(container: Container, account: Credentials, tmp_path: Path) -> int:
    aid = account.account.id
    load_inventory(container, aid, _inventory(WORKERS), tmp_path)
    container.store.quota.add(aid, WORKERS)
    generated = make_cert(["*.example.com"])
    cert = upload_certificate(
        container.deps, aid, CertificateUpload(name="wild", cert=generated.cert_pem, key=generated.key_pem)
    )
    resource_ids = tuple(r.id for r in container.store.resources.search(aid, page_size=100).items)
    job = create_job(container.deps, aid, JobDraft(name="many", cert_ids=(cert.id,), resource_ids=resource_ids))
    change_job_status(container.deps, aid, job.id, JobStatus.SCHEDULING)
    return job.id


def test_starting_a_job_sends_one_message_and_its_fan_out_sends_each_worker_once(
    container: Container, account: Credentials, tmp_path: Path
) -> None:
    job_id = _started_job(container, account, tmp_path)
    queue = container.deps.queues[QueueRole.DEPLOY]
    [started] = queue.receive_batch(16)
    assert parse_command(started.body) == DeployJob(account_id=account.account.id, job_id=job_id)
    queue.delete(started.receipt_handle)

    pending = [parse_command(started.body)]
    deployed: list[int] = []
    while pending:
        sent = fan_out_job(container.deps, pending.pop(), page_size=PAGE)
        assert sent <= PAGE
        while batch := queue.receive_batch(16):
            for message in batch:
                command = parse_command(message.body)
                if isinstance(command, DeployJob):
                    pending.append(command)
                else:
                    assert isinstance(command, DeployWorker)
                    deployed.append(command.worker_id)
                queue.delete(message.receipt_handle)

    workers = container.store.workers.of_job(account.account.id, job_id)
    assert sorted(deployed) == sorted(w.id for w in workers)  # every worker once, none twice
    assert {w.status for w in workers} == {WorkerStatus.SCHEDULING}


def test_a_fanned_out_job_finishes_from_its_counters(
    container: Container, account: Credentials, tmp_path: Path
) -> None:
    aid = account.account.id
    job_id = _started_job(container, account, tmp_path)
    running = job_progress(container.deps, aid, job_id)
    assert (running.worker_count, running.success_count, running.cost_count) == (WORKERS, 0, WORKERS)

    drain(container)

    done = job_progress(container.deps, aid, job_id)
    assert done.job.status is JobStatus.SUCCESS
    assert (done.worker_count, done.success_count, done.failed_count, done.cert_count) == (WORKERS, WORKERS, 0, 1)
    assert done.workers_per_product == {p: WORKERS // 4 for p in (Product.CDN, Product.DCDN, Product.WAF, Product.SAE)}
    assert container.store.quota.balance(aid).use_count == WORKERS
