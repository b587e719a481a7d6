"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`):
Accounts, access keys and the quota ledger.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, select

from certdeploy.adapters.sql import SqlStore
from certdeploy.adapters.sql.schema import access_keys, quota_ledger
from certdeploy.domain.errors import NotFound, QuotaExceeded
from certdeploy.domain.models import Product
from certdeploy.domain.quota import LedgerEntry, LedgerEntryKind, refund_entry, release_entries
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.ports.store.errors import AlreadyExists
from certdeploy.ports.store.jobs import WorkerSpec
from tests.contract.store_fixtures import (
    ledger_net,
    new_job,
    race,
)

J, W = JobStatus, WorkerStatus


def test_account_names_and_access_key_ids_are_unique(store: SqlStore) -> None:
    account = store.accounts.create("acme", buy_count=3)
    store.accounts.add_access_key(account.id, "AK1", "secret-1")

    with pytest.raises(AlreadyExists):
        store.accounts.create("acme")
    with pytest.raises(AlreadyExists):
        store.accounts.add_access_key(account.id, "AK1", "other")

    assert store.accounts.get(account.id) == account == store.accounts.find("acme")
    with pytest.raises(NotFound):
        store.accounts.find("ACME")
    assert store.accounts.set_hosting(account.id, True).hosting is True


def test_access_key_secret_is_stored_encrypted_and_found_by_id(store: SqlStore, database: Engine) -> None:
    account = store.accounts.create("acme")
    store.accounts.add_access_key(account.id, "LTAI5tExample", "s3cr3t-value-xyz")

    found = store.accounts.find_access_key("LTAI5tExample")

    assert (found.account_id, found.secret) == (account.id, "s3cr3t-value-xyz")
    with database.connect() as conn:
        sealed = conn.execute(select(access_keys.c.secret_sealed)).scalar_one()
    assert b"s3cr3t-value-xyz" not in sealed
    with pytest.raises(NotFound):
        store.accounts.find_access_key("unknown")


def test_accounts_are_listed_by_id(store: SqlStore) -> None:
    assert store.accounts.all() == []
    first, second = store.accounts.create("b-team"), store.accounts.create("a-team")
    assert [a.name for a in store.accounts.all()] == [first.name, second.name]


def test_charging_a_jobs_workers_writes_one_debit_each_once_and_all_or_nothing(store: SqlStore) -> None:
    account = store.accounts.create("acme", buy_count=3)
    job, other = new_job(store, account.id), new_job(store, account.id)
    specs = [WorkerSpec(cert_id=1, resource_id=r, product=Product.CDN) for r in (1, 2)]
    worker_ids = store.workers.create(account.id, job.id, specs)
    store.workers.create(account.id, other.id, [*specs, WorkerSpec(cert_id=1, resource_id=3, product=Product.CDN)])

    assert store.quota.charge_workers(account.id, job.id, W.EDITING) == 2
    assert store.quota.charge_workers(account.id, job.id, W.EDITING) == 0
    with pytest.raises(QuotaExceeded):
        store.quota.charge_workers(account.id, other.id, W.EDITING)

    assert store.quota.balance(account.id).use_count == 2 == ledger_net(store, account.id)
    charged = store.quota.entries(account.id, job_id=job.id)
    assert sorted(e.worker_id for e in charged) == sorted(worker_ids)
    assert {(e.kind, e.units) for e in charged} == {("charge", 1)}
    assert store.quota.entries(account.id, job_id=other.id) == []
    assert store.quota.credit(account.id, [refund_entry(account.id, job.id, worker_ids[0])]) == 1


def test_refund_and_release_give_a_unit_back_at_most_once(store: SqlStore) -> None:
    account = store.accounts.create("acme", buy_count=5)
    job, first, second, third = _charged_job(store, account.id, 3)

    refunded = store.quota.credit(account.id, [refund_entry(account.id, job, first)])
    refunded_again = store.quota.credit(account.id, [refund_entry(account.id, job, first)])
    released = store.quota.credit(account.id, release_entries(account.id, job, [first, second, third, 99]))

    assert (refunded, refunded_again, released) == (1, 0, 2)
    assert store.quota.balance(account.id).use_count == 0 == ledger_net(store, account.id)
    with pytest.raises(ValueError):
        debit = LedgerEntry(account_id=account.id, job_id=job, worker_id=first, kind=LedgerEntryKind.CHARGE)
        store.quota.credit(account.id, [debit])


