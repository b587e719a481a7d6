"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`): maintenance windows per
account, the tags of resources, and due jobs that wait for their window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from certdeploy.adapters.sql import SqlStore
from certdeploy.domain.errors import NotFound
from certdeploy.domain.models import Product
from certdeploy.domain.states import JobStatus, move_job
from certdeploy.domain.windows import WindowSpec
from certdeploy.ports.store.errors import StaleState
from certdeploy.ports.store.resources import ResourceSpec
from tests.contract.store_fixtures import T0, new_job

J = JobStatus
NIGHTLY = WindowSpec(days=(5, 6), start="02:00", duration_minutes=240, time_zone="Asia/Shanghai")


def test_windows_are_kept_per_account_and_read_back_whole(store: SqlStore) -> None:
    account, rival = store.accounts.create("acme"), store.accounts.create("rival")
    first = store.windows.add(account.id, NIGHTLY)
    tagged = store.windows.add(account.id, NIGHTLY.model_copy(update={"tag_key": "env", "tag_value": "prod"}))
    store.windows.add(rival.id, NIGHTLY)

    found = store.windows.of_account(account.id)

    assert [w.id for w in found] == [first.id, tagged.id]
    assert found[0].model_dump(exclude={"id", "account_id", "created_at"}) == NIGHTLY.model_dump()
    assert (found[1].tag, found[0].tag, found[0].created_at) == ("env=prod", None, T0)
    with pytest.raises(NotFound):
        store.windows.delete(rival.id, first.id)
    store.windows.delete(account.id, first.id)
    assert [w.id for w in store.windows.of_account(account.id)] == [tagged.id]
    with pytest.raises(NotFound):
        store.windows.delete(account.id, first.id)


def test_resource_tags_are_kept_and_a_sync_refreshes_them(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    alb = ResourceSpec(
        product=Product.ALB,
        region="cn-shanghai",
        instance_id="alb-1",
        domain="api.example.com",
        port=443,
        tags=(("team", "web"), ("env", "prod")),
    )
    [resource_id] = store.resources.upsert(account.id, [alb])
    assert store.resources.get_many(account.id, [resource_id])[0].tags == (("env", "prod"), ("team", "web"))

    store.resources.upsert(account.id, [ResourceSpec(**{**alb.__dict__, "tags": ()})])

    assert store.resources.get_many(account.id, [resource_id])[0].tags == ()


def test_a_job_waiting_for_its_window_is_due_only_from_the_opening_until_it_moves(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = store.jobs.transition(account.id, new_job(store, account.id).id, move_job(J.EDITING, J.PENDING))
    opening = T0 + timedelta(hours=3)

    waiting = store.jobs.wait_for_window(account.id, job.id, opening, expected_version=job.version)

    assert waiting.window_wait_until == opening and waiting.status is J.PENDING
    assert job.id not in [j.id for j in store.jobs.due(T0)]
    assert job.id in [j.id for j in store.jobs.due(opening)]
    with pytest.raises(StaleState):
        store.jobs.wait_for_window(account.id, job.id, opening, expected_version=job.version)
    moved = store.jobs.transition(account.id, job.id, move_job(J.PENDING, J.SCHEDULING))
    assert moved.window_wait_until is None


def test_ending_an_account_s_window_waits_makes_its_waiting_jobs_due_again(store: SqlStore) -> None:
    account, other = store.accounts.create("acme"), store.accounts.create("other")
    waiting = {}
    for owner in (account, other):
        job = store.jobs.transition(owner.id, new_job(store, owner.id).id, move_job(J.EDITING, J.PENDING))
        opening = T0 + timedelta(hours=3)
        waiting[owner.id] = store.jobs.wait_for_window(owner.id, job.id, opening, expected_version=job.version)

    assert store.jobs.end_window_waits(account.id) == 1
    assert store.jobs.end_window_waits(account.id) == 0

    due = {j.id: j for j in store.jobs.due(T0)}
    assert waiting[account.id].id in due and due[waiting[account.id].id].window_wait_until is None
    assert waiting[other.id].id not in due  # another account's wait stands
