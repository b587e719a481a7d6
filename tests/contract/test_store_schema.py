"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`):
The store's schema, migrations and engines, and the repositories every unit of work offers.
"""

from __future__ import annotations

import inspect
import json
import time
import typing
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, select, text

from certdeploy.adapters.sql import SqlStore, create_store_engine, generate_key_encryption_key, upgrade
from certdeploy.adapters.sql.migrate import current_revision, head_revision
from certdeploy.adapters.sql.schema import api_nonces, contacts, metadata, processed_messages
from certdeploy.domain.errors import NotFound
from certdeploy.domain.models import Product
from certdeploy.domain.states import JobStatus, WorkerStatus, move_job, move_worker
from certdeploy.ports.store.jobs import WorkerSpec
from certdeploy.ports.store.messages import OutboxMessage
from certdeploy.ports.store.resources import ResourceSpec
from certdeploy.ports.store.unit_of_work import UnitOfWork
from tests.contract.store_fixtures import (
    BACKENDS,
    KEK,
    T0,
    SettableClock,
    fresh_database,
    new_job,
    pem,
    pending_job_with_workers,
    race,
    upload_certificate,
)

J, W = JobStatus, WorkerStatus


def test_migrations_build_exactly_the_declared_schema_and_rerun_as_a_no_op(database: Engine) -> None:
    # GIVEN a database migrated by the fixture
    def declared_or_not_implicit(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
        # InnoDB adds an index for a foreign key no other index starts with; it is not part of our design.
        return not (kind == "index" and reflected and compare_to is None and (name or "").startswith("fk_"))

    # WHEN the migrations run again
    upgrade(database)

    # THEN the database is at head and matches schema.py column for column
    assert current_revision(database) == head_revision() == "0012"
    with database.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": declared_or_not_implicit}
        )
        assert compare_metadata(context, metadata) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrating_moves_nonces_still_in_their_window_out_of_the_processed_keys(backend: str, tmp_path: Any) -> None:
    # GIVEN a database of the first schema whose processed keys hold nonces, old and recent, and a consumer's key
    recent = datetime.now(timezone.utc) - timedelta(minutes=5)
    marks = {"nonce:AK1:recent": recent, "nonce:AK1:old": recent - timedelta(hours=1), "1:2:deploy:1": recent}
    with fresh_database(backend, tmp_path) as url:
        upgrade(url, "0001")
        engine = create_store_engine(url)
        with engine.begin() as conn:
            conn.execute(insert(processed_messages), [{"message_key": k, "processed_at": t} for k, t in marks.items()])

        # WHEN it is migrated
        upgrade(engine)

        # THEN the recent nonce is kept until its window surely ended, the old one is gone, the consumer's key stays
        with engine.connect() as conn:
            nonces = conn.execute(select(api_nonces)).all()
            processed = conn.execute(select(processed_messages.c.message_key)).scalars().all()
        engine.dispose()
    assert [tuple(row) for row in nonces] == [("nonce:AK1:recent", "AK1", recent + timedelta(minutes=30))]
    assert processed == ["1:2:deploy:1"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrating_seals_the_webhooks_contacts_kept_in_clear(backend: str, tmp_path: Any) -> None:
    # GIVEN a database of the second schema with a contact whose webhook holds a token in clear
    url_with_token = "https://oapi.dingtalk.com/robot/send?access_token=CLEARTOKEN"
    with fresh_database(backend, tmp_path) as url:
        upgrade(url, "0002")
        engine = create_store_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (name, buy_count, use_count, hosting, created_at)"
                    " VALUES ('acme', 0, 0, false, '2026-11-28 09:00:00')"
                )
            )
            conn.execute(
                text("INSERT INTO contacts (account_id, name, webhooks) VALUES (1, 'ops', :hooks), (1, 'none', '[]')"),
                {"hooks": json.dumps([url_with_token])},
            )

        # WHEN it is migrated without the key-encryption key, THEN it refuses and stays as it was
        with pytest.raises(RuntimeError, match="CERTDEPLOY_KEY_ENCRYPTION_KEY"):
            upgrade(engine)
        assert current_revision(engine) == "0002"

        # WHEN it is migrated with the key, THEN the webhooks are sealed under it and read back
        upgrade(engine, key_encryption_key=KEK)
        with engine.connect() as conn:
            stored = conn.execute(select(contacts.c.webhooks_sealed).order_by(contacts.c.id)).scalars().all()
        store = SqlStore(engine, key_encryption_key=KEK, clock=SettableClock(T0))
        kept = [contact.webhooks for contact in store.contacts.search(1).items]
        engine.dispose()
    assert b"CLEARTOKEN" not in stored[0] and stored[1] is None
    assert kept == [(url_with_token,), ()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrating_counts_the_workers_of_existing_jobs(backend: str, tmp_path: Any) -> None:
    # GIVEN a database of the seventh schema with a running job: two CDN workers done, one ALB still deploying
    with fresh_database(backend, tmp_path) as url:
        upgrade(url, "0007")
        engine = create_store_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (name, buy_count, use_count, hosting, created_at)"
                    " VALUES ('acme', 0, 0, false, '2026-11-28 09:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO jobs (account_id, name, job_type, status, cert_origin, cert_ids, resource_ids,"
                    " contact_ids, rolled_back, version, created_at, modified_at) VALUES (1, 'j', 'user',"
                    " 'processing', 'upload', '[7, 8]', '[1, 2, 3]', '[]', false, 3, '2026-11-28 09:00:00',"
                    " '2026-11-28 09:00:00'), (1, 'empty', 'user', 'editing', 'upload', '[7]', '[]', '[]', false, 0,"
                    " '2026-11-28 09:00:00', '2026-11-28 09:00:00')"
                )
            )
            for resource_id, cert_id, product, status in (
                (1, 7, "CDN", "success"),
                (2, 8, "CDN", "success"),
                (3, 7, "ALB", "processing"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO workers (job_id, account_id, cert_id, resource_id, product, status, attempt,"
                        " version, created_at, modified_at) VALUES (1, 1, :cert, :resource, :product, :status, 0, 0,"
                        " '2026-11-28 09:00:00', '2026-11-28 09:00:00')"
                    ),
                    {"cert": cert_id, "resource": resource_id, "product": product, "status": status},
                )

        # WHEN it is migrated, THEN each job's counters say what its workers are
        upgrade(engine)
        store = SqlStore(engine, key_encryption_key=KEK, clock=SettableClock(T0))
        counted = store.workers.counts(1, 1), store.workers.cert_count(1, 1), store.workers.counts(1, 2)
        engine.dispose()
    assert counted == ({(Product.CDN, WorkerStatus.SUCCESS): 2, (Product.ALB, WorkerStatus.PROCESSING): 1}, 2, {})


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_migrations_started_at_once_both_succeed(backend: str, tmp_path: Any) -> None:
    with fresh_database(backend, tmp_path) as url:
        results = race(2, lambda _: upgrade(url))

        engine = create_store_engine(url)
        revision = current_revision(engine)
        engine.dispose()
    assert results == [None, None]
    assert revision == head_revision()


def test_sql_store_and_transaction_offer_every_repository_of_the_port(tmp_path: Any) -> None:
    store = SqlStore.from_url(
        f"sqlite:///{tmp_path / 'ports.db'}", key_encryption_key=generate_key_encryption_key(), clock=SettableClock(T0)
    )
    repositories = typing.get_type_hints(UnitOfWork)
    assert set(repositories) == {"accounts", "quota", "certificates", "contacts", "resources", "jobs", "workers",
                                 "outbox", "processed", "nonces", "notifications", "job_events",
                                 "verifications", "windows", "job_stages"}  # fmt: skip
    with store.transaction() as unit:
        for attr, port in repositories.items():
            for name, member in inspect.getmembers(port, inspect.isfunction):
                if name.startswith("_"):
                    continue
                wanted = inspect.signature(member)
                assert inspect.signature(getattr(type(getattr(store, attr)), name)) == wanted, (attr, name)
                assert inspect.signature(getattr(type(getattr(unit, attr)), name)) == wanted, (attr, name)
    store.close()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Any) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_two_processes_share_one_sqlite_file(tmp_path: Any) -> None:
    # GIVEN two stores on their own engines, as the API process and a CLI command would have
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    upgrade(url)
    api = SqlStore.from_url(url, key_encryption_key=KEK, clock=SettableClock(T0))
    cli = SqlStore.from_url(url, key_encryption_key=KEK, clock=SettableClock(T0))
    account = api.accounts.create("acme", buy_count=1000)

    # WHEN both write at the same time
    def writer(i: int) -> int:
        target = (api, cli)[i]
        for n in range(40):
            target.quota.add(account.id, 1)
            target.processed.mark(f"{i}:{n}")
        return target.quota.balance(account.id).buy_count

    results = race(2, writer)

    # THEN no write failed on the file lock and every purchase landed
    assert all(isinstance(r, int) for r in results), results
    assert cli.quota.balance(account.id).buy_count == 1080
    api.close()
    cli.close()


def test_another_account_cannot_read_or_change_what_it_does_not_own(store: SqlStore) -> None:
    owner, intruder = store.accounts.create("owner"), store.accounts.create("intruder")
    cert = upload_certificate(store, owner.id, private_key_pem=pem("PRIVATE KEY"))
    contact = store.contacts.add(owner.id, name="Alice")
    [resource_id] = store.resources.upsert(
        owner.id, [ResourceSpec(product=Product.CDN, region="r", instance_id="i", domain="a.com")]
    )
    job, [worker_id] = pending_job_with_workers(store, owner.id, 1)
    theirs = intruder.id

    attempts: list[Callable[[], Any]] = [
        lambda: store.certificates.get(theirs, cert.id),
        lambda: store.certificates.private_key(theirs, cert.id),
        lambda: store.certificates.encryption_pair(theirs, cert.id),
        lambda: store.certificates.delete(theirs, cert.id),
        lambda: store.contacts.get(theirs, contact.id),
        lambda: store.contacts.update(contact.model_copy(update={"account_id": theirs, "name": "Mallory"})),
        lambda: store.contacts.delete(theirs, contact.id),
        lambda: store.resources.set_binding(theirs, resource_id, 1, "x"),
        lambda: store.jobs.get(theirs, job.id),
        lambda: store.jobs.update(job.model_copy(update={"account_id": theirs, "status": J.EDITING})),
        lambda: store.jobs.transition(theirs, job.id, move_job(J.PENDING, J.SCHEDULING)),
        lambda: store.jobs.delete(theirs, job.id),
        lambda: store.workers.create(theirs, job.id, [WorkerSpec(cert_id=1, resource_id=9, product=Product.CDN)]),
        lambda: store.workers.search(theirs, job.id),
        lambda: store.workers.of_job(theirs, job.id),
        lambda: store.workers.get(theirs, worker_id),
        lambda: store.workers.transition(theirs, worker_id, move_worker(W.PENDING, W.SCHEDULING)),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()

    assert store.certificates.get_many(theirs, [cert.id]) == []
    assert store.contacts.get_many(theirs, [contact.id]) == []
    assert store.resources.get_many(theirs, [resource_id]) == []
    assert store.resources.for_names(theirs, ["a.com"]) == []
    assert store.resources.search(theirs).total == store.jobs.search(theirs).total == 0
    assert store.certificates.search(theirs).total == store.contacts.search(theirs).total == 0
    assert store.workers.transition_all(theirs, job.id, move_worker(W.PENDING, W.SCHEDULING)) == 0
    assert store.resources.set_gone(theirs, [resource_id]) == 0
    assert store.contacts.get(owner.id, contact.id).name == "Alice"
    assert store.resources.get_many(owner.id, [resource_id])[0].bound_cert_id is None
    assert store.jobs.get(owner.id, job.id).status is J.PENDING
    assert store.workers.get(owner.id, worker_id).status is W.PENDING
    assert store.certificates.private_key(owner.id, cert.id) is not None


def test_ten_thousand_resources_and_a_thousand_workers_take_seconds(store: SqlStore) -> None:
    account = store.accounts.create("acme", buy_count=1000)
    specs = [
        ResourceSpec(product=Product.CDN, region="cn-hangzhou", instance_id=f"cdn-{i}", domain=f"d{i}.example.com")
        for i in range(10_000)
    ]
    started = time.monotonic()

    ids = store.resources.upsert(account.id, specs)
    again = store.resources.upsert(account.id, specs)
    job = new_job(store, account.id)
    worker_ids = store.workers.create(
        account.id, job.id, [WorkerSpec(cert_id=1, resource_id=r, product=Product.CDN) for r in ids[:1000]]
    )
    with store.transaction() as tx:
        tx.quota.charge_workers(account.id, job.id, WorkerStatus.EDITING)
        tx.outbox.add([OutboxMessage(queue="deploy", body=str(i), key=f"w{i}") for i in worker_ids])
    elapsed = time.monotonic() - started

    assert again == ids and len(set(ids)) == 10_000
    assert store.quota.balance(account.id).use_count == 1000
    assert elapsed < 30, f"took {elapsed:.1f} s"
