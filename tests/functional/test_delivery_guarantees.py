"""At-least-once delivery, retries, stuck work and dead letters: nothing deployed twice, nothing charged twice,
every failure explained."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from certdeploy.adapters.local_cloud import LocalCloud
from certdeploy.app.accounts import Credentials
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.consumers import consume_many
from certdeploy.app.execute import deploy_worker, deploy_workers
from certdeploy.app.jobs import JobDraft, change_job_status, create_job
from certdeploy.app.messages import DeployWorker, QueueRole, parse_command
from certdeploy.app.scheduler import tick
from certdeploy.bootstrap.container import Container
from certdeploy.domain.deployment import Binding, DeployableCertificate
from certdeploy.domain.models import Product, Resource
from certdeploy.domain.states import JobStatus, WorkerStatus
from tests.certgen import make_cert
from tests.fakes.queue_drain import deploy_messages, drain
from tests.functional.conftest import ManualClock, load_inventory

INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com}
  - {product: WAF, region: cn-hangzhou, instance: waf-1, domain: shop.example.com, flaky: 2}
  - {product: DCDN, region: cn-hangzhou, instance: dcdn-1, domain: img.example.com, flaky: 9}
"""


@pytest.fixture
def job_id(container: Container, account: Credentials, tmp_path: Path) -> int:
    aid = account.account.id
    load_inventory(container, aid, INVENTORY, tmp_path)
    generated = make_cert(["*.example.com"])
    cert = upload_certificate(
        container.deps, aid, CertificateUpload(name="wild", cert=generated.cert_pem, key=generated.key_pem)
    )
    resource_ids = tuple(r.id for r in container.store.resources.search(aid).items)
    return create_job(container.deps, aid, JobDraft(name="j", cert_ids=(cert.id,), resource_ids=resource_ids)).id


def _workers(container: Container, account: Credentials, job_id: int) -> dict[Product, object]:
    return {w.product: w for w in container.store.workers.of_job(account.account.id, job_id)}


def test_transient_failures_are_retried_with_backoff_then_give_up_with_the_cause(
    container: Container, account: Credentials, job_id: int, clock: ManualClock
) -> None:
    aid = account.account.id
    change_job_status(container.deps, aid, job_id, JobStatus.SCHEDULING)
    drain(container)  # first attempts: WAF and DCDN are throttled and re-sent with a delay
    waf = _workers(container, account, job_id)[Product.WAF]
    assert waf.status is WorkerStatus.PROCESSING and waf.attempt == 1
    assert "attempt 2 of 3" in waf.error_message
    for _ in range(3):
        clock.advance(60)
        drain(container)
    workers = _workers(container, account, job_id)
    assert workers[Product.WAF].status is WorkerStatus.SUCCESS  # throttled twice, third attempt succeeds
    assert workers[Product.DCDN].status is WorkerStatus.ERROR
    assert workers[Product.DCDN].error_code == "Throttling.User"
    assert "gave up after 3 attempts" in workers[Product.DCDN].error_message
    assert container.store.jobs.get(aid, job_id).status is JobStatus.ERROR
    assert container.store.quota.balance(aid).use_count == 2


def test_a_duplicate_deploy_message_deploys_once(container: Container, account: Credentials, job_id: int) -> None:
    aid = account.account.id
    change_job_status(container.deps, aid, job_id, JobStatus.SCHEDULING)
    messages = deploy_messages(container)
    commands = [parse_command(m.body) for m in messages]
    for command in commands + commands:  # every message delivered twice
        assert isinstance(command, DeployWorker)
        deploy_worker(container.deps, command)
    cdn = next(r for r in container.store.resources.search(aid).items if r.product is Product.CDN)
    assert container.local_cloud is not None
    assert container.local_cloud.deploy_count(cdn) == 1
    assert _workers(container, account, job_id)[Product.CDN].status is WorkerStatus.SUCCESS


def test_a_lost_message_is_sent_again_by_the_scheduler(
    container: Container, account: Credentials, job_id: int, clock: ManualClock
) -> None:
    aid = account.account.id
    change_job_status(container.deps, aid, job_id, JobStatus.SCHEDULING)
    queue = container.deps.queues[QueueRole.DEPLOY]
    for message in deploy_messages(container):  # the messages vanish: a consumer died after taking them
        queue.delete(message.receipt_handle)
    clock.advance(container.deps.stuck_after_seconds + 1)
    assert tick(container.deps).resent_workers == 3
    drain(container)
    assert _workers(container, account, job_id)[Product.CDN].status is WorkerStatus.SUCCESS


