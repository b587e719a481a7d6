"""A job's staged rollout (the `JobStages` port): one row per job with stages, replaced in place."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import delete, insert, select

from certdeploy.adapters.sql.repository import SqlRepository
from certdeploy.adapters.sql.schema import job_stages
from certdeploy.ports.store.job_stages import StagedJob


class SqlJobStages(SqlRepository):
    def save(self, staged: StagedJob) -> None:
        with self._connection(write=True) as conn:
            conn.execute(delete(job_stages).where(job_stages.c.job_id == staged.job_id))
            conn.execute(insert(job_stages).values(asdict(staged)))

    def get(self, account_id: int, job_id: int) -> StagedJob | None:
        query = select(job_stages).where(job_stages.c.job_id == job_id, job_stages.c.account_id == account_id)
        with self._connection(write=False) as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else StagedJob(**row._asdict())
