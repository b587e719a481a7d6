"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`):
Contacts, each email and mobile held by one contact of an account.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, select, update

from certdeploy.adapters.sql import SqlStore
from certdeploy.adapters.sql.schema import contacts
from certdeploy.domain.models import Contact
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.ports.store.contacts import ContactField, ContactTaken
from certdeploy.ports.store.errors import KeyDecryptionFailed
from tests.contract.store_fixtures import (
    race,
)

J, W = JobStatus, WorkerStatus


def test_contacts_crud_and_keyword_search(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    alice = store.contacts.add(account.id, name="Alice", email="alice@example.com", webhooks=["https://hook/1"])
    bob = store.contacts.add(account.id, name="Bob", mobile="13800000000")

    updated = store.contacts.update(alice.model_copy(update={"email": "a@example.org", "webhooks": ()}))

    assert (
        store.contacts.get(account.id, alice.id)
        == updated
        == Contact(id=alice.id, account_id=account.id, name="Alice", email="a@example.org")
    )
    assert [c.id for c in store.contacts.search(account.id, keyword="1380").items] == [bob.id]
    assert [c.id for c in store.contacts.search(account.id, keyword="ALI").items] == [alice.id]
    assert [c.id for c in store.contacts.get_many(account.id, [bob.id, alice.id])] == [alice.id, bob.id]
    store.contacts.delete(account.id, bob.id)
    assert store.contacts.search(account.id).total == 1


def test_a_contact_email_in_any_case_and_a_mobile_belong_to_one_contact_of_an_account(store: SqlStore) -> None:
    account, other = store.accounts.create("acme"), store.accounts.create("other")
    ops = store.contacts.add(account.id, name="Ops", email="Ops@Example.com", mobile="13800000001")
    dev = store.contacts.add(account.id, name="Dev", mobile="13800000002")

    with pytest.raises(ContactTaken) as same_email:
        store.contacts.add(account.id, name="X", email="ops@example.COM", mobile="13800000003")
    with pytest.raises(ContactTaken) as same_mobile:
        store.contacts.update(dev.model_copy(update={"mobile": "13800000001"}))
    with store.transaction() as unit:
        with pytest.raises(ContactTaken):
            unit.contacts.add(account.id, name="Y", mobile="13800000002")
        # The refused write leaves the transaction usable.
        kept = unit.contacts.add(account.id, name="Z", mobile="13800000004")

    assert (same_email.value.field, same_email.value.holder_id) == (ContactField.EMAIL, ops.id)
    assert (same_mobile.value.field, same_mobile.value.holder_id) == (ContactField.MOBILE, ops.id)
    assert store.contacts.update(ops.model_copy(update={"email": "OPS@example.com"})).email == "OPS@example.com"
    assert store.contacts.add(other.id, name="Ops", email="ops@example.com", mobile="13800000001").id > 0
    assert store.contacts.add(account.id, name="No address").email is None
    assert store.contacts.add(account.id, name="No address either").mobile is None
    assert [c.id for c in store.contacts.search(account.id).items][:3] == [ops.id, dev.id, kept.id]
    assert store.contacts.get(account.id, dev.id).mobile == "13800000002"


@pytest.mark.parametrize("field", list(ContactField))
def test_contact_writes_racing_for_one_email_or_mobile_leave_exactly_one_winner(
    store: SqlStore, field: ContactField
) -> None:
    account = store.accounts.create("acme")
    racers = 4
    if field is ContactField.EMAIL:
        emails, mobiles = ["a@example.com", "A@Example.com"] * 2, [f"1380000000{i}" for i in range(racers)]
    else:
        emails, mobiles = [f"c{i}@example.com" for i in range(racers)], ["13800000009"] * racers
    # Half the racers create a contact, half move an existing one onto the value.
    movers = [store.contacts.add(account.id, name=f"mover{i}", mobile=f"1390000000{i}") for i in range(racers)]

    def write(i: int) -> Contact:
        if i % 2:
            return store.contacts.update(movers[i].model_copy(update={"email": emails[i], "mobile": mobiles[i]}))
        return store.contacts.add(account.id, name=f"c{i}", email=emails[i], mobile=mobiles[i])

    results = race(racers, write)

    [winner] = [result for result in results if isinstance(result, Contact)]
    losers = [result for result in results if not isinstance(result, Contact)]
    assert [(type(loser), loser.field, loser.holder_id) for loser in losers] == [(ContactTaken, field, winner.id)] * (
        racers - 1
    )
    held = [c for c in store.contacts.search(account.id, page_size=50).items if c.id == winner.id]
    assert held == [winner]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_contact_write_is_tried_again_when_the_holder_lets_the_value_go_before_it_is_named(
    store: SqlStore, database: Engine
) -> None:
    account = store.accounts.create("acme")
    holder = store.contacts.add(account.id, name="Holder", mobile="13800000001")
    released: list[bool] = []

    def let_go(context: Any) -> None:
        if not released and "contacts" in str(context.statement):
            released.append(True)
            with database.begin() as conn:
                conn.execute(update(contacts).where(contacts.c.id == holder.id).values(mobile=None))

    event.listen(database, "handle_error", let_go)
    try:
        taker = store.contacts.add(account.id, name="Taker", mobile="13800000001")
    finally:
        event.remove(database, "handle_error", let_go)

    assert released == [True]
    assert store.contacts.get(account.id, taker.id).mobile == "13800000001"
    assert store.contacts.get(account.id, holder.id).mobile is None


TOKEN = "0123456789abcdefTOKEN"
SIGNING_SECRET = "SECabcdefSIGNINGSECRET"
DINGTALK = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"


def _raw_contact_rows(store: SqlStore) -> list[str]:
    """Every contact row as the database holds it, each value as text (bytes decoded as Latin-1)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(contacts)).all()
    return [repr([v.decode("latin-1") if isinstance(v, bytes) else v for v in row]) for row in rows]


def test_webhook_tokens_and_secrets_are_sealed_at_rest(store: SqlStore) -> None:
    # GIVEN contacts whose bot webhooks carry an access token and a signing secret
    account = store.accounts.create("acme")
    alice = store.contacts.add(account.id, name="Alice", webhooks=[DINGTALK, f"{DINGTALK}&secret={SIGNING_SECRET}"])
    bob = store.contacts.add(account.id, name="Bob", email="bob@example.com")
    bob = store.contacts.update(bob.model_copy(update={"webhooks": (f"{DINGTALK}&secret={SIGNING_SECRET}",)}))

    # WHEN the database's rows are read as they are stored
    rows = _raw_contact_rows(store)

    # THEN neither token nor secret is there in clear, and the store still gives the webhooks back to their owner
    assert len(rows) == 2 and not any(TOKEN in row or SIGNING_SECRET in row for row in rows), rows
    assert store.contacts.get(account.id, alice.id).webhooks == alice.webhooks
    assert [c.webhooks for c in store.contacts.get_many(account.id, [alice.id, bob.id])] == [
        alice.webhooks,
        bob.webhooks,
    ]
    assert store.contacts.search(account.id, keyword="bob").items == [bob]


def test_sealed_webhooks_cannot_be_moved_to_another_contact(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    alice = store.contacts.add(account.id, name="Alice", webhooks=[DINGTALK])
    bob = store.contacts.add(account.id, name="Bob", webhooks=["https://oapi.dingtalk.com/robot/send?access_token=b"])
    with store.engine.begin() as conn:
        sealed = conn.execute(select(contacts.c.webhooks_sealed).where(contacts.c.id == alice.id)).scalar_one()
        conn.execute(update(contacts).where(contacts.c.id == bob.id).values(webhooks_sealed=sealed))

    with pytest.raises(KeyDecryptionFailed):
        store.contacts.get(account.id, bob.id)
