"""Seeded random schedules of faults over the real use cases (docs/decisions.md#delivery-guarantees): whatever the
nemesis does — duplicate,
reordered and redelivered messages, crashes before, inside and after a use case, visibility timeouts running out
mid-work, overlapping scheduler ticks, time jumps, throttling and refusing resources, queues refusing sends — once
the system is left alone the history makes sense to a user:

- every job and every worker ends (success, error, rolled back); nothing is left in flight;
- the cloud is changed only by the message whose turn it is, each (job, resource) once unless another job changed
  the resource in between, and each resource ends on what its last successful deployment or rollback put there;
- a successful rollback leaves the resource on the binding it had before the job;
- UseCount equals the uploaded-certificate workers that succeeded (rollback gives nothing back), every failed worker
  was refunded once, and UseCount never went over BuyCount;
- every failure has its cause (code and message);
- each job's contacts are told once per finish, and once per finished rollback, on every address.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from certdeploy.adapters.local_inventory import read_inventory
from certdeploy.adapters.notify import deliveries_for
from certdeploy.app.accounts import create_account
from certdeploy.app.certificates import CertificateUpload, add_certificate, upload_certificate
from certdeploy.app.jobs import JobDraft, change_job_status, create_job
from certdeploy.app.messages import NotifyContacts, QueueRole, parse_command
from certdeploy.app.resources import sync_resources
from certdeploy.app.rollback import request_rollback
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.domain.errors import QuotaExceeded
from certdeploy.domain.models import CertOrigin, Job, Worker
from certdeploy.domain.notifications import NotificationEvent
from certdeploy.domain.quota import LedgerDirection
from certdeploy.domain.states import JOB_FINISHED, JobStatus, WorkerStatus
from tests.certgen import GeneratedCert, make_cert
from tests.conftest import examples
from tests.fakes.nemesis import (
    IN_FLIGHT_JOBS,
    IN_FLIGHT_WORKERS,
    Actor,
    Nemesis,
    NemesisOdds,
)
from tests.functional.conftest import ManualClock

J, W = JobStatus, WorkerStatus
# About a third of a second each; set CERTDEPLOY_FAULT_EXAMPLES higher for a longer soak.
EXAMPLES = int(os.environ.get("CERTDEPLOY_FAULT_EXAMPLES", examples(100)))

# Two accounts; each has resources that always work, one throttled a few times (it succeeds on a retry), one
# throttled more often than a deployment retries, one that refuses for good, and one with HTTPS off.
ACCOUNTS = {
    "acme": (
        5,
        """
resources:
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com, cert: legacy-www}
  - {product: ALB, region: cn-shanghai, instance: alb-1, domain: api.example.com, port: 443}
  - {product: WAF, region: cn-hangzhou, instance: waf-1, domain: shop.example.com, flaky: 2}
  - {product: DCDN, region: cn-hangzhou, instance: dcdn-1, domain: img.example.com, flaky: 9}
  - {product: NLB, region: cn-shanghai, instance: nlb-1, domain: tcp.example.com, port: 8443, fail: listener is locked}
  - {product: OSS, region: cn-beijing, instance: bucket-a, domain: static.example.com, https: false}
  - {product: GA, region: cn-hangzhou, instance: ga-1, domain: app.example.org, cert: legacy-app}
""",
    ),
    "globex": (
        3,
        """
resources:
  - {product: CDN, region: cn-hangzhou, instance: cdn-g, domain: www.example.com, cert: legacy-globex}
  - {product: SAE, region: cn-hangzhou, instance: sae-1, domain: svc.example.com, port: 443, flaky: 1}
  - {product: FC, region: cn-hangzhou, instance: fc-1, domain: fn.example.com}
  - {product: APIGateway, region: cn-hangzhou, instance: apigw-1, domain: gw.example.net}
