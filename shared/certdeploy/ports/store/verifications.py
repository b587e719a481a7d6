"""Verification results per worker and the mismatch option per job (docs/verification.md)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from certdeploy.domain.verification import Verification, VerifyMismatch


class Verifications(Protocol):
    def set_mismatch_policy(self, account_id: int, job_id: int, policy: VerifyMismatch) -> None:
        """Record the job's `VerifyMismatch` option."""
        ...

    def mismatch_policy(self, account_id: int, job_id: int) -> VerifyMismatch:
        """The job's option; `report` when none was given."""
        ...

    def record(self, verification: Verification) -> None:
        """Store the worker's verification as it stands now (replacing the previous one)."""
        ...

    def of_workers(self, account_id: int, worker_ids: Collection[int]) -> dict[int, Verification]:
        """The verifications of those workers that have one."""
        ...
