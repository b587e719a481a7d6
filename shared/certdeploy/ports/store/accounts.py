"""Accounts, their access keys, and their deployment quota (BuyCount, UseCount and the ledger keyed by
(worker, direction))."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from certdeploy.domain.quota import LedgerEntry
from certdeploy.domain.states import WorkerStatus


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    buy_count: int
    use_count: int
    hosting: bool
    created_at: datetime


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    account_id: int
    secret: str = field(repr=False)


@dataclass(frozen=True)
class QuotaBalance:
    """CAS `BuyCount` and `UseCount`; `use_count` always equals the net sum of the account's ledger."""

    buy_count: int
    use_count: int

    @property
    def available(self) -> int:
        return self.buy_count - self.use_count


class Accounts(Protocol):
    def create(self, name: str, *, buy_count: int = 0, hosting: bool = False) -> Account:
        """Raises `AlreadyExists` if the name is taken."""
        ...

    def get(self, account_id: int) -> Account: ...

    def find(self, name: str) -> Account:
        """The account of that name. Raises `NotFound`."""
        ...

    def all(self) -> list[Account]:
        """Every account, by id (the scheduler refreshes each one's resources)."""
        ...

    def set_hosting(self, account_id: int, enabled: bool) -> Account: ...

    def add_access_key(self, account_id: int, access_key_id: str, secret: str) -> AccessKey:
        """The secret is stored encrypted. Raises `AlreadyExists` if the AccessKeyId is taken."""
        ...

    def find_access_key(self, access_key_id: str) -> AccessKey:
        """The key and its decrypted secret, to verify a request signature. Raises `NotFound`."""
        ...


class Quota(Protocol):
    def add(self, account_id: int, units: int) -> QuotaBalance:
        """Add purchased units to BuyCount (negative to take back unused ones; BuyCount never goes below 0)."""
        ...

    def balance(self, account_id: int) -> QuotaBalance: ...

    def charge_workers(self, account_id: int, job_id: int, status: WorkerStatus) -> int:
        """Charge one unit per worker of the job in `status` not charged yet, all or nothing, as the domain's
        `Ledger.charge` would decide, written by the database in one statement whatever the job's size; returns the
        units charged now. Raises `QuotaExceeded` (nothing applied) when they do not fit; concurrent charges of one
        account are serialised (its row is locked), so quota is never oversold."""
        ...

    def credit(self, account_id: int, entries: Sequence[LedgerEntry]) -> int:
        """Apply refund/release entries as `Ledger.apply_all` decides (a worker never charged, or already credited,
        gets nothing); returns the units given back."""
        ...

    def entries(self, account_id: int, *, job_id: int | None = None) -> list[LedgerEntry]: ...
