"""The SQL store against real databases: one suite, run on SQLite, PostgreSQL and MySQL/MariaDB.

PostgreSQL and MySQL run when CERTDEPLOY_TEST_POSTGRES_URL / CERTDEPLOY_TEST_MYSQL_URL are set, e.g.
`postgresql+psycopg://postgres@127.0.0.1:5432/test` and `mysql+pymysql://root@127.0.0.1:3306/test`.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, select, text, update

from certdeploy.adapters.sql import SqlStore, SqlTransaction, create_store_engine, generate_key_encryption_key, upgrade
from certdeploy.adapters.sql.migrate import current_revision, head_revision
from certdeploy.adapters.sql.schema import access_keys, certificates, contacts, metadata, quota_ledger
from certdeploy.domain.errors import InvalidStatus, NotFound, QuotaExceeded
from certdeploy.domain.models import Certificate, CertificateTag, CertOrigin, Contact, Job, JobType, Product
from certdeploy.domain.quota import Ledger, charge_entries, refund_entry, release_entries
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.ports import (
    AlreadyExists,
    ContactField,
    ContactTaken,
    EncryptionPair,
    KeyDecryptionFailed,
    OutboxMessage,
    ResourceSpec,
    StaleState,
    StoreOperations,
    WorkerSpec,
)
from tests.contract.store_fixtures import (
    BACKENDS,
    SettableClock,
    certificate_info,
    emptied_store,
    fresh_database,
    migrated_store_engine,
    pem,
)

J, W = JobStatus, WorkerStatus
KEK = generate_key_encryption_key()
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_store_engine(request.param, tmp_path_factory.mktemp(request.param)) as engine:
        yield engine


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


@pytest.fixture
def store(database: Engine, clock: SettableClock) -> SqlStore:
    return emptied_store(database, key_encryption_key=KEK, clock=clock)


def _upload(
    store: SqlStore,
    account_id: int,
    *,
    private_key_pem: str | None,
    name: str = "web",
    domain: str = "a.com",
    **options: Any,
) -> Certificate:
    """An uploaded certificate of `account_id` for `domain`."""
    return store.add_certificate(
        account_id,
        name=name,
        origin=CertOrigin.UPLOAD,
        info=certificate_info(domain),
        cert_pem=pem("CERTIFICATE"),
        private_key_pem=private_key_pem,
        **options,
    )


def race(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    """Run `attempt(i)` on `count` threads released together; each result is a return value or the exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = attempt(index)
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def new_job(store: SqlStore, account_id: int, **fields: Any) -> Job:
    values: dict[str, Any] = {"name": "job", "cert_origin": CertOrigin.UPLOAD, "cert_ids": (1,)}
    return store.create_job(account_id, **{**values, **fields})


def pending_job_with_workers(store: SqlStore, account_id: int, count: int) -> tuple[Job, list[int]]:
    job = new_job(store, account_id)
    specs = [WorkerSpec(cert_id=1, resource_id=100 + i, product=Product.CDN) for i in range(count)]
    worker_ids = [w.id for w in store.create_workers(account_id, job.id, specs)]
    store.transition_workers(account_id, job.id, expected=W.EDITING, to=W.PENDING)
    return store.transition_job(account_id, job.id, expected=J.EDITING, to=J.PENDING), worker_ids


def ledger_net(store: SqlStore, account_id: int) -> int:
    entries = store.ledger_entries(account_id)
    return Ledger(account_id, 0, {entry.key: entry for entry in entries}).use_count


# --------------------------------------------------------------------------------------------- schema


def test_migrations_build_exactly_the_declared_schema_and_rerun_as_a_no_op(database: Engine) -> None:
    # GIVEN a database migrated by the fixture
    def declared_or_not_implicit(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
        # InnoDB adds an index for a foreign key no other index starts with; it is not part of our design.
        return not (kind == "index" and reflected and compare_to is None and (name or "").startswith("fk_"))

    # WHEN the migrations run again
    upgrade(database)

    # THEN the database is at head and matches schema.py column for column
    assert current_revision(database) == head_revision() == "0001"
    with database.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": declared_or_not_implicit}
        )
        assert compare_metadata(context, metadata) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_migrations_started_at_once_both_succeed(backend: str, tmp_path: Any) -> None:
    with fresh_database(backend, tmp_path) as url:
        results = race(2, lambda _: upgrade(url))

        engine = create_store_engine(url)
        revision = current_revision(engine)
        engine.dispose()
    assert results == [None, None]
    assert revision == head_revision()


def test_sql_store_and_transaction_offer_every_operation_of_the_port() -> None:
    for name, member in inspect.getmembers(StoreOperations, inspect.isfunction):
        if name.startswith("_"):
            continue
        wanted = inspect.signature(member)
        assert inspect.signature(getattr(SqlStore, name)) == wanted, name
        assert inspect.signature(getattr(SqlTransaction, name)) == wanted, name


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Any) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


# --------------------------------------------------------------------------------------------- accounts


def test_account_names_and_access_key_ids_are_unique(store: SqlStore) -> None:
    account = store.create_account("acme", buy_count=3)
    store.add_access_key(account.id, "AK1", "secret-1")

    with pytest.raises(AlreadyExists):
        store.create_account("acme")
    with pytest.raises(AlreadyExists):
        store.add_access_key(account.id, "AK1", "other")

    assert store.get_account(account.id) == account == store.find_account("acme")
    with pytest.raises(NotFound):
        store.find_account("ACME")
    assert store.set_hosting(account.id, True).hosting is True


def test_access_key_secret_is_stored_encrypted_and_found_by_id(store: SqlStore, database: Engine) -> None:
    account = store.create_account("acme")
    store.add_access_key(account.id, "LTAI5tExample", "s3cr3t-value-xyz")

    found = store.find_access_key("LTAI5tExample")

    assert (found.account_id, found.secret) == (account.id, "s3cr3t-value-xyz")
    with database.connect() as conn:
        sealed = conn.execute(select(access_keys.c.secret_sealed)).scalar_one()
    assert b"s3cr3t-value-xyz" not in sealed
    with pytest.raises(NotFound):
        store.find_access_key("unknown")


# --------------------------------------------------------------------------------------------- certificates


