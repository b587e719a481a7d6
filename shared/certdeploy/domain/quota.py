"""Deployment quota as a ledger keyed by worker.

An account has bought `buy_count` units. Each worker of a job with uploaded certificates is charged one unit when
the job leaves `editing`; official certificates cost nothing. A worker that ends in `error` gets its unit back
(refund); deleting a job that never ran gives back every unit (release); rollback gives nothing back.

Every entry is keyed by (worker, direction): a worker is debited at most once and credited at most once, so a retry,
a duplicate message or a crash replay that applies the same entry again changes nothing. The store enforces the same
key with a unique constraint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field

from certdeploy.domain.errors import QuotaExceeded
from certdeploy.domain.models import CertOrigin
from certdeploy.domain.text_enum import TextEnum


class LedgerEntryKind(TextEnum):
    CHARGE = "charge"
    REFUND = "refund"
    RELEASE = "release"


class LedgerDirection(TextEnum):
    DEBIT = "debit"
    CREDIT = "credit"


_DIRECTION = {
    LedgerEntryKind.CHARGE: LedgerDirection.DEBIT,
    LedgerEntryKind.REFUND: LedgerDirection.CREDIT,
    LedgerEntryKind.RELEASE: LedgerDirection.CREDIT,
}


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    account_id: int
    job_id: int
    worker_id: int
    kind: LedgerEntryKind
    units: int = Field(1, ge=1)

    @property
    def direction(self) -> LedgerDirection:
        return _DIRECTION[self.kind]

    @property
    def key(self) -> tuple[int, LedgerDirection]:
        return (self.worker_id, self.direction)


def job_cost(origin: CertOrigin, worker_count: int) -> int:
    """Units a job charges when it leaves `editing`: one per worker for uploaded certificates, none for official."""
    return 0 if origin.is_official else worker_count


def charge_entries(account_id: int, job_id: int, origin: CertOrigin, worker_ids: Iterable[int]) -> list[LedgerEntry]:
    if origin.is_official:
        return []
    return [
        LedgerEntry(account_id=account_id, job_id=job_id, worker_id=w, kind=LedgerEntryKind.CHARGE) for w in worker_ids
    ]


def refund_entry(account_id: int, job_id: int, worker_id: int) -> LedgerEntry:
    return LedgerEntry(account_id=account_id, job_id=job_id, worker_id=worker_id, kind=LedgerEntryKind.REFUND)


def release_entries(account_id: int, job_id: int, worker_ids: Iterable[int]) -> list[LedgerEntry]:
    return [
        LedgerEntry(account_id=account_id, job_id=job_id, worker_id=w, kind=LedgerEntryKind.RELEASE) for w in worker_ids
    ]


def check_entries(account_id: int, entries: Iterable[LedgerEntry], direction: LedgerDirection) -> None:
    """Refuse entries of another account or direction: a caller's mistake, never a no-op."""
    for entry in entries:
        if entry.account_id != account_id or entry.direction is not direction:
            raise ValueError(f"Expected {direction} entries of account {account_id}, got {entry!r}.")


class Ledger:
    """One account's quota, as much as a change needs: what was bought, what is used, and the entries already applied
    for the workers concerned. Immutable; operations return new ledgers, and the store writes the difference
    (`added_since`) with the account row locked, so this is the one place the quota rule is decided."""

    __slots__ = ("_entries", "account_id", "buy_count", "use_count")

    def __init__(
        self,
        account_id: int,
        buy_count: int,
        entries: Mapping[tuple[int, LedgerDirection], LedgerEntry] | None = None,
        *,
        use_count: int | None = None,
    ) -> None:
        self.account_id = account_id
        self.buy_count = buy_count
        self._entries: Mapping[tuple[int, LedgerDirection], LedgerEntry] = MappingProxyType(dict(entries or {}))
        # Given when `entries` are only those of some workers (the store's UseCount); else their net sum.
        self.use_count = _net_units(self._entries.values()) if use_count is None else use_count

    @property
    def entries(self) -> Mapping[tuple[int, LedgerDirection], LedgerEntry]:
        return self._entries

    @property
    def available(self) -> int:
        return self.buy_count - self.use_count

    def buy(self, units: int) -> Ledger:
        """Add purchased units to BuyCount (negative: take back ones bought); raise `ValueError` if BuyCount would
        go below zero."""
        buy_count = self.buy_count + units
        if buy_count < 0:
            raise ValueError(f"Account {self.account_id} has bought {self.buy_count} units; cannot take {-units} back.")
        return Ledger(self.account_id, buy_count, self._entries, use_count=self.use_count)

    def holds(self, worker_id: int) -> bool:
        """Whether the worker's unit is currently consumed (charged and not given back)."""
        return _holds(self._entries, worker_id)

    def accepts(self, entry: LedgerEntry) -> bool:
        """Whether applying `entry` changes anything: a new debit, or a credit for a unit still held."""
        return _accepts(self.account_id, self._entries, entry)

    def apply(self, entry: LedgerEntry) -> Ledger:
        """Apply one entry; a duplicate, or a credit for a worker never charged, is a no-op."""
        return self.apply_all([entry])

    def charge(self, entries: Iterable[LedgerEntry]) -> Ledger:
        """Apply a job's charges all or nothing; raise `QuotaExceeded` if they do not fit in what was bought."""
        new = {e.key: e for e in entries if self.accepts(e)}
        self.check_fits(sum(e.units for e in new.values()))
        return self.apply_all(new.values())

    def check_fits(self, cost: int) -> None:
        """Raise `QuotaExceeded` unless `cost` more units fit in what was bought (a charge is all or nothing)."""
        if cost > self.available:
            raise QuotaExceeded(
                f"The job needs {cost} deployment quota units but only {max(self.available, 0)} of "
                f"{self.buy_count} are left."
            )

    def apply_all(self, entries: Iterable[LedgerEntry]) -> Ledger:
        """Apply entries one by one (refunds, releases); each that changes nothing is a no-op. One copy of the
        entries for the whole batch: a job's charge is one entry per worker."""
        applied = dict(self._entries)
        use_count = self.use_count
        for entry in entries:
            if _accepts(self.account_id, applied, entry):
                use_count += entry.units if entry.direction is LedgerDirection.DEBIT else -entry.units
                applied[entry.key] = entry
        return Ledger(self.account_id, self.buy_count, applied, use_count=use_count)

    def added_since(self, earlier: Ledger) -> list[LedgerEntry]:
        """The entries this ledger has that `earlier` had not: what to write."""
        return [entry for key, entry in self._entries.items() if key not in earlier.entries]


def _net_units(entries: Iterable[LedgerEntry]) -> int:
    return sum(e.units if e.direction is LedgerDirection.DEBIT else -e.units for e in entries)


def _holds(entries: Mapping[tuple[int, LedgerDirection], LedgerEntry], worker_id: int) -> bool:
    return (worker_id, LedgerDirection.DEBIT) in entries and (worker_id, LedgerDirection.CREDIT) not in entries


def _accepts(account_id: int, entries: Mapping[tuple[int, LedgerDirection], LedgerEntry], entry: LedgerEntry) -> bool:
    if entry.account_id != account_id or entry.key in entries:
        return False
    if entry.direction is LedgerDirection.CREDIT:
        return _holds(entries, entry.worker_id)
    return True
