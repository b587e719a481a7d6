"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`):
Certificates and their encrypted keys.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from certdeploy.adapters.sql import SqlStore, generate_key_encryption_key
from certdeploy.adapters.sql.schema import certificates
from certdeploy.domain.errors import NotFound
from certdeploy.domain.models import CertificateTag, CertOrigin
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.ports.store.certificates import EncryptionPair
from certdeploy.ports.store.errors import AlreadyExists, KeyDecryptionFailed
from tests.contract.store_fixtures import (
    T0,
    SettableClock,
    certificate_info,
    pem,
    upload_certificate,
)

J, W = JobStatus, WorkerStatus


def test_certificate_round_trips_with_aware_utc_times(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    info = certificate_info(
        "example.com",
        "*.example.com",
        not_before=datetime(2026, 1, 1, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
    )
    cert_pem = pem("CERTIFICATE")

    added = store.certificates.add(
        account.id, name="web", origin=CertOrigin.UPLOAD, info=info, cert_pem=cert_pem, private_key_pem=pem("KEY")
    )
    got = store.certificates.get(account.id, added.id)

    assert got == added
    assert got.model_dump(include=set(info.model_dump())) == info.model_dump()
    assert got.not_before == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)
    assert got.not_before.tzinfo == timezone.utc and got.created_at == T0
    assert got.cert_pem == cert_pem


def test_private_key_is_ciphertext_in_the_database_and_plain_for_its_owner(store: SqlStore, database: Engine) -> None:
    account = store.accounts.create("acme")
    key_pem = pem("PRIVATE KEY")
    cert = upload_certificate(store, account.id, private_key_pem=key_pem)

    with database.connect() as conn:
        sealed = conn.execute(select(certificates.c.private_key_sealed)).scalar_one()
    body = key_pem.splitlines()[1].encode()
    assert b"PRIVATE KEY" not in sealed and body not in sealed
    assert store.certificates.private_key(account.id, cert.id) == key_pem


def test_a_wrong_key_encryption_key_fails_loudly(store: SqlStore, database: Engine, clock: SettableClock) -> None:
    account = store.accounts.create("acme")
    cert = upload_certificate(store, account.id, private_key_pem=pem("PRIVATE KEY"))
    store.accounts.add_access_key(account.id, "AK1", "secret")
    other = SqlStore(database, key_encryption_key=generate_key_encryption_key(), clock=clock)

    with pytest.raises(KeyDecryptionFailed, match="encrypted with key-encryption key"):
        other.certificates.private_key(account.id, cert.id)
    with pytest.raises(KeyDecryptionFailed):
        other.accounts.find_access_key("AK1")


def test_tags_and_the_encryption_pair_are_kept_with_the_certificate(store: SqlStore, database: Engine) -> None:
    account = store.accounts.create("acme")
    tags = (CertificateTag(key="env", value="prod"), CertificateTag(key="Team", value=""))
    pair = EncryptionPair(cert_pem=pem("CERTIFICATE"), private_key_pem=pem("PRIVATE KEY"))
    fields: dict[str, Any] = {"origin": CertOrigin.UPLOAD, "info": certificate_info("sm.example.com")}

    sm = store.certificates.add(
        account.id,
        name="sm",
        cert_pem=pem("CERTIFICATE"),
        private_key_pem=pem("PRIVATE KEY"),
        tags=tags,
        encryption_pair=pair,
        **fields,
    )
    plain = store.certificates.add(
        account.id, name="plain", cert_pem=pem("CERTIFICATE"), private_key_pem=None, **fields
    )

    assert store.certificates.get(account.id, sm.id).tags == tags == sm.tags
    assert [c.tags for c in store.certificates.search(account.id).items] == [(), tags]
    assert store.certificates.encryption_pair(account.id, sm.id) == pair
    assert store.certificates.encryption_pair(account.id, plain.id) is None
    with database.connect() as conn:
        row = conn.execute(select(certificates).where(certificates.c.id == sm.id)).one()
    assert row.encrypt_cert_pem == pair.cert_pem
    assert pair.private_key_pem.splitlines()[1].encode() not in row.encrypt_private_key_sealed
    with pytest.raises(ValueError, match="encryption pair"):
        store.certificates.add(account.id, name="x", cert_pem="", private_key_pem=None, encryption_pair=pair, **fields)


def test_the_signing_key_ciphertext_does_not_open_as_the_encryption_key(store: SqlStore, database: Engine) -> None:
    account = store.accounts.create("acme")
    cert = upload_certificate(
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
        store.certificates.encryption_pair(account.id, cert.id)


def test_official_certificate_has_no_key_and_names_are_unique_per_account(store: SqlStore) -> None:
    a, b = store.accounts.create("a"), store.accounts.create("b")
    fields: dict[str, Any] = {"name": "same", "info": certificate_info("a.com"), "cert_pem": pem("CERTIFICATE")}
    cert = store.certificates.add(a.id, origin=CertOrigin.BUY, private_key_pem=None, **fields)

    store.certificates.add(b.id, origin=CertOrigin.BUY, private_key_pem=None, **fields)
    with pytest.raises(AlreadyExists):
        store.certificates.add(a.id, origin=CertOrigin.UPLOAD, private_key_pem=None, **fields)

    assert store.certificates.private_key(a.id, cert.id) is None


def test_certificates_list_newest_first_with_filters_and_paging(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    ids = []
    for i, (origin, domain) in enumerate(
        [(CertOrigin.UPLOAD, "shop.example.com"), (CertOrigin.BUY, "api.example.org"), (CertOrigin.UPLOAD, "x.net")]
    ):
        cert = store.certificates.add(
            account.id,
            name=f"cert-{i}",
            origin=origin,
            info=certificate_info(domain),
            cert_pem=pem("CERTIFICATE"),
            private_key_pem=None,
        )
        ids.append(cert.id)

    first = store.certificates.search(account.id, page=1, page_size=2)
    second = store.certificates.search(account.id, page=2, page_size=2)
    uploads = store.certificates.search(account.id, origin=CertOrigin.UPLOAD)
    by_domain = store.certificates.search(account.id, keyword="EXAMPLE")
    literal_percent = store.certificates.search(account.id, keyword="%")

    assert [c.id for c in first.items + second.items] == ids[::-1] and first.total == 3
    assert [c.id for c in uploads.items] == [ids[2], ids[0]]
    assert [c.id for c in by_domain.items] == [ids[1], ids[0]]
    assert literal_percent.total == 0
    assert [c.id for c in store.certificates.get_many(account.id, [ids[2], ids[0], 999_999])] == [ids[0], ids[2]]


def test_deleted_certificate_is_gone(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    cert = upload_certificate(store, account.id, private_key_pem=None)

    store.certificates.delete(account.id, cert.id)

    with pytest.raises(NotFound):
        store.certificates.get(account.id, cert.id)
    with pytest.raises(NotFound):
        store.certificates.delete(account.id, cert.id)