def test_certificate_round_trips_with_aware_utc_times(store: SqlStore) -> None:
    account = store.create_account("acme")
    info = certificate_info(
        "example.com",
        "*.example.com",
        not_before=datetime(2026, 1, 1, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
    )
    cert_pem = pem("CERTIFICATE")

    added = store.add_certificate(
        account.id, name="web", origin=CertOrigin.UPLOAD, info=info, cert_pem=cert_pem, private_key_pem=pem("KEY")
    )
    got = store.get_certificate(account.id, added.id)

    assert got == added
    assert got.model_dump(include=set(info.model_dump())) == info.model_dump()
    assert got.not_before == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)
    assert got.not_before.tzinfo == timezone.utc and got.created_at == T0
    assert got.cert_pem == cert_pem


def test_private_key_is_ciphertext_in_the_database_and_plain_for_its_owner(store: SqlStore, database: Engine) -> None:
    account = store.create_account("acme")
    key_pem = pem("PRIVATE KEY")
    cert = _upload(store, account.id, private_key_pem=key_pem)

    with database.connect() as conn:
        sealed = conn.execute(select(certificates.c.private_key_sealed)).scalar_one()
    body = key_pem.splitlines()[1].encode()
    assert b"PRIVATE KEY" not in sealed and body not in sealed
    assert store.get_private_key(account.id, cert.id) == key_pem


def test_a_wrong_key_encryption_key_fails_loudly(store: SqlStore, database: Engine, clock: SettableClock) -> None:
    account = store.create_account("acme")
    cert = _upload(store, account.id, private_key_pem=pem("PRIVATE KEY"))
    store.add_access_key(account.id, "AK1", "secret")
    other = SqlStore(database, key_encryption_key=generate_key_encryption_key(), clock=clock)

    with pytest.raises(KeyDecryptionFailed, match="encrypted with key-encryption key"):
        other.get_private_key(account.id, cert.id)
    with pytest.raises(KeyDecryptionFailed):
        other.find_access_key("AK1")


def test_tags_and_the_encryption_pair_are_kept_with_the_certificate(store: SqlStore, database: Engine) -> None:
    account = store.create_account("acme")
    tags = (CertificateTag(key="env", value="prod"), CertificateTag(key="Team", value=""))
    pair = EncryptionPair(cert_pem=pem("CERTIFICATE"), private_key_pem=pem("PRIVATE KEY"))
    fields: dict[str, Any] = {"origin": CertOrigin.UPLOAD, "info": certificate_info("sm.example.com")}

    sm = store.add_certificate(
        account.id,
        name="sm",
        cert_pem=pem("CERTIFICATE"),
        private_key_pem=pem("PRIVATE KEY"),
        tags=tags,
        encryption_pair=pair,
        **fields,
    )
    plain = store.add_certificate(account.id, name="plain", cert_pem=pem("CERTIFICATE"), private_key_pem=None, **fields)

    assert store.get_certificate(account.id, sm.id).tags == tags == sm.tags
    assert [c.tags for c in store.list_certificates(account.id).items] == [(), tags]
    assert store.get_encryption_pair(account.id, sm.id) == pair
    assert store.get_encryption_pair(account.id, plain.id) is None
    with database.connect() as conn:
        row = conn.execute(select(certificates).where(certificates.c.id == sm.id)).one()
    assert row.encrypt_cert_pem == pair.cert_pem
    assert pair.private_key_pem.splitlines()[1].encode() not in row.encrypt_private_key_sealed
    with pytest.raises(ValueError, match="encryption pair"):
        store.add_certificate(account.id, name="x", cert_pem="", private_key_pem=None, encryption_pair=pair, **fields)


def test_the_signing_key_ciphertext_does_not_open_as_the_encryption_key(store: SqlStore, database: Engine) -> None:
    account = store.create_account("acme")
    cert = _upload(
        store,
        account.id,
        name="sm",
        domain="sm.example.com",
        private_key_pem=pem("PRIVATE KEY"),
        encryption_pair=EncryptionPair(cert_pem=pem("CERTIFICATE"), private_key_pem=pem("PRIVATE KEY")),
    )

    with database.begin() as conn:
        conn.execute(
            update(certificates)
            .where(certificates.c.id == cert.id)
            .values(encrypt_private_key_sealed=certificates.c.private_key_sealed)
        )

    with pytest.raises(KeyDecryptionFailed, match="altered or moved"):
        store.get_encryption_pair(account.id, cert.id)


def test_official_certificate_has_no_key_and_names_are_unique_per_account(store: SqlStore) -> None:
    a, b = store.create_account("a"), store.create_account("b")
    fields: dict[str, Any] = {"name": "same", "info": certificate_info("a.com"), "cert_pem": pem("CERTIFICATE")}
    cert = store.add_certificate(a.id, origin=CertOrigin.BUY, private_key_pem=None, **fields)

    store.add_certificate(b.id, origin=CertOrigin.BUY, private_key_pem=None, **fields)
    with pytest.raises(AlreadyExists):
        store.add_certificate(a.id, origin=CertOrigin.UPLOAD, private_key_pem=None, **fields)

    assert store.get_private_key(a.id, cert.id) is None


def test_certificates_list_newest_first_with_filters_and_paging(store: SqlStore) -> None:
    account = store.create_account("acme")
    ids = []
    for i, (origin, domain) in enumerate(
        [(CertOrigin.UPLOAD, "shop.example.com"), (CertOrigin.BUY, "api.example.org"), (CertOrigin.UPLOAD, "x.net")]
    ):
        cert = store.add_certificate(
            account.id,
            name=f"cert-{i}",
            origin=origin,
            info=certificate_info(domain),
            cert_pem=pem("CERTIFICATE"),
            private_key_pem=None,
        )
        ids.append(cert.id)

    first = store.list_certificates(account.id, page=1, page_size=2)
    second = store.list_certificates(account.id, page=2, page_size=2)
    uploads = store.list_certificates(account.id, origin=CertOrigin.UPLOAD)
    by_domain = store.list_certificates(account.id, keyword="EXAMPLE")
    literal_percent = store.list_certificates(account.id, keyword="%")

    assert [c.id for c in first.items + second.items] == ids[::-1] and first.total == 3
    assert [c.id for c in uploads.items] == [ids[2], ids[0]]
    assert [c.id for c in by_domain.items] == [ids[1], ids[0]]
    assert literal_percent.total == 0
    assert [c.id for c in store.get_certificates(account.id, [ids[2], ids[0], 999_999])] == [ids[0], ids[2]]


