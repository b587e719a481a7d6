"""Verification of what each resource serves, over real TLS handshakes with the local cloud's SNI router."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from certdeploy.adapters.notify import ContactNotifier, RenderedNotification
from certdeploy.app.accounts import Credentials, create_account
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.jobs import JobDraft, change_job_status, create_job
from certdeploy.app.messages import QueueRole, VerifyWorker
from certdeploy.app.rollback import request_rollback
from certdeploy.app.scheduler import drain_dead_letters
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.domain.models import Product, Worker
from certdeploy.domain.stages import parse_stages
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.domain.timeline import JobEventType
from certdeploy.domain.verification import Verification, VerifyMismatch, VerifyStatus
from certdeploy.ports.notifier import Channel
from tests.certgen import GeneratedCert, make_ca, make_cert
from tests.fakes.queue_drain import drain
from tests.functional.conftest import ManualClock, load_inventory

INVENTORY = """
resources:
  - {product: ALB, region: cn-shanghai, instance: alb-1, domain: api.example.com, port: 443, cert: legacy-api}
  - {product: CDN, region: cn-hangzhou, instance: cdn-slow, domain: www.example.com, cert: legacy-www, serve_old: 20}
  - {product: DCDN, region: cn-hangzhou, instance: dcdn-stuck, domain: img.example.com, cert: legacy-img,
     serve_old: forever}
  - {product: NLB, region: cn-shanghai, instance: nlb-wild, domain: "*.apps.example.com", port: 8443}
