"""Contacts; a unique key per account on the lower-cased email and on the mobile. Webhook URLs carry the bots'
access tokens and signing secrets, so they are sealed, under a context naming their account and contact."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult, Executable, Row, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from certdeploy.adapters.sql.crypto import KeyCipher
from certdeploy.adapters.sql.repository import SqlRepository
from certdeploy.adapters.sql.schema import contacts
from certdeploy.domain.errors import NotFound, Thing
from certdeploy.domain.models import Contact
from certdeploy.ports.store.contacts import ContactField, ContactTaken
from certdeploy.ports.store.paging import Page

_CONTACT_WRITE_ATTEMPTS = 3


def webhooks_context(account_id: int, contact_id: int) -> str:
    return f"certdeploy:contact-webhooks:{account_id}:{contact_id}"


def seal_webhooks(cipher: KeyCipher, account_id: int, contact_id: int, webhooks: Sequence[str]) -> bytes | None:
    """The `webhooks_sealed` value of a contact's webhooks (NULL for none)."""
    if not webhooks:
        return None
    return cipher.seal(json.dumps(list(webhooks)), webhooks_context(account_id, contact_id))


def _contact_values(contact: Contact) -> dict[str, Any]:
    """The row of a contact but its id, account and webhooks."""
    return {
        "name": contact.name,
        "email": contact.email,
        "email_lower": None if contact.email is None else contact.email.lower(),
        "mobile": contact.mobile,
    }


def _contact_holding(conn: Connection, contact: Contact) -> ContactTaken | None:
    """Which other contact of the account holds `contact`'s email or mobile, as the error to raise."""
    values = _contact_values(contact)
    others = (contacts.c.account_id == contact.account_id, contacts.c.id != contact.id)
    for field, column in ((ContactField.EMAIL, contacts.c.email_lower), (ContactField.MOBILE, contacts.c.mobile)):
        value = values[column.name]
        if value is None:
            continue
        holder = conn.execute(select(contacts.c.id).where(*others, column == value).limit(1)).scalar()
        if holder is not None:
            return ContactTaken(field, holder)
    return None


class SqlContacts(SqlRepository):
    """The `Contacts` port."""

    def _contact(self, row: Row[Any]) -> Contact:
        sealed = row.webhooks_sealed
        context = webhooks_context(row.account_id, row.id)
        return Contact(
            id=row.id,
            account_id=row.account_id,
            name=row.name,
            email=row.email,
            mobile=row.mobile,
            webhooks=() if sealed is None else tuple(json.loads(self._cipher.open(sealed, context))),
        )

    def _sealed(self, contact: Contact) -> dict[str, bytes | None]:
        return {"webhooks_sealed": seal_webhooks(self._cipher, contact.account_id, contact.id, contact.webhooks)}

    def add(
        self,
        account_id: int,
        *,
        name: str,
        email: str | None = None,
        mobile: str | None = None,
        webhooks: Sequence[str] = (),
    ) -> Contact:
        contact = Contact(id=0, account_id=account_id, name=name, email=email, mobile=mobile, webhooks=tuple(webhooks))
        statement = insert(contacts).values(account_id=account_id, **_contact_values(contact))
        with self._connection(write=True) as conn:
            self._require_account(conn, account_id)
            result = self._write_contact(conn, statement, contact)
            # The sealed webhooks name the row's id, known once it is inserted.
            contact = contact.model_copy(update={"id": result.inserted_primary_key[0]})
            conn.execute(update(contacts).where(contacts.c.id == contact.id).values(**self._sealed(contact)))
        return contact

    def get(self, account_id: int, contact_id: int) -> Contact:
        with self._connection(write=False) as conn:
            row = conn.execute(
                select(contacts).where(contacts.c.id == contact_id, contacts.c.account_id == account_id)
            ).one_or_none()
        if row is None:
            raise NotFound.of(Thing.CONTACT, contact_id)
        return self._contact(row)

    def get_many(self, account_id: int, contact_ids: Collection[int]) -> list[Contact]:
        return [self._contact(row) for row in self._owned_rows(contacts, contacts.c.id, account_id, contact_ids)]

    def update(self, contact: Contact) -> Contact:
        statement = (
            update(contacts)
            .where(contacts.c.id == contact.id, contacts.c.account_id == contact.account_id)
            .values(**_contact_values(contact), **self._sealed(contact))
        )
        with self._connection(write=True) as conn:
            result = self._write_contact(conn, statement, contact)
        if result.rowcount == 0:
            raise NotFound.of(Thing.CONTACT, contact.id)
        return contact

    def delete(self, account_id: int, contact_id: int) -> None:
        with self._connection(write=True) as conn:
            result = conn.execute(
                delete(contacts).where(contacts.c.id == contact_id, contacts.c.account_id == account_id)
            )
        if result.rowcount == 0:
            raise NotFound.of(Thing.CONTACT, contact_id)

    def search(
        self, account_id: int, *, keyword: str | None = None, page: int = 1, page_size: int = 20
    ) -> Page[Contact]:
        query = select(contacts).where(contacts.c.account_id == account_id)
        if keyword:
            query = query.where(
                or_(
                    *(
                        column.icontains(keyword, autoescape=True)
                        for column in (contacts.c.name, contacts.c.email, contacts.c.mobile)
                    )
                )
            )
        with self._connection(write=False) as conn:
            total, rows = self._page(conn, query, [contacts.c.id], page, page_size)
        return Page(items=[self._contact(row) for row in rows], total=total)

    @staticmethod
    def _write_contact(conn: Connection, statement: Executable, contact: Contact) -> CursorResult[Any]:
        """Insert or update a contact; an email or mobile another contact of the account holds raises `ContactTaken`.

        The unique keys decide, so two writers racing for one value cannot both win. At READ COMMITTED the statement
        after the violation sees the holder, which committed first; should the holder have let the value go meanwhile,
        the write is simply tried again.
        """
        for attempt in range(1, _CONTACT_WRITE_ATTEMPTS + 1):
            try:
                with conn.begin_nested():
                    return conn.execute(statement)
            except IntegrityError as exc:
                taken = _contact_holding(conn, contact)
                if taken is not None:
                    raise taken from exc
                if attempt == _CONTACT_WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")
