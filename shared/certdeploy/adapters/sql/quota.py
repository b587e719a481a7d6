"""Deployment quota: the ledger keyed by (worker, direction) and the account's BuyCount and UseCount.

Ledger writes lock the account row first (SELECT ... FOR UPDATE; the IMMEDIATE transaction on SQLite), so charges
and credits of one account are serialised; the domain's `Ledger` decides what they add, so the stored UseCount stays
equal to the ledger's net sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, exists, insert, literal, select, update

from certdeploy.adapters.sql.repository import SqlRepository, chunks
from certdeploy.adapters.sql.schema import accounts, quota_ledger, workers
from certdeploy.domain.errors import NotFound, QuotaExceeded, Thing
from certdeploy.domain.quota import Ledger, LedgerDirection, LedgerEntry, LedgerEntryKind, check_entries
from certdeploy.domain.states import WorkerStatus
from certdeploy.ports.store.accounts import QuotaBalance


def _ledger_entry(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(
        account_id=row.account_id,
        job_id=row.job_id,
        worker_id=row.worker_id,
        kind=LedgerEntryKind(row.kind),
        units=row.units,
    )


class SqlQuota(SqlRepository):
    """The `Quota` port."""

    def add(self, account_id: int, units: int) -> QuotaBalance:
        with self._connection(write=True) as conn:
            row = self._lock_account(conn, account_id)
            ledger = Ledger(account_id, row.buy_count, use_count=row.use_count).buy(units)
            conn.execute(update(accounts).where(accounts.c.id == account_id).values(buy_count=ledger.buy_count))
            return QuotaBalance(buy_count=ledger.buy_count, use_count=ledger.use_count)

    def balance(self, account_id: int) -> QuotaBalance:
        with self._connection(write=False) as conn:
            row = conn.execute(select(accounts.c.buy_count, accounts.c.use_count).where(accounts.c.id == account_id))
            account = row.one_or_none()
        if account is None:
            raise NotFound.of(Thing.ACCOUNT, account_id)
        return QuotaBalance(buy_count=account.buy_count, use_count=account.use_count)

    def charge_workers(self, account_id: int, job_id: int, status: WorkerStatus) -> int:
        uncharged = [
            workers.c.account_id == account_id,
            workers.c.job_id == job_id,
            workers.c.status == str(status),
            ~exists().where(
                quota_ledger.c.worker_id == workers.c.id, quota_ledger.c.direction == str(LedgerDirection.DEBIT)
            ),
        ]
        # One debit per worker, as the domain's `charge_entries` would make them; the unique (worker, direction) key
        # and the NOT EXISTS keep a worker from being charged twice.
        rows = select(
            workers.c.account_id,
            workers.c.job_id,
            workers.c.id,
            literal(str(LedgerEntryKind.CHARGE)),
            literal(str(LedgerDirection.DEBIT)),
            literal(1),
            literal(self._now(), quota_ledger.c.created_at.type),
        ).where(*uncharged)
        columns = ["account_id", "job_id", "worker_id", "kind", "direction", "units", "created_at"]
        with self._connection(write=True) as conn:
            account = self._lock_account(conn, account_id)
            ledger = Ledger(account_id, account.buy_count, use_count=account.use_count)
            # Written first and counted by the database as it writes, in a savepoint undone when they do not fit: one
            # pass over the job's workers, not a count and then the same scan again.
            savepoint = conn.begin_nested()
            write = insert(quota_ledger).from_select(columns, rows).execution_options(preserve_rowcount=True)
            cost = conn.execute(write).rowcount
            try:
                ledger.check_fits(cost)
            except QuotaExceeded:
                savepoint.rollback()
                raise
            savepoint.commit()
            if cost:
                conn.execute(
                    update(accounts).where(accounts.c.id == account_id).values(use_count=account.use_count + cost)
                )
            return cost

    def credit(self, account_id: int, entries: Sequence[LedgerEntry]) -> int:
        check_entries(account_id, entries, LedgerDirection.CREDIT)
        with self._connection(write=True) as conn:
            return self._write_ledger(conn, account_id, entries)

    def entries(self, account_id: int, *, job_id: int | None = None) -> list[LedgerEntry]:
        query = select(quota_ledger).where(quota_ledger.c.account_id == account_id)
        if job_id is not None:
            query = query.where(quota_ledger.c.job_id == job_id)
        with self._connection(write=False) as conn:
            return [_ledger_entry(row) for row in conn.execute(query.order_by(quota_ledger.c.id))]

    @staticmethod
    def _ledger(conn: Connection, account: Row[Any], worker_ids: Sequence[int]) -> Ledger:
        """The account's ledger as far as `worker_ids` go: its counts and those workers' entries."""
        known: dict[tuple[int, LedgerDirection], LedgerEntry] = {}
        for chunk in chunks(sorted(set(worker_ids))):
            rows = conn.execute(select(quota_ledger).where(quota_ledger.c.worker_id.in_(chunk)))
            known.update((entry.key, entry) for entry in map(_ledger_entry, rows))
        return Ledger(account.id, account.buy_count, known, use_count=account.use_count)

    def _write_ledger(self, conn: Connection, account_id: int, entries: Sequence[LedgerEntry]) -> int:
        """Let the domain's `Ledger` decide on credit `entries` with the account row locked, then write what it
        added; returns the units given back."""
        account = self._lock_account(conn, account_id)
        before = self._ledger(conn, account, [entry.worker_id for entry in entries])
        after = before.apply_all(entries)
        added = after.added_since(before)
        if added:
            now = self._now()
            rows = [
                {
                    "account_id": entry.account_id,
                    "job_id": entry.job_id,
                    "worker_id": entry.worker_id,
                    "kind": str(entry.kind),
                    "direction": str(entry.direction),
                    "units": entry.units,
                    "created_at": now,
                }
                for entry in added
            ]
            conn.execute(insert(quota_ledger), rows)
            conn.execute(update(accounts).where(accounts.c.id == account_id).values(use_count=after.use_count))
        return abs(after.use_count - before.use_count)
