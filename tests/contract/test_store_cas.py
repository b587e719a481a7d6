"""The SQL store's side of certificates mirrored from CAS, on SQLite, PostgreSQL and MySQL/MariaDB: a CAS id unique
per account, lookup by CAS id, and content filled in once when a deployment first needs it.

PostgreSQL and MySQL run when CERTDEPLOY_TEST_POSTGRES_URL / CERTDEPLOY_TEST_MYSQL_URL are set (see test_store.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, select

from certdeploy.adapters.sql import SqlStore, generate_key_encryption_key
from certdeploy.adapters.sql.schema import certificates
from certdeploy.domain.errors import NotFound
from certdeploy.domain.models import CertOrigin
from certdeploy.ports.store.errors import AlreadyExists
from tests.contract.store_fixtures import (
    BACKENDS,
    SettableClock,
    certificate_info,
    emptied_store,
    migrated_store_engine,
    pem,
)

KEK = generate_key_encryption_key()
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_store_engine(request.param, tmp_path_factory.mktemp(request.param)) as engine:
        yield engine


@pytest.fixture
def store(database: Engine) -> SqlStore:
    return emptied_store(database, key_encryption_key=KEK, clock=SettableClock(T0))


def _mirror(store: SqlStore, account_id: int, cas_cert_id: int, name: str | None = None) -> Any:
    """A certificate as the CAS sync adds it: listed facts, no content yet."""
    return store.certificates.add(
        account_id,
        name=name or f"cas-{cas_cert_id}",
        origin=CertOrigin.BUY,
        info=certificate_info("www.example.com"),
        cert_pem="",
        private_key_pem=None,
        cas_cert_id=cas_cert_id,
    )


def test_a_certificate_from_cas_keeps_its_cas_id_and_has_no_content_yet(store: SqlStore) -> None:
    account = store.accounts.create("acme")

    added = _mirror(store, account.id, 7001)
    got = store.certificates.get(account.id, added.id)

    assert got == added
    assert (got.cas_cert_id, got.cert_pem, got.has_pem) == (7001, "", False)
    assert store.certificates.private_key(account.id, added.id) is None
    assert store.certificates.search(account.id, keyword="www.example").items == [got]


def test_a_cas_id_is_unique_in_an_account_and_free_across_accounts(store: SqlStore) -> None:
    a, b = store.accounts.create("a"), store.accounts.create("b")
    _mirror(store, a.id, 7001)

    with pytest.raises(AlreadyExists, match="CAS certificate 7001"):
        _mirror(store, a.id, 7001, name="other name")
    in_b = _mirror(store, b.id, 7001)
    for name in ("uploaded-1", "uploaded-2"):  # certificates without a CAS id never clash on it
        store.certificates.add(
            a.id,
            name=name,
            origin=CertOrigin.UPLOAD,
            info=certificate_info("a.com"),
            cert_pem=pem("CERTIFICATE"),
            private_key_pem=pem("PRIVATE KEY"),
        )

    assert store.certificates.by_cas_ids(b.id, [7001]) == [in_b]
    assert len(store.certificates.search(a.id).items) == 3


def test_certificates_are_found_by_cas_id_within_their_account_only(store: SqlStore) -> None:
    a, b = store.accounts.create("a"), store.accounts.create("b")
    first, second = _mirror(store, a.id, 7001), _mirror(store, a.id, 7002)
    _mirror(store, b.id, 7003)

    assert store.certificates.by_cas_ids(a.id, [7002, 7001, 7001, 9999]) == [first, second]
    assert store.certificates.by_cas_ids(a.id, [7003]) == []
    assert store.certificates.by_cas_ids(a.id, []) == []


def test_content_fills_in_once_with_its_facts_and_an_encrypted_key(store: SqlStore, database: Engine) -> None:
    account = store.accounts.create("acme")
    mirrored = _mirror(store, account.id, 7001)
    exact = certificate_info(
        "www.example.com",
        "api.example.com",
        not_before=datetime(2026, 1, 1, 3, 4, 5, tzinfo=timezone.utc),
        not_after=datetime(2026, 12, 31, 23, 0, tzinfo=timezone.utc),
    )
    cert_pem, key_pem = pem("CERTIFICATE"), pem("PRIVATE KEY")

    filled = store.certificates.fill_content(
        account.id, mirrored.id, info=exact, cert_pem=cert_pem, private_key_pem=key_pem
    )
    again = store.certificates.fill_content(
        account.id,
        mirrored.id,
        info=certificate_info("late.example.com"),
        cert_pem=pem("CERTIFICATE"),
        private_key_pem=None,
    )

    assert filled == store.certificates.get(account.id, mirrored.id) == again
    assert (filled.cert_pem, filled.has_pem, filled.cas_cert_id, filled.name) == (cert_pem, True, 7001, mirrored.name)
    assert filled.model_dump(include=set(exact.model_dump())) == exact.model_dump()
    assert store.certificates.private_key(account.id, mirrored.id) == key_pem
    with database.connect() as conn:
        sealed = conn.execute(select(certificates.c.private_key_sealed)).scalar_one()
    assert key_pem.splitlines()[1].encode() not in sealed


def test_racing_fills_keep_one_content(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    mirrored = _mirror(store, account.id, 7001)
    contents = [(pem("CERTIFICATE"), pem("PRIVATE KEY")) for _ in range(4)]
    barrier = threading.Barrier(len(contents))
    results: list[Any] = [None] * len(contents)

    def fill(index: int) -> None:
        barrier.wait()
        cert_pem, key_pem = contents[index]
        results[index] = store.certificates.fill_content(
            account.id,
            mirrored.id,
            info=certificate_info("www.example.com"),
            cert_pem=cert_pem,
            private_key_pem=key_pem,
        )

    threads = [threading.Thread(target=fill, args=(index,)) for index in range(len(contents))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = store.certificates.get(account.id, mirrored.id)
    assert {result.cert_pem for result in results} == {stored.cert_pem}
    assert (stored.cert_pem, store.certificates.private_key(account.id, mirrored.id)) in contents


def test_filling_another_accounts_certificate_is_not_found(store: SqlStore) -> None:
    owner, stranger = store.accounts.create("owner"), store.accounts.create("stranger")
    mirrored = _mirror(store, owner.id, 7001)

    with pytest.raises(NotFound):
        store.certificates.fill_content(
            stranger.id, mirrored.id, info=certificate_info("x.com"), cert_pem=pem("CERTIFICATE"), private_key_pem=None
        )
    assert store.certificates.get(owner.id, mirrored.id).has_pem is False
