"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`):
The outbox, processed message keys, API nonces and sent notifications; what one transaction commits.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from certdeploy.adapters.sql import SqlStore
from certdeploy.adapters.sql.schema import api_nonces
from certdeploy.domain.states import JobStatus, WorkerStatus, move_job
from certdeploy.ports.store.errors import StaleState
from certdeploy.ports.store.messages import OutboxMessage, TooManyNonces
from tests.contract.store_fixtures import (
    SettableClock,
    new_job,
    race,
)

J, W = JobStatus, WorkerStatus


def test_state_change_and_outbox_commit_together_or_not_at_all(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    message = OutboxMessage(queue="deploy", body='{"job": 1}', key=f"{job.id}:submit:1", delay_seconds=5)

    with pytest.raises(StaleState), store.transaction() as tx:
        tx.jobs.transition(account.id, job.id, move_job(J.EDITING, J.PENDING))
        tx.outbox.add([message])
        tx.jobs.transition(account.id, job.id, move_job(J.EDITING, J.PENDING))  # lost race: all of it rolls back
    assert store.jobs.get(account.id, job.id).status is J.EDITING
    assert store.outbox.pending() == []

    with store.transaction() as tx:
        tx.jobs.transition(account.id, job.id, move_job(J.EDITING, J.PENDING))
        [outbox_id] = tx.outbox.add([message])

    [record] = store.outbox.pending()
    assert (record.id, record.queue, record.body, record.key, record.delay_seconds) == (
        outbox_id,
        "deploy",
        '{"job": 1}',
        message.key,
        5,
    )
    assert store.jobs.get(account.id, job.id).status is J.PENDING


def test_relay_sees_unsent_messages_after_a_grace_period_until_marked_sent(
    store: SqlStore, clock: SettableClock
) -> None:
    old_ids = store.outbox.add([OutboxMessage(queue="notify", body=f"m{i}", key=f"k{i}") for i in range(3)])
    clock.advance(minutes=5)
    [fresh_id] = store.outbox.add([OutboxMessage(queue="notify", body="fresh", key="k-fresh")])

    overdue = store.outbox.pending(created_before=clock.now() - timedelta(minutes=1))
    store.outbox.mark_sent(old_ids[:2])
    clock.advance(days=2)

    assert [r.id for r in overdue] == old_ids
    assert [r.id for r in store.outbox.pending(limit=10)] == [old_ids[2], fresh_id]
    assert store.outbox.delete_sent(clock.now() - timedelta(days=1)) == 2


def test_processed_keys_and_notifications_are_insert_if_absent(store: SqlStore, clock: SettableClock) -> None:
    account = store.accounts.create("acme")

    assert store.processed.mark("1:2:deploy:1") is True
    assert store.processed.mark("1:2:deploy:1") is False
    assert store.processed.mark("1:2:deploy:2") is True
    assert store.notifications.record(account.id, "job:1:finished", 7, "email") is True
    assert store.notifications.record(account.id, "job:1:finished", 7, "email") is False
    assert store.notifications.record(account.id, "job:1:finished", 7, "sms") is True
    clock.advance(days=8)
    assert store.processed.forget(clock.now() - timedelta(days=7)) == 2
    assert store.processed.mark("1:2:deploy:1") is True


def test_sent_notifications_are_listed_per_event_and_account(store: SqlStore) -> None:
    acme, other = store.accounts.create("acme"), store.accounts.create("other")
    long_delivery = "1:job_finished:7:webhook:" + "f" * 16
    store.notifications.record(acme.id, "1:0:job_finished:0", 7, "email:0123456789abcdef")
    store.notifications.record(acme.id, "1:0:job_finished:0", 7, long_delivery)
    store.notifications.record(acme.id, "2:0:job_finished:0", 7, "email:0123456789abcdef")

    assert store.notifications.sent(acme.id, "1:0:job_finished:0") == {"email:0123456789abcdef", long_delivery}
    assert store.notifications.sent(other.id, "1:0:job_finished:0") == set()


def test_sent_notifications_are_counted_per_account_and_per_address_since_a_time(
    store: SqlStore, clock: SettableClock
) -> None:
    acme, other = store.accounts.create("acme"), store.accounts.create("other")
    store.notifications.record(acme.id, "1:0:job_finished:0", 7, "1:email:aa", address_digest="aa")
    clock.advance(hours=2)
    since = clock.now()
    store.notifications.record(acme.id, "2:0:job_finished:0", 7, "2:email:aa", address_digest="aa")
    store.notifications.record(acme.id, "2:0:job_finished:0", 7, "2:sms:bb", address_digest="bb")
    store.notifications.record(other.id, "3:0:job_finished:0", 9, "3:email:aa", address_digest="aa")

    assert (store.notifications.count(acme.id, since), store.notifications.count(other.id, since)) == (2, 1)
    assert (store.notifications.count_to("aa", since), store.notifications.count_to("bb", since)) == (2, 1)
    assert store.notifications.count_to("aa", since - timedelta(hours=3)) == 3


def test_unsent_outbox_gives_back_just_the_asked_rows_not_yet_sent(store: SqlStore) -> None:
    ids = store.outbox.add([OutboxMessage(queue="deploy", body=f"m{i}", key=f"k{i}") for i in range(4)])
    store.outbox.mark_sent([ids[1]])

    assert [r.body for r in store.outbox.unsent([ids[0], ids[1], ids[3]])] == ["m0", "m3"]
    assert store.outbox.unsent([]) == []


def test_duplicate_key_inside_a_transaction_leaves_it_usable(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    store.processed.mark("once")

    with store.transaction() as tx:
        assert tx.processed.mark("once") is False
        tx.jobs.transition(account.id, job.id, move_job(J.EDITING, J.PENDING))

    assert store.jobs.get(account.id, job.id).status is J.PENDING


def test_concurrent_first_deliveries_of_one_message_are_processed_once(store: SqlStore) -> None:
    def attempt(_: int) -> bool:
        with store.transaction() as tx:
            first = tx.processed.mark("job:1:worker:2:deploy:1")
            time.sleep(0.2)
            return first

    assert sorted(race(3, attempt)) == [False, False, True]


def _kept_nonces(store: SqlStore) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(api_nonces.c.nonce_key).order_by(api_nonces.c.nonce_key)).scalars())