"""


@pytest.fixture
def tls_container(tmp_path: Path, clock: ManualClock) -> Iterator[Container]:
    settings = Settings(
        data=tmp_path / "data", local_tls_port=0, verify_recheck_seconds=(30, 120), deploy_retry_base_seconds=1
    )
    built = build_container(settings, clock=clock)
    yield built
    built.close()


@pytest.fixture
def tls_account(tls_container: Container, tmp_path: Path) -> Credentials:
    credentials = create_account(tls_container.store, "acme", quota=10)
    load_inventory(tls_container, credentials.account.id, INVENTORY, tmp_path)
    return credentials


@pytest.fixture(scope="module")
def issued() -> GeneratedCert:
    root = make_ca("Verify Test Root")
    return make_cert(["*.example.com", "*.apps.example.com"], common_name="*.example.com", issuer=root)


def _served_leaf(container: Container, server_name: str) -> x509.Certificate:
    """What `openssl s_client -connect <router> -servername <name>` shows: the leaf of the handshake."""
    assert container.local_tls is not None
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(container.local_tls.address, timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _deploy(
    container: Container, account: Credentials, issued: GeneratedCert, product: Product, **draft: object
) -> tuple[int, Worker]:
    aid = account.account.id
    cert = upload_certificate(
        container.deps, aid, CertificateUpload(name="wild", cert=issued.chain_pem, key=issued.key_pem)
    )
    resource = next(r for r in container.store.resources.search(aid, page_size=100).items if r.product is product)
    job = create_job(
        container.deps, aid, JobDraft(name="verify", cert_ids=(cert.id,), resource_ids=(resource.id,), **draft)
    )
    change_job_status(container.deps, aid, job.id, JobStatus.SCHEDULING)
    drain(container)
    (worker,) = container.store.workers.of_job(aid, job.id)
    return job.id, worker


def _verification(container: Container, worker: Worker) -> Verification:
    return container.store.verifications.of_workers(worker.account_id, [worker.id])[worker.id]


def test_a_deployment_is_verified_over_a_real_handshake(tls_container, tls_account, issued) -> None:
    _, worker = _deploy(tls_container, tls_account, issued, Product.ALB)
    assert worker.status is WorkerStatus.SUCCESS
    verification = _verification(tls_container, worker)
    assert (verification.status, verification.checks) == (VerifyStatus.VERIFIED, 1)
    assert verification.server_name == "api.example.com"
    assert _served_leaf(tls_container, "api.example.com") == issued.certificate


def test_a_slow_product_is_verified_on_the_second_check(tls_container, tls_account, issued, clock) -> None:
    job_id, worker = _deploy(tls_container, tls_account, issued, Product.CDN)
    first = _verification(tls_container, worker)
    assert (first.status, first.checks) == (VerifyStatus.PENDING, 1)
    assert first.served is not None and first.served.subject == "CN=legacy-www"  # still the old one (propagating)
    clock.advance(30)  # the CDN serves the new certificate after 20 s; the second check comes 30 s after the first
    drain(tls_container)
    second = _verification(tls_container, worker)
    assert (second.status, second.checks, second.served) == (VerifyStatus.VERIFIED, 2, None)
    events = tls_container.store.job_events.page(worker.account_id, job_id, page_size=100).items
    checks = [event.detail for event in events if event.type is JobEventType.VERIFY_CHECKED]
    assert checks == [
        "check 1 of www.example.com: not yet: another certificate is served (CN=legacy-www); check 2 in 30 s",
        "check 2 of www.example.com: verified",
    ]


def test_a_mismatch_fails_the_worker_refunds_and_rolls_it_back(tls_container, tls_account, issued, clock) -> None:
    aid = tls_account.account.id
    job_id, worker = _deploy(tls_container, tls_account, issued, Product.DCDN, verify_mismatch=VerifyMismatch.ROLLBACK)
    assert worker.status is WorkerStatus.PROCESSING  # held for its verification
    assert tls_container.store.quota.balance(aid).use_count == 1
    for delay in (30, 120):
        clock.advance(delay)
        drain(tls_container)
    verification = _verification(tls_container, worker)
    assert (verification.status, verification.checks) == (VerifyStatus.MISMATCH, 3)
    assert verification.served is not None and verification.served.subject == "CN=legacy-img"
    assert tls_container.store.quota.balance(aid).use_count == 0  # refunded as for any failure
    ended = tls_container.store.workers.get(aid, worker.id)
    assert ended.status is WorkerStatus.ROLLBACK_SUCCESS
    assert ended.error_code is None  # a successful rollback clears the cause, as for any rollback
    assert tls_container.store.jobs.get(aid, job_id).status is JobStatus.ROLLED_BACK
    dcdn = tls_container.store.resources.get_many(aid, [worker.resource_id])[0]
    assert dcdn.bound_cert_name == "legacy-img"


class _Mailbox:
    """The email channel, keeping what it was asked to send."""

    def __init__(self) -> None:
        self.messages: list[RenderedNotification] = []

    def send(self, address: str, message: RenderedNotification) -> None:
        self.messages.append(message)


def test_a_mismatch_with_fail_ends_the_worker_in_error_and_the_email_says_what_was_served(
    tls_container, tls_account, issued, clock
) -> None:
    aid = tls_account.account.id
    contact = tls_container.store.contacts.add(aid, name="ops", email="ops@example.com")
    mailbox = _Mailbox()
    tls_container.notifier = ContactNotifier({Channel.EMAIL: mailbox})
    job_id, worker = _deploy(
        tls_container, tls_account, issued, Product.DCDN, verify_mismatch=VerifyMismatch.FAIL, contact_ids=(contact.id,)
    )
    for delay in (30, 120):
        clock.advance(delay)
        drain(tls_container)
    ended = tls_container.store.workers.get(aid, worker.id)
    assert (ended.status, ended.error_code) == (WorkerStatus.ERROR, "VerifyMismatch")
    assert tls_container.store.jobs.get(aid, job_id).status is JobStatus.ERROR
    assert tls_container.store.quota.balance(aid).use_count == 0
    (email,) = mailbox.messages
    assert "    Verify: mismatch: another certificate is served: CN=legacy-img, SHA-256 " in email.text
    assert "DCDN cn-hangzhou dcdn-stuck img.example.com" in email.text


def test_report_only_keeps_the_worker_successful(tls_container, tls_account, issued, clock) -> None:
    _, worker = _deploy(tls_container, tls_account, issued, Product.DCDN)
    assert worker.status is WorkerStatus.SUCCESS
    for delay in (30, 120):
        clock.advance(delay)
        drain(tls_container)
    assert _verification(tls_container, worker).status is VerifyStatus.MISMATCH
    assert tls_container.store.workers.get(worker.account_id, worker.id).status is WorkerStatus.SUCCESS


def test_an_unreachable_resource_is_reported_without_failing_it(tls_container, tls_account, issued) -> None:
    assert tls_container.local_tls is not None
    tls_container.local_tls.close()  # nothing listens any more
    _, worker = _deploy(tls_container, tls_account, issued, Product.ALB, verify_mismatch=VerifyMismatch.FAIL)
    verification = _verification(tls_container, worker)
    assert verification.status is VerifyStatus.UNREACHABLE
    assert verification.detail
    assert worker.status is WorkerStatus.SUCCESS


def test_a_wildcard_domain_is_checked_through_a_name_the_certificate_knows(tls_container, tls_account) -> None:
    only_wildcards = make_cert(["*.apps.example.com"], common_name="*.apps.example.com")
    _, worker = _deploy(tls_container, tls_account, only_wildcards, Product.NLB)
    verification = _verification(tls_container, worker)
    assert verification.status is VerifyStatus.SKIPPED
    assert "wildcard" in (verification.detail or "")


def test_a_wildcard_domain_with_a_concrete_name_is_verified(tls_container, tls_account) -> None:
    named = make_cert(["*.apps.example.com", "shop.apps.example.com"], common_name="*.apps.example.com")
    _, worker = _deploy(tls_container, tls_account, named, Product.NLB)
    verification = _verification(tls_container, worker)
    assert (verification.status, verification.server_name) == (VerifyStatus.VERIFIED, "shop.apps.example.com")


def test_the_router_shows_a_deployment_then_its_rollback(tls_container, tls_account, issued) -> None:
    before = _served_leaf(tls_container, "api.example.com")
    assert before.subject.rfc4514_string() == "CN=legacy-api"
    job_id, worker = _deploy(tls_container, tls_account, issued, Product.ALB)
    assert _served_leaf(tls_container, "api.example.com") == issued.certificate
    request_rollback(tls_container.deps, worker.account_id, job_id, worker.id)
    drain(tls_container)
    assert _served_leaf(tls_container, "api.example.com") == before


def test_a_dead_lettered_check_ends_a_held_worker_as_its_api_said(tls_container, tls_account, issued, clock) -> None:
    aid = tls_account.account.id
    _, worker = _deploy(tls_container, tls_account, issued, Product.DCDN, verify_mismatch=VerifyMismatch.FAIL)
    assert worker.status is WorkerStatus.PROCESSING
    lost = VerifyWorker(account_id=aid, job_id=worker.job_id, worker_id=worker.id, check=2)
    tls_container.deps.queues[QueueRole.DEAD_LETTER].send(lost.model_dump_json())
    assert drain_dead_letters(tls_container.deps) == 1
    verification = _verification(tls_container, worker)
    assert verification.status is VerifyStatus.UNREACHABLE and "given up" in (verification.detail or "")
    assert tls_container.store.workers.get(aid, worker.id).status is WorkerStatus.SUCCESS
    clock.advance(30)
    drain(tls_container)  # the delayed check that was still queued finds the verification final and does nothing
    assert _verification(tls_container, worker) == verification


def test_a_stage_waits_for_its_verification_and_a_mismatch_halts_the_job(
    tls_container, tls_account, issued, clock
) -> None:
    aid = tls_account.account.id
    cert = upload_certificate(
        tls_container.deps, aid, CertificateUpload(name="wild", cert=issued.chain_pem, key=issued.key_pem)
    )
    by_product = {r.product: r.id for r in tls_container.store.resources.search(aid, page_size=100).items}
    # the DCDN (stage 1, the lower resource id) keeps serving its old certificate for ever; the NLB comes after
    draft = JobDraft(
        name="staged",
        cert_ids=(cert.id,),
        resource_ids=(by_product[Product.DCDN], by_product[Product.NLB]),
        verify_mismatch=VerifyMismatch.FAIL,
        stages=parse_stages("1,100%"),
    )
    job = create_job(tls_container.deps, aid, draft)
    change_job_status(tls_container.deps, aid, job.id, JobStatus.SCHEDULING)
    drain(tls_container)

    def statuses() -> list[WorkerStatus]:
        return [w.status for w in tls_container.store.workers.of_job(aid, job.id)]

    assert statuses() == [WorkerStatus.PROCESSING, WorkerStatus.PENDING]  # bound, held for its verification
    for delay in (30, 120):
        assert tls_container.store.jobs.get(aid, job.id).status is JobStatus.PROCESSING
        clock.advance(delay)
        drain(tls_container)

    assert statuses() == [WorkerStatus.ERROR, WorkerStatus.PENDING]
    assert tls_container.store.jobs.get(aid, job.id).status is JobStatus.ERROR
    assert tls_container.store.quota.balance(aid).use_count == 0  # refunded and released
    events = tls_container.store.job_events.page(aid, job.id, page_size=100).items
    types = [event.type for event in events]
    assert types.count(JobEventType.STAGE_STARTED) == 1
    assert types.index(JobEventType.VERIFY_CHECKED) < types.index(JobEventType.WORKER_FAILED)
    assert types.index(JobEventType.WORKER_FAILED) < types.index(JobEventType.HALTED)
