"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`):
A job's timeline: appended in order, never changed, paged, one account's only, gone with its job.
"""

from __future__ import annotations

import pytest

from certdeploy.adapters.sql import SqlStore
from certdeploy.domain.failures import Transient
from certdeploy.domain.models import Product
from certdeploy.domain.states import JobStatus, move_job
from certdeploy.domain.timeline import JobEventType, job_event, worker_event
from certdeploy.ports.store.errors import StaleState
from tests.contract.store_fixtures import T0, SettableClock, new_job, pending_job_with_workers

E = JobEventType


def _types(store: SqlStore, account_id: int, job_id: int, **paging: int) -> list[str]:
    return [str(event.type) for event in store.job_events.page(account_id, job_id, **paging).items]


def test_events_come_back_in_the_order_appended_with_their_facts_and_time(
    store: SqlStore, clock: SettableClock
) -> None:
    account = store.accounts.create("acme")
    job, [worker_id] = pending_job_with_workers(store, account.id, 1)
    worker = store.workers.get(account.id, worker_id)
    store.job_events.append([job_event(account.id, job.id, E.CREATED, "created")])
    clock.advance(seconds=3)
    failure = Transient("Throttling", "slow down ünïcode")
    store.job_events.append(
        [
            worker_event(worker, E.RETRY_SCHEDULED, "attempt 1 failed", failure),
            job_event(account.id, job.id, E.FINISHED, "error"),
        ]
    )

    page = store.job_events.page(account.id, job.id)

    assert page.total == 3
    created, retry, finished = page.items
    assert [e.type for e in page.items] == [E.CREATED, E.RETRY_SCHEDULED, E.FINISHED]
    assert created.time == T0 and retry.time == finished.time == clock.current
    assert created.id < retry.id < finished.id
    assert (created.worker_id, created.product, created.error_code) == (None, None, None)
    assert (retry.worker_id, retry.product, retry.resource_id) == (worker.id, Product.CDN, worker.resource_id)
    assert (retry.error_code, retry.error_message, retry.detail) == (
        "Throttling",
        "slow down ünïcode",
        "attempt 1 failed",
    )


def test_appending_more_leaves_earlier_events_as_they_were(store: SqlStore, clock: SettableClock) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    store.job_events.append([job_event(account.id, job.id, E.CREATED, "first")])
    before = store.job_events.page(account.id, job.id).items

    clock.advance(minutes=1)
    store.job_events.append([job_event(account.id, job.id, E.EDITED, f"edit {i}") for i in range(3)])

    assert store.job_events.page(account.id, job.id, page_size=1).items == before


def test_pages_split_the_timeline_without_gaps_or_repeats(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    store.job_events.append([job_event(account.id, job.id, E.EDITED, f"edit {i}") for i in range(7)])

    pages = [store.job_events.page(account.id, job.id, page=p, page_size=3) for p in (1, 2, 3, 4)]

    assert [page.total for page in pages] == [7, 7, 7, 7]
    assert [[e.detail for e in page.items] for page in pages] == [
        ["edit 0", "edit 1", "edit 2"],
        ["edit 3", "edit 4", "edit 5"],
        ["edit 6"],
        [],
    ]
    with pytest.raises(ValueError):
        store.job_events.page(account.id, job.id, page=0)


def test_another_accounts_job_has_no_timeline(store: SqlStore) -> None:
    owner, other = store.accounts.create("acme"), store.accounts.create("rival")
    job = new_job(store, owner.id)
    store.job_events.append([job_event(owner.id, job.id, E.CREATED, "created")])

    listed = store.job_events.page(other.id, job.id)

    assert (listed.total, listed.items) == (0, [])
    assert _types(store, owner.id, job.id) == ["created"]


def test_an_event_commits_with_its_state_change_or_not_at_all(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)

    with pytest.raises(StaleState), store.transaction() as tx:
        tx.jobs.transition(account.id, job.id, move_job(JobStatus.EDITING, JobStatus.PENDING))
        tx.job_events.append([job_event(account.id, job.id, E.SUBMITTED, "submitted")])
        tx.jobs.transition(account.id, job.id, move_job(JobStatus.EDITING, JobStatus.PENDING))  # lost race

    assert _types(store, account.id, job.id) == []


def test_deleting_a_job_deletes_its_timeline_only(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    kept, deleted = new_job(store, account.id), new_job(store, account.id)
    store.job_events.append(
        [job_event(account.id, kept.id, E.CREATED, "kept"), job_event(account.id, deleted.id, E.CREATED, "deleted")]
    )

    store.jobs.delete(account.id, deleted.id)

    assert _types(store, account.id, deleted.id) == []
    assert _types(store, account.id, kept.id) == ["created"]