def test_a_nonce_is_refused_until_it_expires_and_forgotten_after(store: SqlStore, clock: SettableClock) -> None:
    until = clock.now() + timedelta(minutes=15)
    assert store.nonces.remember("AK1", "nonce:AK1:n", until) is True
    assert store.nonces.remember("AK1", "nonce:AK1:n", until) is False
    assert store.nonces.remember("AK2", "nonce:AK2:n", clock.now() + timedelta(minutes=30)) is True

    clock.advance(minutes=14)
    assert store.nonces.forget_expired() == 0
    assert store.nonces.remember("AK1", "nonce:AK1:n", until) is False

    clock.advance(minutes=2)
    assert store.nonces.forget_expired() == 1
    assert _kept_nonces(store) == ["nonce:AK2:n"]


def test_expired_nonces_are_forgotten_in_batches(store: SqlStore, clock: SettableClock) -> None:
    until = clock.now() + timedelta(minutes=1)
    for n in range(1203):
        store.nonces.remember(f"AK{n % 3}", f"nonce:{n}", until)

    clock.advance(minutes=2)

    assert store.nonces.forget_expired(batch=500) == 1203
    assert _kept_nonces(store) == []


def test_an_access_key_holds_a_bounded_number_of_nonces(store: SqlStore, clock: SettableClock) -> None:
    until = clock.now() + timedelta(minutes=15)
    for n in range(3):
        assert store.nonces.remember("AK1", f"nonce:AK1:{n}", until, limit=3) is True

    with pytest.raises(TooManyNonces):
        store.nonces.remember("AK1", "nonce:AK1:3", until, limit=3)
    assert store.nonces.remember("AK2", "nonce:AK2:0", until, limit=3) is True

    # Once its nonces expire the key may sign again, without waiting for the scheduler: they are deleted first.
    clock.advance(minutes=16)
    assert store.nonces.remember("AK1", "nonce:AK1:3", clock.now() + timedelta(minutes=15), limit=3) is True
    assert _kept_nonces(store) == ["nonce:AK1:3", "nonce:AK2:0"]


def test_concurrent_first_uses_of_one_nonce_let_one_through(store: SqlStore, clock: SettableClock) -> None:
    until = clock.now() + timedelta(minutes=15)

    assert sorted(race(3, lambda _: store.nonces.remember("AK1", "nonce:AK1:n", until))) == [False, False, True]
