"""Contacts of an account, each email (in any case) and mobile held by one contact."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from certdeploy.domain.models import Contact
from certdeploy.domain.text_enum import TextEnum
from certdeploy.ports.store.errors import AlreadyExists
from certdeploy.ports.store.paging import Page


class ContactField(TextEnum):
    """The contact fields unique in an account, named as the CAS parameters."""

    EMAIL = "Email"
    MOBILE = "Mobile"


class ContactTaken(AlreadyExists):
    """Another contact of the account holds this email (compared case-insensitively) or this mobile number."""

    def __init__(self, field: ContactField, holder_id: int) -> None:
        super().__init__(f"Contact {holder_id} has the same {field.value.lower()}.")
        self.field = field
        self.holder_id = holder_id


class Contacts(Protocol):
    def add(
        self,
        account_id: int,
        *,
        name: str,
        email: str | None = None,
        mobile: str | None = None,
        webhooks: Sequence[str] = (),
    ) -> Contact:
        """Raises `ContactTaken` if another contact of the account has the email (any case) or the mobile."""
        ...

    def get(self, account_id: int, contact_id: int) -> Contact: ...

    def get_many(self, account_id: int, contact_ids: Collection[int]) -> list[Contact]:
        """By id; ids the account does not own are absent."""
        ...

    def update(self, contact: Contact) -> Contact:
        """Overwrite name, email, mobile and webhooks of `contact` (looked up by its id and account_id).
        Raises `ContactTaken` as `add` does."""
        ...

    def delete(self, account_id: int, contact_id: int) -> None: ...

    def search(
        self, account_id: int, *, keyword: str | None = None, page: int = 1, page_size: int = 20
    ) -> Page[Contact]:
        """By id. `keyword` matches name, email or mobile, case-insensitively."""
        ...