def test_deleted_certificate_is_gone(store: SqlStore) -> None:
    account = store.create_account("acme")
    cert = _upload(store, account.id, private_key_pem=None)

    store.delete_certificate(account.id, cert.id)

    with pytest.raises(NotFound):
        store.get_certificate(account.id, cert.id)
    with pytest.raises(NotFound):
        store.delete_certificate(account.id, cert.id)


# --------------------------------------------------------------------------------------------- contacts


def test_contacts_crud_and_keyword_search(store: SqlStore) -> None:
    account = store.create_account("acme")
    alice = store.add_contact(account.id, name="Alice", email="alice@example.com", webhooks=["https://hook/1"])
    bob = store.add_contact(account.id, name="Bob", mobile="13800000000")

    updated = store.update_contact(alice.model_copy(update={"email": "a@example.org", "webhooks": ()}))

    assert (
        store.get_contact(account.id, alice.id)
        == updated
        == Contact(id=alice.id, account_id=account.id, name="Alice", email="a@example.org")
    )
    assert [c.id for c in store.list_contacts(account.id, keyword="1380").items] == [bob.id]
    assert [c.id for c in store.list_contacts(account.id, keyword="ALI").items] == [alice.id]
    assert [c.id for c in store.get_contacts(account.id, [bob.id, alice.id])] == [alice.id, bob.id]
    store.delete_contact(account.id, bob.id)
    assert store.list_contacts(account.id).total == 1


def test_a_contact_email_in_any_case_and_a_mobile_belong_to_one_contact_of_an_account(store: SqlStore) -> None:
    account, other = store.create_account("acme"), store.create_account("other")
    ops = store.add_contact(account.id, name="Ops", email="Ops@Example.com", mobile="13800000001")
    dev = store.add_contact(account.id, name="Dev", mobile="13800000002")

    with pytest.raises(ContactTaken) as same_email:
        store.add_contact(account.id, name="X", email="ops@example.COM", mobile="13800000003")
    with pytest.raises(ContactTaken) as same_mobile:
        store.update_contact(dev.model_copy(update={"mobile": "13800000001"}))
    with store.transaction() as unit:
        with pytest.raises(ContactTaken):
            unit.add_contact(account.id, name="Y", mobile="13800000002")
        # The refused write leaves the transaction usable.
        kept = unit.add_contact(account.id, name="Z", mobile="13800000004")

    assert (same_email.value.field, same_email.value.holder_id) == (ContactField.EMAIL, ops.id)
    assert (same_mobile.value.field, same_mobile.value.holder_id) == (ContactField.MOBILE, ops.id)
    assert store.update_contact(ops.model_copy(update={"email": "OPS@example.com"})).email == "OPS@example.com"
    assert store.add_contact(other.id, name="Ops", email="ops@example.com", mobile="13800000001").id > 0
    assert store.add_contact(account.id, name="No address").email is None
    assert store.add_contact(account.id, name="No address either").mobile is None
    assert [c.id for c in store.list_contacts(account.id).items][:3] == [ops.id, dev.id, kept.id]
    assert store.get_contact(account.id, dev.id).mobile == "13800000002"


@pytest.mark.parametrize("field", list(ContactField))
def test_contact_writes_racing_for_one_email_or_mobile_leave_exactly_one_winner(
    store: SqlStore, field: ContactField
) -> None:
    account = store.create_account("acme")
    racers = 4
    if field is ContactField.EMAIL:
        emails, mobiles = ["a@example.com", "A@Example.com"] * 2, [f"1380000000{i}" for i in range(racers)]
    else:
        emails, mobiles = [f"c{i}@example.com" for i in range(racers)], ["13800000009"] * racers
    # Half the racers create a contact, half move an existing one onto the value.
    movers = [store.add_contact(account.id, name=f"mover{i}", mobile=f"1390000000{i}") for i in range(racers)]

    def write(i: int) -> Contact:
        if i % 2:
            return store.update_contact(movers[i].model_copy(update={"email": emails[i], "mobile": mobiles[i]}))
        return store.add_contact(account.id, name=f"c{i}", email=emails[i], mobile=mobiles[i])

    results = race(racers, write)

    [winner] = [result for result in results if isinstance(result, Contact)]
    losers = [result for result in results if not isinstance(result, Contact)]
    assert [(type(loser), loser.field, loser.holder_id) for loser in losers] == [(ContactTaken, field, winner.id)] * (
        racers - 1
    )
    held = [c for c in store.list_contacts(account.id, page_size=50).items if c.id == winner.id]
    assert held == [winner]


# Only PostgreSQL lets the holder change between the refused write and the look-up of who holds the value: SQLite
# runs one writer at a time, and InnoDB keeps the duplicate-key lock on the holder's row until the writer commits.
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_contact_write_is_tried_again_when_the_holder_lets_the_value_go_before_it_is_named(
    store: SqlStore, database: Engine
) -> None:
    account = store.create_account("acme")
    holder = store.add_contact(account.id, name="Holder", mobile="13800000001")
    released: list[bool] = []

    def let_go(context: Any) -> None:
        if not released and "contacts" in str(context.statement):
            released.append(True)
            with database.begin() as conn:
                conn.execute(update(contacts).where(contacts.c.id == holder.id).values(mobile=None))

    event.listen(database, "handle_error", let_go)
    try:
        taker = store.add_contact(account.id, name="Taker", mobile="13800000001")
    finally:
        event.remove(database, "handle_error", let_go)

    assert released == [True]
    assert store.get_contact(account.id, taker.id).mobile == "13800000001"
    assert store.get_contact(account.id, holder.id).mobile is None


# --------------------------------------------------------------------------------------------- resources


def test_upsert_by_natural_key_keeps_ids_stable_and_refreshes_the_rest(store: SqlStore) -> None:
    account = store.create_account("acme")
    cdn = ResourceSpec(product=Product.CDN, region="cn-hangzhou", instance_id="cdn-1", domain="a.example.com")
    alb_443 = ResourceSpec(
        product=Product.ALB, region="cn-hangzhou", instance_id="alb-1", domain="a.example.com", port=443
    )
    alb_8443 = ResourceSpec(
        product=Product.ALB, region="cn-hangzhou", instance_id="alb-1", domain="a.example.com", port=8443
    )
    first = store.upsert_resources(account.id, [cdn, alb_443, alb_8443])

    again = store.upsert_resources(
        account.id, [ResourceSpec(**{**alb_443.__dict__, "bound_cert_id": 7, "bound_cert_name": "web"}), cdn]
    )

    assert len(set(first)) == 3 and again == [first[1], first[0]]
    refreshed = store.get_resources(account.id, [first[1]])[0]
    assert (refreshed.bound_cert_id, refreshed.bound_cert_name, refreshed.port) == (7, "web", 443)
    assert store.get_resources(account.id, [first[0]])[0].port is None


