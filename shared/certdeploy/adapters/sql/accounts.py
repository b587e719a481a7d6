"""Accounts and their access keys (the secret stored encrypted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select, update

from certdeploy.adapters.sql.repository import SqlRepository
from certdeploy.adapters.sql.schema import access_keys, accounts
from certdeploy.domain.errors import NotFound, Thing
from certdeploy.ports.store.accounts import AccessKey, Account


def _access_key_context(access_key_id: str) -> str:
    return f"certdeploy:access-key:{access_key_id}"


def _account(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        buy_count=row.buy_count,
        use_count=row.use_count,
        hosting=row.hosting,
        created_at=row.created_at,
    )


class SqlAccounts(SqlRepository):
    """The `Accounts` port."""

    def create(self, name: str, *, buy_count: int = 0, hosting: bool = False) -> Account:
        if buy_count < 0:
            raise ValueError("buy_count cannot be negative.")
        values = {"name": name, "buy_count": buy_count, "use_count": 0, "hosting": hosting, "created_at": self._now()}
        with self._connection(write=True) as conn:
            result = self._insert_unique(conn, insert(accounts).values(values), f"An account named '{name}' exists.")
            return Account(id=result.inserted_primary_key[0], **values)

    def get(self, account_id: int) -> Account:
        with self._connection(write=False) as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).one_or_none()
        if row is None:
            raise NotFound.of(Thing.ACCOUNT, account_id)
        return _account(row)

    def find(self, name: str) -> Account:
        with self._connection(write=False) as conn:
            row = conn.execute(select(accounts).where(accounts.c.name == name)).one_or_none()
        if row is None:
            raise NotFound(Thing.ACCOUNT, f"There is no account named '{name}'.")
        return _account(row)

    def all(self) -> list[Account]:
        with self._connection(write=False) as conn:
            return [_account(row) for row in conn.execute(select(accounts).order_by(accounts.c.id))]

    def set_hosting(self, account_id: int, enabled: bool) -> Account:
        with self._connection(write=True) as conn:
            conn.execute(update(accounts).where(accounts.c.id == account_id).values(hosting=enabled))
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).one_or_none()
        if row is None:
            raise NotFound.of(Thing.ACCOUNT, account_id)
        return _account(row)

    def add_access_key(self, account_id: int, access_key_id: str, secret: str) -> AccessKey:
        sealed = self._cipher.seal(secret, _access_key_context(access_key_id))
        with self._connection(write=True) as conn:
            self._require_account(conn, account_id)
            statement = insert(access_keys).values(
                account_id=account_id, access_key_id=access_key_id, secret_sealed=sealed, created_at=self._now()
            )
            self._insert_unique(conn, statement, f"AccessKeyId '{access_key_id}' is taken.")
        return AccessKey(access_key_id=access_key_id, account_id=account_id, secret=secret)

    def find_access_key(self, access_key_id: str) -> AccessKey:
        with self._connection(write=False) as conn:
            row = conn.execute(
                select(access_keys.c.account_id, access_keys.c.secret_sealed).where(
                    access_keys.c.access_key_id == access_key_id
                )
            ).one_or_none()
        if row is None:
            raise NotFound(Thing.ACCOUNT, f"AccessKeyId '{access_key_id}' does not exist.")
        secret = self._cipher.open(row.secret_sealed, _access_key_context(access_key_id))
        return AccessKey(access_key_id=access_key_id, account_id=row.account_id, secret=secret)
