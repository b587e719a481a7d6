"""Verification results and the job's mismatch option (the `Verifications` port): one row each, replaced in place."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, Row, Table, select, update

from certdeploy.adapters.sql.repository import SqlRepository, chunks
from certdeploy.adapters.sql.schema import job_verify_policies, worker_verifications
from certdeploy.domain.verification import ServedCertificate, Verification, VerifyMismatch, VerifyStatus


def _verification(row: Row[Any]) -> Verification:
    served = (
        ServedCertificate(
            fingerprint_sha256=row.served_fingerprint, subject=row.served_subject, not_after=row.served_not_after
        )
        if row.served_fingerprint is not None
        else None
    )
    return Verification(
        worker_id=row.worker_id,
        job_id=row.job_id,
        account_id=row.account_id,
        status=VerifyStatus(row.status),
        checks=row.checks,
        server_name=row.server_name,
        detail=row.detail,
        served=served,
        checked_at=row.checked_at,
    )


class SqlVerifications(SqlRepository):
    def _upsert(self, conn: Connection, table: Table, key: str, values: dict[str, Any]) -> None:
        """Update the row of `values[key]`, or insert it: portable across the three databases (MySQL counts an
        update that changes nothing as no row, so an insert is tried and, the key existing, the update made again)."""
        changed = conn.execute(update(table).where(table.c[key] == values[key]).values(values)).rowcount
        if changed == 0 and not self._insert_if_absent(conn, table.insert().values(values)):
            conn.execute(update(table).where(table.c[key] == values[key]).values(values))

    def set_mismatch_policy(self, account_id: int, job_id: int, policy: VerifyMismatch) -> None:
        with self._connection(write=True) as conn:
            values = {"job_id": job_id, "account_id": account_id, "mismatch": str(policy)}
            self._upsert(conn, job_verify_policies, "job_id", values)

    def mismatch_policy(self, account_id: int, job_id: int) -> VerifyMismatch:
        with self._connection(write=False) as conn:
            found = conn.execute(
                select(job_verify_policies.c.mismatch).where(
                    job_verify_policies.c.job_id == job_id, job_verify_policies.c.account_id == account_id
                )
            ).scalar_one_or_none()
        return VerifyMismatch(found) if found is not None else VerifyMismatch.REPORT

    def record(self, verification: Verification) -> None:
        served = verification.served
        values = {
            "worker_id": verification.worker_id,
            "job_id": verification.job_id,
            "account_id": verification.account_id,
            "status": str(verification.status),
            "checks": verification.checks,
            "server_name": verification.server_name,
            "detail": verification.detail,
            "served_fingerprint": served.fingerprint_sha256 if served else None,
            "served_subject": served.subject if served else None,
            "served_not_after": served.not_after if served else None,
            "checked_at": verification.checked_at,
        }
        with self._connection(write=True) as conn:
            self._upsert(conn, worker_verifications, "worker_id", values)

    def of_workers(self, account_id: int, worker_ids: Collection[int]) -> dict[int, Verification]:
        found: dict[int, Verification] = {}
        with self._connection(write=False) as conn:
            for chunk in chunks(sorted(set(worker_ids))):
                rows = conn.execute(
                    select(worker_verifications).where(
                        worker_verifications.c.account_id == account_id, worker_verifications.c.worker_id.in_(chunk)
                    )
                )
                found.update((row.worker_id, _verification(row)) for row in rows)
        return found