def test_a_dead_lettered_message_ends_its_worker_with_the_cause(
    container: Container, account: Credentials, job_id: int
) -> None:
    aid = account.account.id
    change_job_status(container.deps, aid, job_id, JobStatus.SCHEDULING)
    deploy, dead = container.deps.queues[QueueRole.DEPLOY], container.deps.queues[QueueRole.DEAD_LETTER]
    for message in deploy_messages(container):
        dead.send(message.body)  # what the queue does after too many failed receives
        deploy.delete(message.receipt_handle)
    assert tick(container.deps).dead_letters == 3
    workers = _workers(container, account, job_id)
    assert {w.status for w in workers.values()} == {WorkerStatus.ERROR}
    assert workers[Product.CDN].error_code == "DeployMessageDeadLettered"
    assert container.store.jobs.get(aid, job_id).status is JobStatus.ERROR
    assert container.store.quota.balance(aid).use_count == 0  # every unit given back, once


class _BrokenOn:
    """The local cloud, except that binding on one resource raises an error no retry policy knows (a bug, an outage
    of the process): the message must come back to the queue, as any unexpected failure does."""

    def __init__(self, cloud: LocalCloud, resource_id: int) -> None:
        self.cloud = cloud
        self.resource_id = resource_id

    def for_product(self, product: Product) -> _BrokenOn:
        return self

    def current_binding(self, resource: Resource) -> Binding:
        return self.cloud.current_binding(resource)

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        if resource.id == self.resource_id:
            raise RuntimeError("the deployer broke")
        self.cloud.bind(resource, certificate)


def test_a_batch_of_deploy_messages_each_delivered_twice_deploys_each_worker_once_and_finishes_the_job_once(
    container: Container, account: Credentials, job_id: int
) -> None:
    aid = account.account.id
    change_job_status(container.deps, aid, job_id, JobStatus.SCHEDULING)
    commands = [parse_command(m.body) for m in deploy_messages(container)]
    assert all(isinstance(command, DeployWorker) for command in commands)

    consume_many(container.deps, container.notifier, QueueRole.DEPLOY, [c.model_dump_json() for c in commands * 2])

    cdn = next(r for r in container.store.resources.search(aid).items if r.product is Product.CDN)
    assert container.local_cloud is not None
    assert container.local_cloud.deploy_count(cdn) == 1
    workers = _workers(container, account, job_id)
    assert workers[Product.CDN].status is WorkerStatus.SUCCESS
    assert (workers[Product.WAF].attempt, workers[Product.DCDN].attempt) == (1, 1)  # each throttle retried once


def test_an_unexpected_failure_in_a_batch_ends_the_others_and_leaves_its_message_to_come_back(
    container: Container, account: Credentials, job_id: int
) -> None:
    aid = account.account.id
    change_job_status(container.deps, aid, job_id, JobStatus.SCHEDULING)
    bodies = [m.body for m in deploy_messages(container)]
    cdn = next(r for r in container.store.resources.search(aid).items if r.product is Product.CDN)
    assert container.local_cloud is not None
    working = container.deps
    container.deps = replace(working, deployers=_BrokenOn(container.local_cloud, cdn.id))

    with pytest.raises(RuntimeError, match="the deployer broke"):
        consume_many(container.deps, container.notifier, QueueRole.DEPLOY, bodies)

    workers = _workers(container, account, job_id)
    assert (workers[Product.CDN].status, workers[Product.CDN].attempt) == (WorkerStatus.PROCESSING, 0)
    # The others of the batch went on: both throttled, and re-sent at their next attempt.
    assert (workers[Product.WAF].attempt, workers[Product.DCDN].attempt) == (1, 1)
    container.deps = working
    consume_many(container.deps, container.notifier, QueueRole.DEPLOY, bodies)  # the batch delivered again
    assert _workers(container, account, job_id)[Product.CDN].status is WorkerStatus.SUCCESS
    assert container.local_cloud.deploy_count(cdn) == 1


def test_two_jobs_binding_one_resource_in_one_batch_record_what_each_replaced(
    container: Container, account: Credentials, tmp_path: Path
) -> None:
    aid = account.account.id
    inventory = (
        "resources:\n  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com, cert: old}\n"
    )
    load_inventory(container, aid, inventory, tmp_path)
    resource_ids = tuple(r.id for r in container.store.resources.search(aid).items)
    names = ("first", "second")
    for name in names:
        generated = make_cert(["www.example.com"])
        cert = upload_certificate(
            container.deps, aid, CertificateUpload(name=name, cert=generated.cert_pem, key=generated.key_pem)
        )
        job = create_job(container.deps, aid, JobDraft(name=name, cert_ids=(cert.id,), resource_ids=resource_ids))
        change_job_status(container.deps, aid, job.id, JobStatus.SCHEDULING)
    commands = [parse_command(m.body) for m in deploy_messages(container)]
    assert len(commands) == 2 and all(isinstance(c, DeployWorker) for c in commands)

    deploy_workers(container.deps, commands)  # one receive brought both

    workers = [container.store.workers.get(aid, c.worker_id) for c in commands if isinstance(c, DeployWorker)]
    assert {w.status for w in workers} == {WorkerStatus.SUCCESS}
    # Whichever bound second replaced the other's certificate, not the one before both: its rollback restores that.
    assert sorted(w.resource_cert_name for w in workers) in (["first", "old"], ["old", "second"])