def test_resources_list_filters_and_gone_resources(store: SqlStore) -> None:
    account = store.create_account("acme")
    specs = [
        ResourceSpec(product=Product.CDN, region="r", instance_id="cdn-1", domain="shop.example.com"),
        ResourceSpec(product=Product.OSS, region="r", instance_id="bucket-1", domain="img.example.com"),
        ResourceSpec(product=Product.CDN, region="r", instance_id="cdn-2", domain="other.net", https_enabled=False),
    ]
    ids = store.upsert_resources(account.id, specs)

    assert [r.id for r in store.list_resources(account.id, product=Product.CDN).items] == [ids[0], ids[2]]
    assert [r.id for r in store.list_resources(account.id, keyword="BUCKET").items] == [ids[1]]
    assert [r.id for r in store.list_resources(account.id, resource_ids=[ids[2], ids[1]]).items] == ids[1:]
    assert store.list_resources(account.id, page=2, page_size=2).items[0].id == ids[2]
    assert store.set_resources_gone(account.id, [ids[0]]) == 1
    assert store.list_resources(account.id).total == 2
    assert store.list_resources(account.id, include_gone=True).total == 3
    store.upsert_resources(account.id, specs[:1])
    assert store.list_resources(account.id).total == 3


def test_candidates_for_names_are_exact_names_and_one_label_under_a_wildcard(store: SqlStore) -> None:
    account = store.create_account("acme")
    domains = ["example.com", "a.example.com", "a.b.example.com", "*.example.com", "a.example.org", "xexample.com"]
    ids = store.upsert_resources(
        account.id, [ResourceSpec(product=Product.CDN, region="r", instance_id=d, domain=d) for d in domains]
    )

    exact = store.resources_for_names(account.id, ["example.com", "a.example.org"])
    wildcard = store.resources_for_names(account.id, ["*.example.com"])

    assert [r.id for r in exact] == [ids[0], ids[4]]
    assert [r.domain for r in wildcard] == ["a.example.com", "*.example.com"]


@pytest.mark.parametrize("count", [100, 10_000])
def test_thousands_of_names_find_their_resources_without_one_expression_per_name(store: SqlStore, count: int) -> None:
    # Issue 10 item 3: a certificate may hold 10,000 names; SQLite refuses an expression tree deeper than 1000.
    account, other = store.create_account("acme"), store.create_account("other")
    domains = ["a.zone7.example.com", "a.b.zone7.example.com", "zone9.example.com", "exact-5.example.net", "gone.net"]
    ids = store.upsert_resources(
        account.id, [ResourceSpec(product=Product.CDN, region="r", instance_id=d, domain=d) for d in domains]
    )
    store.upsert_resources(
        other.id, [ResourceSpec(product=Product.CDN, region="r", instance_id="o", domain=domains[0])]
    )
    store.set_resources_gone(account.id, [ids[4]])
    names = [*(f"*.zone{i}.example.com" for i in range(count)), *(f"exact-{i}.example.net" for i in range(count))]

    found = store.resources_for_names(account.id, [*names, "gone.net"])

    assert [r.id for r in found] == [ids[0], ids[3]]


def test_binding_a_certificate_to_a_resource(store: SqlStore) -> None:
    account = store.create_account("acme")
    [resource_id] = store.upsert_resources(
        account.id, [ResourceSpec(product=Product.WAF, region="r", instance_id="waf", domain="a.com")]
    )

    bound = store.set_resource_binding(account.id, resource_id, 42, "web")

    assert (bound.bound_cert_id, bound.bound_cert_name) == (42, "web")
    assert store.set_resource_binding(account.id, resource_id, None, None).bound_cert_id is None


# --------------------------------------------------------------------------------------------- jobs


def test_job_round_trip_times_are_aware_utc(store: SqlStore) -> None:
    account = store.create_account("acme")
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

    got = store.get_job(account.id, job.id)

    assert got == job
    assert got.schedule_time == datetime(2026, 12, 1, 0, 30, 0, 500, tzinfo=timezone.utc)
    assert got.schedule_time is not None and got.schedule_time.tzinfo == timezone.utc
    assert (got.status, got.version, got.cert_ids, got.created_at) == (J.EDITING, 0, (3, 4), T0)


def test_jobs_list_newest_first_with_status_and_type_filters(store: SqlStore) -> None:
    account = store.create_account("acme")
    user_job = new_job(store, account.id)
    cloud_job = new_job(store, account.id, job_type=JobType.CLOUD)
    store.transition_job(account.id, user_job.id, expected=J.EDITING, to=J.PENDING)

    assert [j.id for j in store.list_jobs(account.id).items] == [cloud_job.id, user_job.id]
    assert [j.id for j in store.list_jobs(account.id, status=J.PENDING).items] == [user_job.id]
    assert [j.id for j in store.list_jobs(account.id, job_type=JobType.CLOUD).items] == [cloud_job.id]
    assert store.list_jobs(account.id, page=2, page_size=1).items[0].id == user_job.id


def test_editing_a_job_needs_its_current_version_and_status(store: SqlStore, clock: SettableClock) -> None:
    account = store.create_account("acme")
    job = new_job(store, account.id)
    clock.advance(seconds=5)

    edited = store.update_job(job.model_copy(update={"name": "renamed", "resource_ids": (9, 10)}))

    assert (edited.name, edited.resource_ids, edited.version, edited.modified_at) == (
        "renamed",
        (9, 10),
        1,
        clock.now(),
    )
    with pytest.raises(StaleState) as lost:
        store.update_job(job.model_copy(update={"name": "from a stale read"}))
    assert (lost.value.actual_status, lost.value.actual_version) == ("editing", 1)
    submitted = store.transition_job(account.id, job.id, expected=J.EDITING, to=J.PENDING)
    with pytest.raises(StaleState):
        store.update_job(submitted)


