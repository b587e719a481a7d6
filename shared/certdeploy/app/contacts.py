"""Contacts: the people and group bots a job's report goes to (CreateContact, UpdateContact, DeleteContact,
ListContact).

Rules (CAS CreateContact and the "manage contacts" user guide, docs/protocol.md#contacts): a contact has a name and a
mobile number, optionally an email address and group-bot webhooks; email (in any case) and mobile are each unique in the
account. Format errors are `IncorrectFormat.<Field>`, duplicates `AlreadyExists.<Field>`, as CAS names them. The
store's unique keys decide duplicates, so of two requests racing for one address exactly one wins. A webhook is
refused unless the notifier would call it (the caller passes that check in, so the rule lives with the notifier).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from certdeploy.app.deps import Deps
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.domain.errors import DomainError
from certdeploy.domain.models import Contact
from certdeploy.ports.store.contacts import ContactTaken

MAX_NAME_LENGTH = 64
MAX_EMAIL_LENGTH = 254
MAX_WEBHOOKS = 10
MAX_WEBHOOK_LENGTH = 1024
# Digits with an optional leading `+` country prefix: mainland numbers have 11 digits, E.164 allows up to 15.
_MOBILE = re.compile(r"\+?[0-9]{5,15}")
# One `@`, no spaces, a dot in the domain: what an SMTP server can be asked to deliver to.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")

# Returns why a webhook URL is refused, or None when the notifier would call it.
WebhookCheck = Callable[[str], str | None]


class ContactDraft(BaseModel):
    """CreateContact."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str
    mobile: str
    email: str | None = None
    webhooks: tuple[str, ...] = ()


class ContactChanges(BaseModel):
    """UpdateContact: only what is given changes; an empty email or webhook list clears it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str | None = None
    mobile: str | None = None
    email: str | None = None
    webhooks: tuple[str, ...] | None = None


def _incorrect(field: str, message: str) -> DomainError:
    return DomainError(message, code=f"IncorrectFormat.{field}")


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise _incorrect("Name", f"Name must be 1 to {MAX_NAME_LENGTH} characters long.")
    return name


def _checked_mobile(mobile: str) -> str:
    mobile = mobile.strip()
    if _MOBILE.fullmatch(mobile) is None:
        raise _incorrect("Mobile", "Mobile must be 5 to 15 digits, optionally after a leading '+'.")
    return mobile


def _checked_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    email = email.strip()
    if len(email) > MAX_EMAIL_LENGTH or _EMAIL.fullmatch(email) is None:
        raise _incorrect("Email", f"Email {email!r} is not an email address.")
    return email


def _checked_webhooks(webhooks: Sequence[str], check: WebhookCheck) -> tuple[str, ...]:
    urls = tuple(dict.fromkeys(url.strip() for url in webhooks if url.strip()))
    if len(urls) > MAX_WEBHOOKS:
        raise DomainError(
            f"A contact has at most {MAX_WEBHOOKS} webhooks, not {len(urls)}.", code="LimitExceeded.Webhooks"
        )
    for url in urls:
        refusal = "it is too long" if len(url) > MAX_WEBHOOK_LENGTH else check(url)
        if refusal is not None:
            raise _incorrect("Webhooks", f"Webhook {url[:100]!r} cannot be used: {refusal}.")
    return urls


def _already_exists(taken: ContactTaken) -> DomainError:
    return DomainError(
        f"A contact with the same {taken.field.value.lower()} already exists (contact {taken.holder_id}).",
        code=f"AlreadyExists.{taken.field.value}",
    )


def create_contact(deps: Deps, account_id: int, draft: ContactDraft, check_webhook: WebhookCheck) -> Contact:
    candidate = Contact(
        id=0,
        account_id=account_id,
        name=_checked_name(draft.name),
        mobile=_checked_mobile(draft.mobile),
        email=_checked_email(draft.email),
        webhooks=_checked_webhooks(draft.webhooks, check_webhook),
    )

    try:
        return deps.store.contacts.add(
            account_id,
            name=candidate.name,
            email=candidate.email,
            mobile=candidate.mobile,
            webhooks=candidate.webhooks,
        )
    except ContactTaken as taken:
        raise _already_exists(taken) from taken


def update_contact(
    deps: Deps, account_id: int, contact_id: int, changes: ContactChanges, check_webhook: WebhookCheck
) -> Contact:
    name = None if changes.name is None else _checked_name(changes.name)
    mobile = None if changes.mobile is None else _checked_mobile(changes.mobile)
    webhooks = None if changes.webhooks is None else _checked_webhooks(changes.webhooks, check_webhook)
    email_given = changes.email is not None
    email = _checked_email(changes.email)

    def step(unit: Step) -> Contact:
        current = unit.ops.contacts.get(account_id, contact_id)
        updated = current.model_copy(
            update={
                "name": name if name is not None else current.name,
                "mobile": mobile if mobile is not None else current.mobile,
                "email": email if email_given else current.email,
                "webhooks": webhooks if webhooks is not None else current.webhooks,
            }
        )
        return unit.ops.contacts.update(updated)

    try:
        return run_step(deps, step)
    except ContactTaken as taken:
        raise _already_exists(taken) from taken


def delete_contact(deps: Deps, account_id: int, contact_id: int) -> None:
    """Jobs that named the contact keep their other contacts; reports simply no longer reach this one."""
    deps.store.contacts.delete(account_id, contact_id)
