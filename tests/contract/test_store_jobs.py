"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`):
Jobs and workers: conditional moves, edits at the expected version, the job lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from certdeploy.adapters.sql import SqlStore
from certdeploy.domain.errors import InvalidStatus, NotFound
from certdeploy.domain.models import Job, JobSummary, JobType, Product
from certdeploy.domain.states import JobStatus, WorkerStatus, move_job, move_worker
from certdeploy.ports.store.errors import AlreadyExists, StaleState
from certdeploy.ports.store.jobs import WorkerChange, WorkerFields, WorkerSpec
from certdeploy.ports.store.messages import OutboxMessage
from certdeploy.ports.store.resources import ResourceSpec
from tests.contract.store_fixtures import (
    T0,
    SettableClock,
    new_job,
    pending_job_with_workers,
    race,
)

J, W = JobStatus, WorkerStatus


def test_job_round_trip_times_are_aware_utc(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    shanghai = timezone(timedelta(hours=8))
    job = new_job(
        store,
        account.id,
        cert_ids=(3, 4),
        resource_ids=(5,),
        contact_ids=(6,),
        job_type=JobType.CLOUD,
        schedule_time=datetime(2026, 12, 1, 8, 30, 0, 500, tzinfo=shanghai),
    )

    got = store.jobs.get(account.id, job.id)

    assert got == job
    assert got.schedule_time == datetime(2026, 12, 1, 0, 30, 0, 500, tzinfo=timezone.utc)
    assert got.schedule_time is not None and got.schedule_time.tzinfo == timezone.utc
    assert (got.status, got.version, got.cert_ids, got.created_at) == (J.EDITING, 0, (3, 4), T0)


def test_a_described_job_is_the_job_with_its_resource_list_as_compact_json_text(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    other = store.accounts.create("other")
    job = new_job(store, account.id, cert_ids=(3,), resource_ids=(12, 5, 40))

    described = store.jobs.describe(account.id, job.id)

    assert described.job == JobSummary(**job.model_dump(exclude={"resource_ids"}))
    assert described.resource_ids_json == "[12,5,40]"
    with pytest.raises(NotFound):
        store.jobs.describe(other.id, job.id)


def test_jobs_list_newest_first_with_status_and_type_filters(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    user_job = new_job(store, account.id)
    cloud_job = new_job(store, account.id, job_type=JobType.CLOUD)
    store.jobs.transition(account.id, user_job.id, move_job(J.EDITING, J.PENDING))

    assert [j.id for j in store.jobs.search(account.id).items] == [cloud_job.id, user_job.id]
    assert not any(hasattr(j, "resource_ids") for j in store.jobs.search(account.id).items)  # a summary, no list
    assert [j.id for j in store.jobs.search(account.id, status=J.PENDING).items] == [user_job.id]
    assert [j.id for j in store.jobs.search(account.id, job_type=JobType.CLOUD).items] == [cloud_job.id]
    assert store.jobs.search(account.id, page=2, page_size=1).items[0].id == user_job.id


def test_editing_a_job_needs_its_current_version_and_status(store: SqlStore, clock: SettableClock) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    clock.advance(seconds=5)

    edited = store.jobs.update(job.model_copy(update={"name": "renamed", "resource_ids": (9, 10)}))

    assert (edited.name, edited.resource_ids, edited.version, edited.modified_at) == (
        "renamed",
        (9, 10),
        1,
        clock.now(),
    )
    with pytest.raises(StaleState) as lost:
        store.jobs.update(job.model_copy(update={"name": "from a stale read"}))
    assert (lost.value.actual_status, lost.value.actual_version) == ("editing", 1)
    submitted = store.jobs.transition(account.id, job.id, move_job(J.EDITING, J.PENDING))
    with pytest.raises(StaleState):
        store.jobs.update(submitted)


def test_job_transitions_are_conditional_and_follow_the_state_machine(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)

    pending = store.jobs.transition(account.id, job.id, move_job(J.EDITING, J.PENDING), expected_version=0)
    started = store.jobs.transition(account.id, job.id, move_job(J.PENDING, J.SCHEDULING), start_time=T0)

    assert (pending.status, pending.version, started.start_time) == (J.PENDING, 1, T0)
    with pytest.raises(StaleState):
        store.jobs.transition(account.id, job.id, move_job(J.PENDING, J.SCHEDULING))
    with pytest.raises(StaleState):
        store.jobs.transition(account.id, job.id, move_job(J.SCHEDULING, J.PROCESSING), expected_version=1)
    with pytest.raises(InvalidStatus):
        store.jobs.transition(account.id, job.id, move_job(J.SCHEDULING, J.SUCCESS))
    with pytest.raises(NotFound):
        store.jobs.transition(account.id, 999_999, move_job(J.SCHEDULING, J.PROCESSING))
    assert store.jobs.get(account.id, job.id).status is J.SCHEDULING


def test_due_jobs_are_pending_with_no_or_past_schedule(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    now_job = new_job(store, account.id)
    past_job = new_job(store, account.id, schedule_time=T0 - timedelta(minutes=1))
    future_job = new_job(store, account.id, schedule_time=T0 + timedelta(minutes=1))
    editing_job = new_job(store, account.id)
    for job in (now_job, past_job, future_job):
        store.jobs.transition(account.id, job.id, move_job(J.EDITING, J.PENDING))

    due = store.jobs.due(T0)

    assert [j.id for j in due] == [past_job.id, now_job.id]
    assert editing_job.id not in [j.id for j in store.jobs.due(T0 + timedelta(hours=1))]
    assert len(store.jobs.due(T0 + timedelta(hours=1), limit=2)) == 2


def test_delete_job_removes_its_workers_at_the_expected_version(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job, worker_ids = pending_job_with_workers(store, account.id, 2)
    running = store.jobs.transition(account.id, job.id, move_job(J.PENDING, J.SCHEDULING))

    store.jobs.transition(account.id, job.id, move_job(J.SCHEDULING, J.PROCESSING))
    done = store.jobs.transition(account.id, job.id, move_job(J.PROCESSING, J.SUCCESS))
    for worker_id in worker_ids:
        for before, after in [(W.PENDING, W.SCHEDULING), (W.SCHEDULING, W.PROCESSING), (W.PROCESSING, W.SUCCESS)]:
            store.workers.transition(account.id, worker_id, move_worker(before, after))
    store.workers.transition(account.id, worker_ids[0], move_worker(W.SUCCESS, W.ROLLBACK))
    store.workers.transition(account.id, worker_ids[0], move_worker(W.ROLLBACK, W.ROLLBACK_SUCCESS))
    with pytest.raises(StaleState):
        store.jobs.delete(account.id, job.id, expected_version=running.version)

    deleted = store.jobs.delete(account.id, job.id, expected_version=done.version)

    assert deleted.id == job.id
    with pytest.raises(NotFound):
        store.jobs.get(account.id, job.id)
    with pytest.raises(NotFound):
        store.workers.get(account.id, worker_ids[1])


def test_workers_are_created_in_bulk_once_per_resource(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    specs = [WorkerSpec(cert_id=1, resource_id=r, product=Product.CDN) for r in (30, 10, 20)]

    created = [
        store.workers.get(account.id, worker_id) for worker_id in store.workers.create(account.id, job.id, specs)
    ]

    assert [w.resource_id for w in created] == [30, 10, 20]
    assert all(w.status is W.EDITING and w.job_id == job.id and w.created_at == T0 for w in created)
    assert store.workers.of_job(account.id, job.id) == sorted(created, key=lambda w: w.id)
    with pytest.raises(AlreadyExists):
        store.workers.create(account.id, job.id, specs[:1])
    assert len(store.workers.of_job(account.id, job.id)) == 3


def test_a_jobs_worker_targets_carry_their_resources_binding_and_are_the_accounts_only(store: SqlStore) -> None:
    account, other = store.accounts.create("acme"), store.accounts.create("other")
    specs = [
        ResourceSpec(product=p, region="cn-hangzhou", instance_id=f"i-{i}", domain=f"h{i}.example.com", port=443)
        for i, p in enumerate([Product.CDN, Product.ALB])
    ]
    cdn, alb = store.resources.upsert(account.id, specs)
    store.resources.set_binding(account.id, alb, 7, "old-cert")
    job = new_job(store, account.id)
    worker_ids = store.workers.create(
        account.id,
        job.id,
        [WorkerSpec(cert_id=2, resource_id=alb, product=Product.ALB), WorkerSpec(1, cdn, Product.CDN)],
    )

    targets = store.workers.targets(account.id, job.id)

    assert [(t.worker_id, t.cert_id, t.resource_id, t.product, t.domain) for t in targets] == [
        (worker_ids[0], 2, alb, Product.ALB, "h1.example.com"),
        (worker_ids[1], 1, cdn, Product.CDN, "h0.example.com"),
    ]
    assert [(t.bound_cert_id, t.bound_cert_name) for t in targets] == [(7, "old-cert"), (None, None)]
    with pytest.raises(NotFound):
        store.workers.targets(other.id, job.id)


def test_a_large_worker_insert_that_conflicts_late_leaves_no_worker_of_it(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    store.workers.create(account.id, job.id, [WorkerSpec(cert_id=1, resource_id=1, product=Product.CDN)])
    specs = [WorkerSpec(cert_id=1, resource_id=r, product=Product.CDN) for r in range(2, 5000)]

    with pytest.raises(AlreadyExists):
        store.workers.create(account.id, job.id, [*specs, WorkerSpec(cert_id=1, resource_id=1, product=Product.OSS)])
    with store.transaction() as tx, pytest.raises(AlreadyExists):
        tx.workers.create(account.id, job.id, [*specs, WorkerSpec(cert_id=1, resource_id=1, product=Product.OSS)])

    assert [w.resource_id for w in store.workers.of_job(account.id, job.id)] == [1]
    assert store.workers.counts(account.id, job.id) == {(Product.CDN, W.EDITING): 1}


def test_replacing_workers_of_an_editing_job(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    store.workers.create(account.id, job.id, [WorkerSpec(cert_id=1, resource_id=1, product=Product.CDN)])

    replaced = store.workers.replace(account.id, job.id, [WorkerSpec(cert_id=2, resource_id=2, product=Product.OSS)])

    assert (
        [(w.cert_id, w.resource_id) for w in store.workers.of_job(account.id, job.id)]
        == [(2, 2)]
        == [(w.cert_id, w.resource_id) for w in (store.workers.get(account.id, i) for i in replaced)]
    )
    with pytest.raises(NotFound):
        store.workers.replace(account.id, 999_999, [])


def test_a_job_lock_reads_the_job_and_makes_a_second_locker_wait_for_the_commit(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    order: list[str] = []
    locked = threading.Event()

    def first() -> None:
        with store.transaction() as tx:
            assert tx.jobs.lock(account.id, job.id) == job
            locked.set()
            time.sleep(0.3)
            tx.jobs.transition(account.id, job.id, move_job(J.EDITING, J.PENDING))
            order.append("first committed")

    def second() -> None:
        locked.wait()
        with store.transaction() as tx:
            seen = tx.jobs.lock(account.id, job.id)
            order.append(f"second saw {seen.status}")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert order == ["first committed", "second saw pending"]
    with pytest.raises(NotFound):
        store.jobs.lock(account.id, 999_999)


def test_worker_counts_group_the_job_s_workers_by_product_and_status(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    specs = [
        WorkerSpec(cert_id=1, resource_id=100 + i, product=p) for i, p in enumerate([Product.CDN] * 3 + [Product.ALB])
    ]
    [first, *_] = store.workers.create(account.id, job.id, specs)
    store.workers.transition_all(account.id, job.id, move_worker(W.EDITING, W.PENDING))
    store.workers.transition(account.id, first, move_worker(W.PENDING, W.ERROR))

    assert store.workers.counts(account.id, job.id) == {
        (Product.CDN, W.ERROR): 1,
        (Product.CDN, W.PENDING): 2,
        (Product.ALB, W.PENDING): 1,
    }
    other = store.accounts.create("other")
    with pytest.raises(NotFound):
        store.workers.counts(other.id, job.id)


def test_the_counters_follow_every_worker_write_and_tell_what_an_aggregate_would(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    products = [Product.CDN, Product.ALB, Product.CDN, Product.WAF, Product.CDN]
    specs = [WorkerSpec(cert_id=1 + i % 2, resource_id=100 + i, product=p) for i, p in enumerate(products)]
    first, second, *_ = store.workers.create(account.id, job.id, specs)
    store.workers.transition_all(account.id, job.id, move_worker(W.EDITING, W.PENDING))
    store.workers.transition_all(account.id, job.id, move_worker(W.PENDING, W.SCHEDULING), cert_ids=[1])
    store.workers.transition(account.id, first, move_worker(W.SCHEDULING, W.PROCESSING))
    store.workers.transition(account.id, first, move_worker(W.PROCESSING, W.PROCESSING), resource_domain="x")
    store.workers.transition(account.id, first, move_worker(W.PROCESSING, W.SUCCESS))
    store.workers.transition(account.id, second, move_worker(W.PENDING, W.ERROR))
    with pytest.raises(StaleState):  # a move that loses its race counts nothing
        store.workers.transition(account.id, second, move_worker(W.PENDING, W.ERROR))

    aggregate = Counter((w.product, w.status) for w in store.workers.of_job(account.id, job.id))
    assert store.workers.counts(account.id, job.id) == dict(aggregate)
    assert store.workers.cert_count(account.id, job.id) == 2
    scheduled = store.workers.ids_after(account.id, job.id, W.SCHEDULING, 0, 10)
    assert scheduled == sorted(w.id for w in store.workers.of_job(account.id, job.id) if w.status is W.SCHEDULING)
    assert store.workers.ids_after(account.id, job.id, W.SCHEDULING, scheduled[0], 1) == scheduled[1:2]

    store.workers.replace(account.id, job.id, specs[:1])
    assert store.workers.counts(account.id, job.id) == {(Product.CDN, W.EDITING): 1}
    assert store.workers.cert_count(account.id, job.id) == 1


def test_worker_list_filters_and_paging(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    products = [Product.CDN, Product.OSS, Product.CDN, Product.CDN]
    created = store.workers.create(
        account.id, job.id, [WorkerSpec(cert_id=1, resource_id=i, product=p) for i, p in enumerate(products)]
    )
    store.workers.transition(account.id, created[2], move_worker(W.EDITING, W.PENDING))

    cdn = store.workers.search(account.id, job.id, product=Product.CDN, page=2, page_size=2)
    pending = store.workers.search(account.id, job.id, status=W.PENDING)

    assert (cdn.total, [w.id for w in cdn.items]) == (3, [created[3]])
    assert [w.id for w in pending.items] == [created[2]]


def test_worker_transition_records_fields_and_loses_races_loudly(store: SqlStore, clock: SettableClock) -> None:
    account = store.accounts.create("acme")
    _, [worker_id] = pending_job_with_workers(store, account.id, 1)
    store.workers.transition(account.id, worker_id, move_worker(W.PENDING, W.SCHEDULING))
    clock.advance(seconds=1)

    processing = store.workers.transition(
        account.id,
        worker_id,
        move_worker(W.SCHEDULING, W.PROCESSING),
        resource_cert_id=11,
        resource_cert_name="old",
        resource_domain="a.com",
        attempt=1,
    )
    failed = store.workers.transition(
        account.id, worker_id, move_worker(W.PROCESSING, W.ERROR), error_code="Throttling", error_message="slow down"
    )

    assert (processing.resource_cert_id, processing.attempt, processing.modified_at) == (11, 1, clock.now())
    assert (failed.status, failed.error_code, failed.resource_cert_name, failed.version) == (
        W.ERROR,
        "Throttling",
        "old",
        processing.version + 1,
    )
    with pytest.raises(StaleState) as lost:
        store.workers.transition(account.id, worker_id, move_worker(W.PROCESSING, W.SUCCESS))
    assert lost.value.actual_status == "error"
    with pytest.raises(InvalidStatus):
        store.workers.transition(account.id, worker_id, move_worker(W.ERROR, W.SUCCESS))


def test_workers_moved_together_are_written_as_returned_all_or_none(store: SqlStore, clock: SettableClock) -> None:
    account = store.accounts.create("acme")
    job, ids = pending_job_with_workers(store, account.id, 4)
    store.workers.transition_all(account.id, job.id, move_worker(W.PENDING, W.SCHEDULING))
    seen = store.workers.get_many(account.id, ids)
    clock.advance(seconds=1)

    recorded: WorkerFields = {"attempt": 1, "resource_cert_id": None, "resource_cert_name": "old"}
    recorded |= {"resource_domain": "a.com", "resource_binding": "{}"}
    claim = move_worker(W.SCHEDULING, W.PROCESSING)
    claimed = store.workers.transition_each(
        account.id,
        [WorkerChange(seen[0], claim, recorded)] + [WorkerChange(w, claim, {"attempt": 2}) for w in seen[1:]],
    )

    assert claimed == store.workers.get_many(account.id, ids)
    assert (claimed[0].resource_cert_name, claimed[0].attempt, claimed[1].resource_domain, claimed[1].attempt) == (
        "old",
        1,
        None,
        2,
    )
    assert {w.modified_at for w in claimed} == {clock.now()}
    # One of them changed since it was read: none of the batch moves, and the counters stay.
    store.workers.transition(account.id, ids[3], move_worker(W.PROCESSING, W.ERROR), error_code="Gone")
    end = {"error_code": None, "error_message": None}
    with pytest.raises(StaleState) as lost:
        store.workers.transition_each(
            account.id, [WorkerChange(w, move_worker(W.PROCESSING, W.SUCCESS), end) for w in claimed]
        )
    assert (lost.value.entity_id, lost.value.actual_status) == (ids[3], "error")
    assert [w.status for w in store.workers.get_many(account.id, ids)] == [W.PROCESSING] * 3 + [W.ERROR]
    assert store.workers.counts(account.id, job.id) == {(Product.CDN, W.PROCESSING): 3, (Product.CDN, W.ERROR): 1}

    ended = store.workers.transition_each(
        account.id, [WorkerChange(w, move_worker(W.PROCESSING, W.SUCCESS), end) for w in claimed[:3]]
    )
    assert ended == store.workers.get_many(account.id, ids[:3])
    assert store.workers.counts(account.id, job.id) == {(Product.CDN, W.SUCCESS): 3, (Product.CDN, W.ERROR): 1}
    other = store.accounts.create("other")
    with pytest.raises(StaleState):  # none of that account's workers
        store.workers.transition_each(other.id, [WorkerChange(ended[0], move_worker(W.SUCCESS, W.SUCCESS), {})])


def test_stuck_workers_are_those_left_in_a_status_past_a_deadline(store: SqlStore, clock: SettableClock) -> None:
    account = store.accounts.create("acme")
    _, ids = pending_job_with_workers(store, account.id, 3)
    for worker_id in ids:
        store.workers.transition(account.id, worker_id, move_worker(W.PENDING, W.SCHEDULING))
    store.workers.transition(account.id, ids[0], move_worker(W.SCHEDULING, W.PROCESSING))
    clock.advance(minutes=10)
    store.workers.transition(account.id, ids[1], move_worker(W.SCHEDULING, W.PROCESSING))

    stuck = store.workers.stuck([W.PROCESSING], modified_before=clock.now() - timedelta(minutes=5))

    assert [w.id for w in stuck] == [ids[0]]
    assert [w.id for w in store.workers.stuck([W.SCHEDULING, W.PROCESSING], clock.now())] == [ids[0], ids[2]]


def test_racing_job_transitions_have_exactly_one_winner(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job, _ = pending_job_with_workers(store, account.id, 1)

    def attempt(_: int) -> Job:
        with store.transaction() as tx:
            won = tx.jobs.transition(account.id, job.id, move_job(J.PENDING, J.SCHEDULING))
            time.sleep(0.2)  # hold the change uncommitted while the others try
            return won

    results = race(4, attempt)

    assert sum(isinstance(r, Job) for r in results) == 1
    assert sum(isinstance(r, StaleState) for r in results) == 3
    assert store.jobs.get(account.id, job.id).version == job.version + 1


def test_racing_worker_transitions_have_exactly_one_winner(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    _, [worker_id] = pending_job_with_workers(store, account.id, 1)

    def attempt(_: int) -> Any:
        with store.transaction() as tx:
            won = tx.workers.transition(account.id, worker_id, move_worker(W.PENDING, W.SCHEDULING))
            tx.outbox.add([OutboxMessage(queue="deploy", body="go", key=f"{worker_id}:deploy:1")])
            time.sleep(0.2)
            return won

    results = race(4, attempt)

    assert sum(isinstance(r, StaleState) for r in results) == 3
    assert len(store.outbox.pending()) == 1