def test_job_transitions_are_conditional_and_follow_the_state_machine(store: SqlStore) -> None:
    account = store.create_account("acme")
    job = new_job(store, account.id)

    pending = store.transition_job(account.id, job.id, expected=J.EDITING, to=J.PENDING, expected_version=0)
    started = store.transition_job(account.id, job.id, expected=J.PENDING, to=J.SCHEDULING, start_time=T0)

    assert (pending.status, pending.version, started.start_time) == (J.PENDING, 1, T0)
    with pytest.raises(StaleState):
        store.transition_job(account.id, job.id, expected=J.PENDING, to=J.SCHEDULING)
    with pytest.raises(StaleState):
        store.transition_job(account.id, job.id, expected=J.SCHEDULING, to=J.PROCESSING, expected_version=1)
    with pytest.raises(InvalidStatus):
        store.transition_job(account.id, job.id, expected=J.SCHEDULING, to=J.SUCCESS)
    with pytest.raises(NotFound):
        store.transition_job(account.id, 999_999, expected=J.SCHEDULING, to=J.PROCESSING)
    assert store.get_job(account.id, job.id).status is J.SCHEDULING


def test_due_jobs_are_pending_with_no_or_past_schedule(store: SqlStore) -> None:
    account = store.create_account("acme")
    now_job = new_job(store, account.id)
    past_job = new_job(store, account.id, schedule_time=T0 - timedelta(minutes=1))
    future_job = new_job(store, account.id, schedule_time=T0 + timedelta(minutes=1))
    editing_job = new_job(store, account.id)
    for job in (now_job, past_job, future_job):
        store.transition_job(account.id, job.id, expected=J.EDITING, to=J.PENDING)

    due = store.due_jobs(T0)

    assert [j.id for j in due] == [past_job.id, now_job.id]
    assert editing_job.id not in [j.id for j in store.due_jobs(T0 + timedelta(hours=1))]
    assert len(store.due_jobs(T0 + timedelta(hours=1), limit=2)) == 2


def test_delete_job_removes_its_workers_and_refuses_running_or_rolling_back_jobs(store: SqlStore) -> None:
    account = store.create_account("acme")
    job, worker_ids = pending_job_with_workers(store, account.id, 2)
    running = store.transition_job(account.id, job.id, expected=J.PENDING, to=J.SCHEDULING)

    with pytest.raises(InvalidStatus):
        store.delete_job(account.id, job.id)
    store.transition_job(account.id, job.id, expected=J.SCHEDULING, to=J.PROCESSING)
    done = store.transition_job(account.id, job.id, expected=J.PROCESSING, to=J.SUCCESS)
    for worker_id in worker_ids:
        for before, after in [(W.PENDING, W.SCHEDULING), (W.SCHEDULING, W.PROCESSING), (W.PROCESSING, W.SUCCESS)]:
            store.transition_worker(account.id, worker_id, expected=before, to=after)
    store.transition_worker(account.id, worker_ids[0], expected=W.SUCCESS, to=W.ROLLBACK)
    with pytest.raises(InvalidStatus):
        store.delete_job(account.id, job.id)
    store.transition_worker(account.id, worker_ids[0], expected=W.ROLLBACK, to=W.ROLLBACK_SUCCESS)
    with pytest.raises(StaleState):
        store.delete_job(account.id, job.id, expected_version=running.version)

    deleted = store.delete_job(account.id, job.id, expected_version=done.version)

    assert deleted.id == job.id
    with pytest.raises(NotFound):
        store.get_job(account.id, job.id)
    with pytest.raises(NotFound):
        store.get_worker(account.id, worker_ids[1])


# --------------------------------------------------------------------------------------------- workers


def test_workers_are_created_in_bulk_once_per_resource(store: SqlStore) -> None:
    account = store.create_account("acme")
    job = new_job(store, account.id)
    specs = [WorkerSpec(cert_id=1, resource_id=r, product=Product.CDN) for r in (30, 10, 20)]

    created = store.create_workers(account.id, job.id, specs)

    assert [w.resource_id for w in created] == [30, 10, 20]
    assert all(w.status is W.EDITING and w.job_id == job.id and w.created_at == T0 for w in created)
    assert store.job_workers(account.id, job.id) == sorted(created, key=lambda w: w.id)
    with pytest.raises(AlreadyExists):
        store.create_workers(account.id, job.id, specs[:1])
    assert len(store.job_workers(account.id, job.id)) == 3


def test_replacing_workers_of_an_editing_job(store: SqlStore) -> None:
    account = store.create_account("acme")
    job = new_job(store, account.id)
    store.create_workers(account.id, job.id, [WorkerSpec(cert_id=1, resource_id=1, product=Product.CDN)])

    replaced = store.replace_workers(account.id, job.id, [WorkerSpec(cert_id=2, resource_id=2, product=Product.OSS)])

    assert (
        [(w.cert_id, w.resource_id) for w in store.job_workers(account.id, job.id)]
        == [(2, 2)]
        == [(w.cert_id, w.resource_id) for w in replaced]
    )
    store.transition_workers(account.id, job.id, expected=W.EDITING, to=W.PENDING)
    with pytest.raises(InvalidStatus):
        store.replace_workers(account.id, job.id, [])


def test_worker_counts_group_the_job_s_workers_by_product_and_status(store: SqlStore) -> None:
    account = store.create_account("acme")
    job = new_job(store, account.id)
    specs = [
        WorkerSpec(cert_id=1, resource_id=100 + i, product=p) for i, p in enumerate([Product.CDN] * 3 + [Product.ALB])
    ]
    [first, *_] = store.create_workers(account.id, job.id, specs)
    store.transition_workers(account.id, job.id, expected=W.EDITING, to=W.PENDING)
    store.transition_worker(account.id, first.id, expected=W.PENDING, to=W.ERROR)

    assert store.worker_counts(account.id, job.id) == {
        (Product.CDN, W.ERROR): 1,
        (Product.CDN, W.PENDING): 2,
        (Product.ALB, W.PENDING): 1,
    }
    other = store.create_account("other")
    with pytest.raises(NotFound):
        store.worker_counts(other.id, job.id)


def test_worker_list_filters_and_paging(store: SqlStore) -> None:
    account = store.create_account("acme")
    job = new_job(store, account.id)
    products = [Product.CDN, Product.OSS, Product.CDN, Product.CDN]
    created = store.create_workers(
        account.id, job.id, [WorkerSpec(cert_id=1, resource_id=i, product=p) for i, p in enumerate(products)]
    )
    store.transition_worker(account.id, created[2].id, expected=W.EDITING, to=W.PENDING)

    cdn = store.list_workers(account.id, job.id, product=Product.CDN, page=2, page_size=2)
    pending = store.list_workers(account.id, job.id, status=W.PENDING)

    assert (cdn.total, [w.id for w in cdn.items]) == (3, [created[3].id])
    assert [w.id for w in pending.items] == [created[2].id]