def test_buy_count_grows_and_never_goes_below_zero(store: SqlStore) -> None:
    account = store.accounts.create("acme", buy_count=2)

    assert store.quota.add(account.id, 10).buy_count == 12
    with pytest.raises(ValueError):
        store.quota.add(account.id, -13)
    assert store.quota.balance(account.id).available == 12


def test_the_same_worker_charged_twice_at_once_is_charged_once(store: SqlStore) -> None:
    account = store.accounts.create("acme", buy_count=10)
    job = new_job(store, account.id)
    store.workers.create(account.id, job.id, [WorkerSpec(cert_id=1, resource_id=1, product=Product.CDN)])

    def attempt(_: int) -> int:
        with store.transaction() as tx:
            charged = tx.quota.charge_workers(account.id, job.id, W.EDITING)
            time.sleep(0.2)
            return charged

    results = race(2, attempt)

    assert sorted(results) == [0, 1]
    assert store.quota.balance(account.id).use_count == 1 == ledger_net(store, account.id)


def test_concurrent_refunds_of_one_worker_give_back_one_unit(store: SqlStore) -> None:
    account = store.accounts.create("acme", buy_count=10)
    job, first, _ = _charged_job(store, account.id, 2)

    def attempt(_: int) -> int:
        with store.transaction() as tx:
            given_back = tx.quota.credit(account.id, [refund_entry(account.id, job, first)])
            time.sleep(0.1)
            return given_back

    results = race(3, attempt)

    assert sorted(results) == [0, 0, 1]
    assert store.quota.balance(account.id).use_count == 1 == ledger_net(store, account.id)


def test_concurrent_charges_of_jobs_workers_never_oversell(store: SqlStore) -> None:
    account = store.accounts.create("acme", buy_count=5)
    jobs = [new_job(store, account.id) for _ in range(4)]
    for job in jobs:
        specs = [WorkerSpec(cert_id=1, resource_id=r, product=Product.CDN) for r in (1, 2)]
        store.workers.create(account.id, job.id, specs)

    def attempt(i: int) -> int:
        with store.transaction() as tx:
            charged = tx.quota.charge_workers(account.id, jobs[i].id, W.EDITING)
            time.sleep(0.1)
            return charged

    results = race(4, attempt)

    assert sum(r == 2 for r in results) == 2 and sum(isinstance(r, QuotaExceeded) for r in results) == 2
    assert store.quota.balance(account.id).use_count == 4 == ledger_net(store, account.id)


def test_ledger_rows_outlive_a_deleted_job(store: SqlStore, database: Engine) -> None:
    account = store.accounts.create("acme", buy_count=5)
    job = new_job(store, account.id)
    [worker_id] = store.workers.create(account.id, job.id, [WorkerSpec(cert_id=1, resource_id=1, product=Product.CDN)])
    store.quota.charge_workers(account.id, job.id, W.EDITING)

    with store.transaction() as tx:
        tx.quota.credit(account.id, release_entries(account.id, job.id, [worker_id]))
        tx.jobs.delete(account.id, job.id)
    [replacement_id] = store.workers.create(
        account.id, new_job(store, account.id).id, [WorkerSpec(cert_id=1, resource_id=1, product=Product.CDN)]
    )

    with database.connect() as conn:
        assert conn.execute(select(quota_ledger.c.worker_id)).scalars().all() == [worker_id, worker_id]
    assert replacement_id > worker_id  # ids are never reused, so the ledger keys of deleted workers stay theirs
    assert store.quota.balance(account.id).use_count == 0


def _charged_job(store: SqlStore, account_id: int, workers: int) -> tuple[int, ...]:
    """A job of `workers` CDN workers, each charged one unit: the job's id, then the workers' ids."""
    job = new_job(store, account_id)
    specs = [WorkerSpec(cert_id=1, resource_id=r, product=Product.CDN) for r in range(1, workers + 1)]
    created = store.workers.create(account_id, job.id, specs)
    assert store.quota.charge_workers(account_id, job.id, W.EDITING) == workers
    return (job.id, *created)
