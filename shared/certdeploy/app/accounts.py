"""Accounts and their AccessKeys (admin commands): every AccessKey belongs to one account."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field

from certdeploy.domain.errors import DomainError
from certdeploy.ports.store.accounts import Account
from certdeploy.ports.store.errors import AlreadyExists
from certdeploy.ports.store.unit_of_work import Store

DEFAULT_ACCOUNT = "default"
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Credentials:
    account: Account
    access_key_id: str
    access_key_secret: str = field(repr=False)


def new_access_key() -> tuple[str, str]:
    """An AccessKey pair shaped like Alibaba Cloud's (`LTAI` + 20 characters, a 30-character secret)."""
    key_id = "LTAI" + "".join(secrets.choice(_ALPHABET) for _ in range(20))
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(30))
    return key_id, secret


def create_account(
    store: Store, name: str, *, quota: int = 0, access_key: tuple[str, str] | None = None
) -> Credentials:
    """A new account with its first AccessKey (generated unless given)."""
    key_id, secret = access_key or new_access_key()
    with store.transaction() as ops:
        try:
            account = ops.accounts.create(name, buy_count=quota)
        except AlreadyExists as exc:
            raise DomainError(f"An account named '{name}' already exists.", code="AlreadyExists.Account") from exc
        ops.accounts.add_access_key(account.id, key_id, secret)
    return Credentials(account, key_id, secret)


def ensure_default_account(store: Store, access_key: tuple[str, str] | None) -> Credentials | None:
    """On first start (no account yet) create `default`; returns its credentials then, None afterwards."""
    if store.accounts.all():
        return None
    return create_account(store, DEFAULT_ACCOUNT, access_key=access_key)