def test_worker_transition_records_fields_and_loses_races_loudly(store: SqlStore, clock: SettableClock) -> None:
    account = store.create_account("acme")
    _, [worker_id] = pending_job_with_workers(store, account.id, 1)
    store.transition_worker(account.id, worker_id, expected=W.PENDING, to=W.SCHEDULING)
    clock.advance(seconds=1)

    processing = store.transition_worker(
        account.id,
        worker_id,
        expected=W.SCHEDULING,
        to=W.PROCESSING,
        resource_cert_id=11,
        resource_cert_name="old",
        resource_domain="a.com",
        attempt=1,
    )
    failed = store.transition_worker(
        account.id, worker_id, expected=W.PROCESSING, to=W.ERROR, error_code="Throttling", error_message="slow down"
    )

    assert (processing.resource_cert_id, processing.attempt, processing.modified_at) == (11, 1, clock.now())
    assert (failed.status, failed.error_code, failed.resource_cert_name, failed.version) == (
        W.ERROR,
        "Throttling",
        "old",
        processing.version + 1,
    )
    with pytest.raises(StaleState) as lost:
        store.transition_worker(account.id, worker_id, expected=W.PROCESSING, to=W.SUCCESS)
    assert lost.value.actual_status == "error"
    with pytest.raises(InvalidStatus):
        store.transition_worker(account.id, worker_id, expected=W.ERROR, to=W.SUCCESS)


def test_stuck_workers_are_those_left_in_a_status_past_a_deadline(store: SqlStore, clock: SettableClock) -> None:
    account = store.create_account("acme")
    _, ids = pending_job_with_workers(store, account.id, 3)
    for worker_id in ids:
        store.transition_worker(account.id, worker_id, expected=W.PENDING, to=W.SCHEDULING)
    store.transition_worker(account.id, ids[0], expected=W.SCHEDULING, to=W.PROCESSING)
    clock.advance(minutes=10)
    store.transition_worker(account.id, ids[1], expected=W.SCHEDULING, to=W.PROCESSING)

    stuck = store.stuck_workers([W.PROCESSING], modified_before=clock.now() - timedelta(minutes=5))

    assert [w.id for w in stuck] == [ids[0]]
    assert [w.id for w in store.stuck_workers([W.SCHEDULING, W.PROCESSING], clock.now())] == [ids[0], ids[2]]


# --------------------------------------------------------------------------------------------- tenancy