""",
    ),
}
WILDCARD = make_cert(["*.example.com"])
RENEWAL = make_cert(["www.example.com", "api.example.com"])
OFFICIAL_ORG = make_cert(["*.example.org"])
OFFICIAL_NET = make_cert(["gw.example.net", "*.example.com"])


# ----------------------------------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Submit:
    """A job is created and submitted: now, pending without a time (runs at once), or for a time to come."""

    account: int
    certificates: int
    resources: frozenset[int]
    timing: str
    minutes_ahead: int
    with_contacts: bool


@dataclass(frozen=True)
class Rollback:
    """A user asks for the rollback of one worker of a job that has run (picked among those that can be)."""

    pick: int


@dataclass(frozen=True)
class Chaos:
    steps: int


operations = st.lists(
    st.one_of(
        st.builds(
            Submit,
            account=st.integers(0, 1),
            certificates=st.integers(0, 3),
            resources=st.frozensets(st.integers(0, 6), min_size=1, max_size=5),
            timing=st.sampled_from(["now", "pending", "later"]),
            minutes_ahead=st.integers(1, 30),
            with_contacts=st.booleans(),
        ),
        st.builds(Rollback, pick=st.integers(0, 50)),
        st.builds(Chaos, steps=st.integers(5, 60)),
    ),
    min_size=3,
    max_size=20,
)


# ----------------------------------------------------------------------------------------------------- the world


@dataclass
class Tenant:
    account_id: int
    buy_count: int
    resource_ids: list[int]
    certificate_sets: list[tuple[int, ...]]
    contact_ids: tuple[int, ...]


@dataclass
class World:
    """What the users did, as the checker needs it to judge the end state."""

    container: Container
    clock: ManualClock
    nemesis: Nemesis
    tenants: list[Tenant]
    initial_bindings: dict[int, str | None]
    submitted: list[tuple[int, int]]
    refused: list[tuple[int, int]]
    # worker id -> how it had ended when its first rollback was asked for; and how many rollbacks were asked for
    rolled_back_from: dict[int, WorkerStatus]
    rollback_requests: Counter[int]

    def jobs(self) -> list[Job]:
        return [self.container.store.jobs.get(account_id, job_id) for account_id, job_id in self.submitted]

    def workers(self) -> list[Worker]:
        return [
            w for account_id, job_id in self.submitted for w in self.container.store.workers.of_job(account_id, job_id)
        ]

    def in_flight(self) -> bool:
        return any(j.status in IN_FLIGHT_JOBS for j in self.jobs()) or any(
            w.status in IN_FLIGHT_WORKERS for w in self.workers()
        )


def _build_world(container: Container, clock: ManualClock, seed: int, data: Path) -> World:
    store, deps = container.store, container.deps
    assert container.local_cloud is not None
    tenants, initial_bindings = [], {}
    for index, (name, (buy_count, inventory)) in enumerate(ACCOUNTS.items()):
        account_id = create_account(store, name, quota=buy_count).account.id
        path = data / f"{name}.yaml"
        path.write_text(inventory)
        container.local_cloud.load(account_id, read_inventory(path))
        sync_resources(deps, account_id)
        resources = store.resources.search(account_id, page_size=100).items
        initial_bindings |= {r.id: r.bound_cert_name for r in resources}

        def upload(cert_name: str, generated: GeneratedCert, account_id: int = account_id) -> int:
            upload = CertificateUpload(name=cert_name, cert=generated.cert_pem, key=generated.key_pem)
            return upload_certificate(deps, account_id, upload).id

        def official(cert_name: str, generated: GeneratedCert, account_id: int = account_id) -> int:
            return add_certificate(
                deps,
                account_id,
                name=cert_name,
                origin=CertOrigin.BUY,
                cert_pem=generated.cert_pem,
                key_pem=generated.key_pem,
            ).id

        wildcard, renewal = upload("wildcard", WILDCARD), upload("renewal", RENEWAL)
        bought = official("bought", OFFICIAL_ORG if index == 0 else OFFICIAL_NET)
        contacts = tuple(
            store.contacts.add(
                account_id, name=f"ops{n}", email=f"ops{n}@{name}.test", mobile=f"1380000{index}{n:03d}"
            ).id
            for n in range(2 - index)
        )
        tenants.append(
            Tenant(
                account_id,
                buy_count,
                [r.id for r in resources],
                [(wildcard,), (renewal,), (wildcard, renewal), (bought,)],
                contacts,
            )
        )
    nemesis = Nemesis(container, clock, random.Random(seed), NemesisOdds())
    return World(container, clock, nemesis, tenants, initial_bindings, [], [], {}, Counter())


def _submit(world: World, op: Submit) -> None:
    tenant = world.tenants[op.account]
    deps = world.container.deps
    resource_ids = tuple(tenant.resource_ids[i % len(tenant.resource_ids)] for i in sorted(op.resources))
    later = world.clock.now() + timedelta(minutes=op.minutes_ahead) if op.timing == "later" else None
    draft = JobDraft(
        name=f"job {len(world.submitted) + len(world.refused) + 1}",
        cert_ids=tenant.certificate_sets[op.certificates],
        resource_ids=resource_ids,
        contact_ids=tenant.contact_ids if op.with_contacts else (),
        schedule_time=later,
    )
    job = create_job(deps, tenant.account_id, draft)
    world.nemesis.history.append(f"submit job {job.id} ({op.timing}): certs {draft.cert_ids} on {resource_ids}")
    try:
        change_job_status(deps, tenant.account_id, job.id, J.SCHEDULING if op.timing == "now" else J.PENDING)
    except QuotaExceeded:
        world.refused.append((tenant.account_id, job.id))
        return
    world.submitted.append((tenant.account_id, job.id))


def _rollback(world: World, op: Rollback) -> None:
    store = world.container.store
    finished = {j.id for j in world.jobs() if j.status in JOB_FINISHED}
    candidates = [
        w
        for w in world.workers()
        if w.job_id in finished and w.status in (W.SUCCESS, W.ERROR, W.ROLLBACK_ERROR) and w.resource_domain is not None
    ]
    if not candidates:
        return
    worker = candidates[op.pick % len(candidates)]
    world.nemesis.history.append(f"rollback worker {worker.id} ({worker.status}) of job {worker.job_id}")
    world.rolled_back_from.setdefault(worker.id, worker.status)
    world.rollback_requests[worker.id] += 1
    request_rollback(world.container.deps, worker.account_id, worker.job_id, worker.id)
    assert store.workers.get(worker.account_id, worker.id).status is W.ROLLBACK


def _run(world: World, ops: list[Submit | Rollback | Chaos]) -> None:
    nemesis = world.nemesis
    for op in ops:
        if isinstance(op, Submit):
            _submit(world, op)
        elif isinstance(op, Rollback):
            _rollback(world, op)
        for _ in range(op.steps if isinstance(op, Chaos) else nemesis.rng.randint(2, 8)):
            nemesis.step()
            _check_quota_within_bounds(world)
    nemesis.quiesce(world.in_flight)


# ----------------------------------------------------------------------------------------------------- the checker


def _check_quota_within_bounds(world: World) -> None:
    for tenant in world.tenants:
        quota = world.container.store.quota.balance(tenant.account_id)
        assert 0 <= quota.use_count <= quota.buy_count == tenant.buy_count, quota


def _check_every_job_ended(world: World) -> None:
    for job in world.jobs():
        assert job.status in JOB_FINISHED, f"job {job.id} stuck in {job.status}"
        workers = world.container.store.workers.of_job(job.account_id, job.id)
        if job.status is J.SUCCESS:
            assert all(w.status in (W.SUCCESS, W.ROLLBACK_ERROR) for w in workers), (job, workers)
    for worker in world.workers():
        assert worker.status not in IN_FLIGHT_WORKERS, f"worker {worker.id} stuck in {worker.status}"
    for account_id, job_id in world.refused:
        assert world.container.store.jobs.get(account_id, job_id).status is J.EDITING
        assert world.container.store.quota.entries(account_id, job_id=job_id) == []


def _check_every_failure_explained(world: World) -> None:
    for worker in world.workers():
        if worker.status in (W.ERROR, W.ROLLBACK_ERROR):
            assert worker.error_code and worker.error_message, f"worker {worker.id} failed without a cause"
    # Consumers retry transient failures themselves (docs/failures.md); these two were raised to the queue before.
    unexpected = set(world.nemesis.raised) - {"TransientDeployFailure", "NotificationsPending"}
    assert not unexpected, f"use cases raised {unexpected}"


def _outcome(world: World, worker: Worker) -> WorkerStatus:
    """How the deployment itself ended, whatever rollbacks came after."""
    return world.rolled_back_from.get(worker.id, worker.status)


def _check_quota_ledger(world: World) -> None:
    store = world.container.store
    for tenant in world.tenants:
        uploaded_jobs = {
            j.id for j in world.jobs() if j.account_id == tenant.account_id and not j.cert_origin.is_official
        }
        workers = [w for w in world.workers() if w.job_id in uploaded_jobs]
        succeeded = {w.id for w in workers if _outcome(world, w) is W.SUCCESS}
        failed = {w.id for w in workers if _outcome(world, w) is W.ERROR}
        entries = store.quota.entries(tenant.account_id)
        debits = Counter(e.worker_id for e in entries if e.direction is LedgerDirection.DEBIT)
        credits = Counter(e.worker_id for e in entries if e.direction is LedgerDirection.CREDIT)
        assert set(debits) == succeeded | failed and max(debits.values(), default=1) == 1, debits
        assert set(credits) == failed and max(credits.values(), default=1) == 1, (credits, failed)
        assert store.quota.balance(tenant.account_id).use_count == len(succeeded)


def _check_cloud_history(world: World) -> None:
    changes = world.nemesis.cloud.changes
    workers = {w.id: w for w in world.workers()}
    cloud = world.container.local_cloud
    assert cloud is not None
    for change in changes:
        assert change.actor is not None and change.in_turn, f"the cloud was changed out of turn: {change}"
    for tenant in world.tenants:
        for resource in world.container.store.resources.get_many(tenant.account_id, tenant.resource_ids):
            history = [c for c in changes if c.resource_id == resource.id and c.changed]
            assert cloud.deploy_count(resource) == len(history), "a change went around the recorder"
            _check_deployed_once([c.actor for c in history if c.actor is not None])
            binding = cloud.current_binding(resource)
            if not history:
                assert (binding.cert_id, binding.cert_name) == (None, world.initial_bindings[resource.id])
                continue
            last = history[-1]
            assert last.actor is not None
            owner = workers[last.actor.worker_id]
            expected = (W.SUCCESS, W.ROLLBACK_ERROR) if last.actor.kind == "deploy" else (W.ROLLBACK_SUCCESS,)
            assert owner.status in expected, (
                f"resource {resource.id} serves what worker {owner.id} put there, but it ended {owner.status}"
            )
    for worker in workers.values():
        if worker.status is W.ROLLBACK_SUCCESS:
            restores = [c for c in changes if c.actor and c.actor.kind == "rollback" and c.actor.worker_id == worker.id]
            assert restores, f"worker {worker.id} rolled back without touching its resource"
            assert (restores[-1].cert_id, restores[-1].cert_name) == (
                worker.resource_cert_id,
                worker.resource_cert_name,
            )


def _check_deployed_once(actors: list[Actor]) -> None:
    """A worker changes its resource once; again only if another job (or a rollback) changed it in between."""
    for index, actor in enumerate(actors):
        if actor.kind != "deploy":
            continue
        own = [
            i
            for i, earlier in enumerate(actors[:index])
            if earlier.kind == actor.kind and earlier.worker_id == actor.worker_id
        ]
        if own:
            between = actors[own[-1] + 1 : index]
            assert any(other.worker_id != actor.worker_id for other in between), (
                f"worker {actor.worker_id} deployed twice in a row"
            )


def _finish_of(key: str) -> str:
    """A notify message's key without its sequence: which finish of which job (or worker's rollback) it tells."""
    return key.rsplit(":", 1)[0]


def _check_contacts_told_once(world: World) -> None:
    store = world.container.store
    notified = world.nemesis.notifier.delivered
    repeated = [key for key, n in Counter((x.event_key, x.delivery_key) for x in notified).items() if n > 1]
    assert not repeated, f"told twice: {repeated}"
    delivered = Counter((_finish_of(x.event_key), x.contact_id, x.channel) for x in notified)
    expected: Counter[tuple[str, int, object]] = Counter()
    for job in world.jobs():
        contacts = store.contacts.get_many(job.account_id, job.contact_ids)
        addresses = Counter((d.contact_id, d.channel) for c in contacts for d in deliveries_for(c))
        finishes: Counter[str] = Counter()
        if job.start_time is not None:
            told = NotifyContacts(account_id=job.account_id, job_id=job.id, event=NotificationEvent.JOB_FINISHED)
            finishes[_finish_of(told.key)] = 1
        for worker in store.workers.of_job(job.account_id, job.id):
            told = NotifyContacts(
                account_id=job.account_id, job_id=job.id, worker_id=worker.id, event=NotificationEvent.ROLLBACK_FINISHED
            )
            finishes[_finish_of(told.key)] = world.rollback_requests[worker.id]
        for finish, times in finishes.items():
            for (contact_id, channel), count in addresses.items():
                expected[(finish, contact_id, channel)] += count * times
    # A poisoned notify message ends in the dead-letter queue: its contacts may not have been told (never twice).
    may_be_missing = {
        _finish_of(parse_command(body).key) for role, body in world.nemesis.poisoned if role is QueueRole.NOTIFY
    }
    missing = Counter({key: n for key, n in (expected - delivered).items() if key[0] not in may_be_missing})
    assert not delivered - expected and not missing, f"told {delivered - expected}, not told {missing}"


def _tell_what_was_covered(world: World) -> None:
    """With `--hypothesis-show-statistics`: how often each move, fault and ending occurred."""
    for line in {re.sub(r"\d+", "N", line.split(":")[0].split(" (")[0].strip()) for line in world.nemesis.history}:
        event(line)
    for worker in world.workers():
        event(f"worker ends {worker.status} {worker.error_code or ''}".strip())


# ----------------------------------------------------------------------------------------------------- the test


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(seed=st.integers(0, 2**32 - 1), ops=operations)
def test_any_schedule_of_faults_leaves_a_history_that_makes_sense(
    seed: int, ops: list[Submit | Rollback | Chaos]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory)
        clock = ManualClock()
        container = build_container(
            Settings(data=data / "data", deploy_retry_base_seconds=5, deploy_max_attempts=4), clock=clock
        )
        try:
            world = _build_world(container, clock, seed, data)
            try:
                _run(world, ops)
                _check_every_job_ended(world)
                _check_every_failure_explained(world)
                _check_quota_ledger(world)
                _check_cloud_history(world)
                _check_contacts_told_once(world)
                _tell_what_was_covered(world)
            except AssertionError as failure:
                history = "\n".join(world.nemesis.history[-60:])
                raise AssertionError(f"{failure}\nhistory (last 60 moves):\n{history}") from failure
        finally:
            container.close()