def test_another_account_cannot_read_or_change_what_it_does_not_own(store: SqlStore) -> None:
    owner, intruder = store.create_account("owner"), store.create_account("intruder")
    cert = _upload(store, owner.id, private_key_pem=pem("PRIVATE KEY"))
    contact = store.add_contact(owner.id, name="Alice")
    [resource_id] = store.upsert_resources(
        owner.id, [ResourceSpec(product=Product.CDN, region="r", instance_id="i", domain="a.com")]
    )
    job, [worker_id] = pending_job_with_workers(store, owner.id, 1)
    theirs = intruder.id

    attempts: list[Callable[[], Any]] = [
        lambda: store.get_certificate(theirs, cert.id),
        lambda: store.get_private_key(theirs, cert.id),
        lambda: store.get_encryption_pair(theirs, cert.id),
        lambda: store.delete_certificate(theirs, cert.id),
        lambda: store.get_contact(theirs, contact.id),
        lambda: store.update_contact(contact.model_copy(update={"account_id": theirs, "name": "Mallory"})),
        lambda: store.delete_contact(theirs, contact.id),
        lambda: store.set_resource_binding(theirs, resource_id, 1, "x"),
        lambda: store.get_job(theirs, job.id),
        lambda: store.update_job(job.model_copy(update={"account_id": theirs, "status": J.EDITING})),
        lambda: store.transition_job(theirs, job.id, expected=J.PENDING, to=J.SCHEDULING),
        lambda: store.delete_job(theirs, job.id),
        lambda: store.create_workers(theirs, job.id, [WorkerSpec(cert_id=1, resource_id=9, product=Product.CDN)]),
        lambda: store.list_workers(theirs, job.id),
        lambda: store.job_workers(theirs, job.id),
        lambda: store.get_worker(theirs, worker_id),
        lambda: store.transition_worker(theirs, worker_id, expected=W.PENDING, to=W.SCHEDULING),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()

    assert store.get_certificates(theirs, [cert.id]) == []
    assert store.get_contacts(theirs, [contact.id]) == []
    assert store.get_resources(theirs, [resource_id]) == []
    assert store.resources_for_names(theirs, ["a.com"]) == []
    assert store.list_resources(theirs).total == store.list_jobs(theirs).total == 0
    assert store.list_certificates(theirs).total == store.list_contacts(theirs).total == 0
    assert store.transition_workers(theirs, job.id, expected=W.PENDING, to=W.SCHEDULING) == 0
    assert store.set_resources_gone(theirs, [resource_id]) == 0
    assert store.get_contact(owner.id, contact.id).name == "Alice"
    assert store.get_resources(owner.id, [resource_id])[0].bound_cert_id is None
    assert store.get_job(owner.id, job.id).status is J.PENDING
    assert store.get_worker(owner.id, worker_id).status is W.PENDING
    assert store.get_private_key(owner.id, cert.id) is not None


# --------------------------------------------------------------------------------------------- quota


def test_charge_is_all_or_nothing_and_applies_each_worker_once(store: SqlStore) -> None:
    account = store.create_account("acme", buy_count=3)
    first = charge_entries(account.id, 1, CertOrigin.UPLOAD, [11, 12])

    assert store.charge_quota(account.id, first) == 2
    assert store.charge_quota(account.id, first) == 0
    with pytest.raises(QuotaExceeded):
        store.charge_quota(account.id, charge_entries(account.id, 2, CertOrigin.UPLOAD, [21, 22]))

    assert store.quota(account.id).use_count == 2 == ledger_net(store, account.id)
    assert {e.worker_id for e in store.ledger_entries(account.id)} == {11, 12}
    assert store.ledger_entries(account.id, job_id=2) == []


def test_refund_and_release_give_a_unit_back_at_most_once(store: SqlStore) -> None:
    account = store.create_account("acme", buy_count=5)
    store.charge_quota(account.id, charge_entries(account.id, 1, CertOrigin.UPLOAD, [11, 12, 13]))

    refunded = store.credit_quota(account.id, [refund_entry(account.id, 1, 11)])
    refunded_again = store.credit_quota(account.id, [refund_entry(account.id, 1, 11)])
    released = store.credit_quota(account.id, release_entries(account.id, 1, [11, 12, 13, 99]))

    assert (refunded, refunded_again, released) == (1, 0, 2)
    assert store.quota(account.id).use_count == 0 == ledger_net(store, account.id)
    with pytest.raises(ValueError):
        store.credit_quota(account.id, charge_entries(account.id, 1, CertOrigin.UPLOAD, [14]))


def test_buy_count_grows_and_never_goes_below_zero(store: SqlStore) -> None:
    account = store.create_account("acme", buy_count=2)

    assert store.add_quota(account.id, 10).buy_count == 12
    with pytest.raises(ValueError):
        store.add_quota(account.id, -13)
    assert store.quota(account.id).available == 12


# --------------------------------------------------------------------------------------------- outbox & keys


def test_state_change_and_outbox_commit_together_or_not_at_all(store: SqlStore) -> None:
    account = store.create_account("acme")
    job = new_job(store, account.id)
    message = OutboxMessage(queue="deploy", body='{"job": 1}', key=f"{job.id}:submit:1", delay_seconds=5)

    with pytest.raises(StaleState), store.transaction() as tx:
        tx.transition_job(account.id, job.id, expected=J.EDITING, to=J.PENDING)
        tx.add_outbox([message])
        tx.transition_job(account.id, job.id, expected=J.EDITING, to=J.PENDING)  # lost race: all of it rolls back
    assert store.get_job(account.id, job.id).status is J.EDITING
    assert store.pending_outbox() == []

    with store.transaction() as tx:
        tx.transition_job(account.id, job.id, expected=J.EDITING, to=J.PENDING)
        [outbox_id] = tx.add_outbox([message])

    [record] = store.pending_outbox()
    assert (record.id, record.queue, record.body, record.key, record.delay_seconds) == (
        outbox_id,
        "deploy",
        '{"job": 1}',
        message.key,
        5,
    )
    assert store.get_job(account.id, job.id).status is J.PENDING


def test_relay_sees_unsent_messages_after_a_grace_period_until_marked_sent(
    store: SqlStore, clock: SettableClock
) -> None:
    old_ids = store.add_outbox([OutboxMessage(queue="notify", body=f"m{i}", key=f"k{i}") for i in range(3)])
    clock.advance(minutes=5)
    [fresh_id] = store.add_outbox([OutboxMessage(queue="notify", body="fresh", key="k-fresh")])

    overdue = store.pending_outbox(created_before=clock.now() - timedelta(minutes=1))
    store.mark_outbox_sent(old_ids[:2])
    clock.advance(days=2)

    assert [r.id for r in overdue] == old_ids
    assert [r.id for r in store.pending_outbox(limit=10)] == [old_ids[2], fresh_id]
    assert store.delete_sent_outbox(clock.now() - timedelta(days=1)) == 2


def test_processed_keys_and_notifications_are_insert_if_absent(store: SqlStore, clock: SettableClock) -> None:
    account = store.create_account("acme")

    assert store.mark_processed("1:2:deploy:1") is True
    assert store.mark_processed("1:2:deploy:1") is False
    assert store.mark_processed("1:2:deploy:2") is True
    assert store.record_notification(account.id, "job:1:finished", 7, "email") is True
    assert store.record_notification(account.id, "job:1:finished", 7, "email") is False
    assert store.record_notification(account.id, "job:1:finished", 7, "sms") is True
    clock.advance(days=8)
    assert store.forget_processed(clock.now() - timedelta(days=7)) == 2
    assert store.mark_processed("1:2:deploy:1") is True


def test_sent_notifications_are_listed_per_event_and_account(store: SqlStore) -> None:
    acme, other = store.create_account("acme"), store.create_account("other")
    long_delivery = "1:job_finished:7:webhook:" + "f" * 16
    store.record_notification(acme.id, "1:0:job_finished:0", 7, "email:0123456789abcdef")
    store.record_notification(acme.id, "1:0:job_finished:0", 7, long_delivery)
    store.record_notification(acme.id, "2:0:job_finished:0", 7, "email:0123456789abcdef")

    assert store.sent_notifications(acme.id, "1:0:job_finished:0") == {"email:0123456789abcdef", long_delivery}
    assert store.sent_notifications(other.id, "1:0:job_finished:0") == set()


def test_unsent_outbox_gives_back_just_the_asked_rows_not_yet_sent(store: SqlStore) -> None:
    ids = store.add_outbox([OutboxMessage(queue="deploy", body=f"m{i}", key=f"k{i}") for i in range(4)])
    store.mark_outbox_sent([ids[1]])

    assert [r.body for r in store.unsent_outbox([ids[0], ids[1], ids[3]])] == ["m0", "m3"]
    assert store.unsent_outbox([]) == []


def test_accounts_are_listed_by_id(store: SqlStore) -> None:
    assert store.list_accounts() == []
    first, second = store.create_account("b-team"), store.create_account("a-team")
    assert [a.name for a in store.list_accounts()] == [first.name, second.name]


def test_duplicate_key_inside_a_transaction_leaves_it_usable(store: SqlStore) -> None:
    account = store.create_account("acme")
    job = new_job(store, account.id)
    store.mark_processed("once")

    with store.transaction() as tx:
        assert tx.mark_processed("once") is False
        tx.transition_job(account.id, job.id, expected=J.EDITING, to=J.PENDING)

    assert store.get_job(account.id, job.id).status is J.PENDING


# --------------------------------------------------------------------------------------------- concurrency


def test_racing_job_transitions_have_exactly_one_winner(store: SqlStore) -> None:
    account = store.create_account("acme")
    job, _ = pending_job_with_workers(store, account.id, 1)

    def attempt(_: int) -> Job:
        with store.transaction() as tx:
            won = tx.transition_job(account.id, job.id, expected=J.PENDING, to=J.SCHEDULING)
            time.sleep(0.2)  # hold the change uncommitted while the others try
            return won

    results = race(4, attempt)

    assert sum(isinstance(r, Job) for r in results) == 1
    assert sum(isinstance(r, StaleState) for r in results) == 3
    assert store.get_job(account.id, job.id).version == job.version + 1


def test_racing_worker_transitions_have_exactly_one_winner(store: SqlStore) -> None:
    account = store.create_account("acme")
    _, [worker_id] = pending_job_with_workers(store, account.id, 1)

    def attempt(_: int) -> Any:
        with store.transaction() as tx:
            won = tx.transition_worker(account.id, worker_id, expected=W.PENDING, to=W.SCHEDULING)
            tx.add_outbox([OutboxMessage(queue="deploy", body="go", key=f"{worker_id}:deploy:1")])
            time.sleep(0.2)
            return won

    results = race(4, attempt)

    assert sum(isinstance(r, StaleState) for r in results) == 3
    assert len(store.pending_outbox()) == 1


def test_the_same_ledger_entry_written_twice_at_once_applies_once(store: SqlStore) -> None:
    account = store.create_account("acme", buy_count=10)
    entries = charge_entries(account.id, 1, CertOrigin.UPLOAD, [501])

    def attempt(_: int) -> int:
        with store.transaction() as tx:
            charged = tx.charge_quota(account.id, entries)
            time.sleep(0.2)
            return charged

    results = race(2, attempt)

    assert sorted(results) == [0, 1]
    assert store.quota(account.id).use_count == 1 == ledger_net(store, account.id)


def test_concurrent_refunds_of_one_worker_give_back_one_unit(store: SqlStore) -> None:
    account = store.create_account("acme", buy_count=10)
    store.charge_quota(account.id, charge_entries(account.id, 1, CertOrigin.UPLOAD, [601, 602]))

    def attempt(_: int) -> int:
        with store.transaction() as tx:
            given_back = tx.credit_quota(account.id, [refund_entry(account.id, 1, 601)])
            time.sleep(0.1)
            return given_back

    results = race(3, attempt)

    assert sorted(results) == [0, 0, 1]
    assert store.quota(account.id).use_count == 1 == ledger_net(store, account.id)


def test_concurrent_charges_never_oversell(store: SqlStore) -> None:
    account = store.create_account("acme", buy_count=5)

    def attempt(i: int) -> int:
        entries = charge_entries(account.id, 100 + i, CertOrigin.UPLOAD, [1000 + 2 * i, 1001 + 2 * i])
        with store.transaction() as tx:
            charged = tx.charge_quota(account.id, entries)
            time.sleep(0.1)
            return charged

    results = race(4, attempt)

    assert sum(r == 2 for r in results) == 2 and sum(isinstance(r, QuotaExceeded) for r in results) == 2
    assert store.quota(account.id).use_count == 4 == ledger_net(store, account.id)


def test_concurrent_first_deliveries_of_one_message_are_processed_once(store: SqlStore) -> None:
    def attempt(_: int) -> bool:
        with store.transaction() as tx:
            first = tx.mark_processed("job:1:worker:2:deploy:1")
            time.sleep(0.2)
            return first

    assert sorted(race(3, attempt)) == [False, False, True]


def test_two_processes_share_one_sqlite_file(tmp_path: Any) -> None:
    # GIVEN two stores on their own engines, as the API process and a CLI command would have
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    upgrade(url)
    api = SqlStore.from_url(url, key_encryption_key=KEK, clock=SettableClock(T0))
    cli = SqlStore.from_url(url, key_encryption_key=KEK, clock=SettableClock(T0))
    account = api.create_account("acme", buy_count=1000)

    # WHEN both write at the same time
    def writer(i: int) -> int:
        target = (api, cli)[i]
        for n in range(40):
            target.charge_quota(account.id, charge_entries(account.id, i, CertOrigin.UPLOAD, [i * 1000 + n]))
            target.mark_processed(f"{i}:{n}")
        return target.quota(account.id).use_count

    results = race(2, writer)

    # THEN no write failed on the file lock and every charge landed
    assert all(isinstance(r, int) for r in results), results
    assert cli.quota(account.id).use_count == 80
    api.close()
    cli.close()


# --------------------------------------------------------------------------------------------- volume


def test_ten_thousand_resources_and_a_thousand_workers_take_seconds(store: SqlStore) -> None:
    account = store.create_account("acme", buy_count=1000)
    specs = [
        ResourceSpec(product=Product.CDN, region="cn-hangzhou", instance_id=f"cdn-{i}", domain=f"d{i}.example.com")
        for i in range(10_000)
    ]
    started = time.monotonic()

    ids = store.upsert_resources(account.id, specs)
    again = store.upsert_resources(account.id, specs)
    job = new_job(store, account.id)
    workers = store.create_workers(
        account.id, job.id, [WorkerSpec(cert_id=1, resource_id=r, product=Product.CDN) for r in ids[:1000]]
    )
    with store.transaction() as tx:
        tx.charge_quota(account.id, charge_entries(account.id, job.id, CertOrigin.UPLOAD, [w.id for w in workers]))
        tx.add_outbox([OutboxMessage(queue="deploy", body=str(w.id), key=f"w{w.id}") for w in workers])
    elapsed = time.monotonic() - started

    assert again == ids and len(set(ids)) == 10_000
    assert store.quota(account.id).use_count == 1000
    assert elapsed < 30, f"took {elapsed:.1f} s"


def test_ledger_rows_outlive_a_deleted_job(store: SqlStore, database: Engine) -> None:
    account = store.create_account("acme", buy_count=5)
    job = new_job(store, account.id)
    [worker] = store.create_workers(account.id, job.id, [WorkerSpec(cert_id=1, resource_id=1, product=Product.CDN)])
    store.charge_quota(account.id, charge_entries(account.id, job.id, CertOrigin.UPLOAD, [worker.id]))

    with store.transaction() as tx:
        tx.credit_quota(account.id, release_entries(account.id, job.id, [worker.id]))
        tx.delete_job(account.id, job.id)
    [replacement] = store.create_workers(
        account.id, new_job(store, account.id).id, [WorkerSpec(cert_id=1, resource_id=1, product=Product.CDN)]
    )

    with database.connect() as conn:
        assert conn.execute(select(quota_ledger.c.worker_id)).scalars().all() == [worker.id, worker.id]
    assert replacement.id > worker.id  # ids are never reused, so the ledger keys of deleted workers stay theirs
    assert store.quota(account.id).use_count == 0
