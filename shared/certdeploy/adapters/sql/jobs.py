"""Jobs: status moves and edits applied only at the expected status and version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Text, bindparam, delete, func, insert, or_, select, type_coerce, update

from certdeploy.adapters.sql import job_counters
from certdeploy.adapters.sql.repository import SqlRepository
from certdeploy.adapters.sql.schema import job_events, job_stages, jobs, workers
from certdeploy.domain.errors import NotFound, Thing
from certdeploy.domain.models import CertOrigin, Job, JobSummary, JobType
from certdeploy.domain.states import JobMove, JobStatus
from certdeploy.ports.store.errors import StaleState
from certdeploy.ports.store.jobs import DescribedJob, JobState
from certdeploy.ports.store.paging import Page


def _job_fields(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "name": row.name,
        "job_type": JobType(row.job_type),
        "status": JobStatus(row.status),
        "cert_origin": CertOrigin(row.cert_origin),
        "cert_ids": tuple(row.cert_ids),
        "contact_ids": tuple(row.contact_ids),
        "schedule_time": row.schedule_time,
        "start_time": row.start_time,
        "end_time": row.end_time,
        "created_at": row.created_at,
        "modified_at": row.modified_at,
        "rolled_back": row.rolled_back,
        "version": row.version,
        "window_wait_until": row.window_wait_until,
    }


def _job(row: Row[Any]) -> Job:
    return Job(**_job_fields(row), resource_ids=tuple(row.resource_ids))


# Every column but the resource list, which is as long as the job: what a listing reads.
_SUMMARY_COLUMNS = [column for column in jobs.c if column.key != "resource_ids"]
# A job with its resource list read as the text it is stored as (schema.JsonList writes it compact), built once: a
# select of twenty columns costs more to build than to run.
_DESCRIBE = select(*_SUMMARY_COLUMNS, type_coerce(jobs.c.resource_ids, Text).label("resource_ids_json")).where(
    jobs.c.id == bindparam("job_id"), jobs.c.account_id == bindparam("account_id")
)


class SqlJobs(SqlRepository):
    """The `Jobs` port."""

    def create(
        self,
        account_id: int,
        *,
        name: str,
        cert_origin: CertOrigin,
        cert_ids: Sequence[int],
        resource_ids: Sequence[int] = (),
        contact_ids: Sequence[int] = (),
        job_type: JobType = JobType.USER,
        schedule_time: datetime | None = None,
    ) -> Job:
        now = self._now()
        job = Job(
            id=0,
            account_id=account_id,
            name=name,
            job_type=job_type,
            cert_origin=cert_origin,
            cert_ids=tuple(cert_ids),
            resource_ids=tuple(resource_ids),
            contact_ids=tuple(contact_ids),
            schedule_time=schedule_time,
            created_at=now,
            modified_at=now,
        )
        with self._connection(write=True) as conn:
            self._require_account(conn, account_id)
            values = {**job.model_dump(exclude={"id"}), "job_type": str(job_type), "status": str(job.status)}
            values["cert_origin"] = str(cert_origin)
            result = conn.execute(insert(jobs).values(values))
            row = conn.execute(select(jobs).where(jobs.c.id == result.inserted_primary_key[0])).one()
        return _job(row)

    def get(self, account_id: int, job_id: int) -> Job:
        with self._connection(write=False) as conn:
            return _job(self._job_row(conn, account_id, job_id))

    def describe(self, account_id: int, job_id: int) -> DescribedJob:
        with self._connection(write=False) as conn:
            row = conn.execute(_DESCRIBE, {"job_id": job_id, "account_id": account_id}).one_or_none()
        if row is None:
            raise NotFound.of(Thing.JOB, job_id)
        return DescribedJob(JobSummary(**_job_fields(row)), row.resource_ids_json)

    def search(
        self,
        account_id: int,
        *,
        status: JobStatus | None = None,
        job_type: JobType | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> Page[JobSummary]:
        query = select(*_SUMMARY_COLUMNS).where(jobs.c.account_id == account_id)
        if status is not None:
            query = query.where(jobs.c.status == str(status))
        if job_type is not None:
            query = query.where(jobs.c.job_type == str(job_type))
        with self._connection(write=False) as conn:
            total, rows = self._page(conn, query, [jobs.c.id.desc()], page, page_size)
        return Page(items=[JobSummary(**_job_fields(row)) for row in rows], total=total)

    def update(self, job: Job) -> Job:
        with self._connection(write=True) as conn:
            result = conn.execute(
                update(jobs)
                .where(
                    jobs.c.id == job.id,
                    jobs.c.account_id == job.account_id,
                    jobs.c.status == str(JobStatus.EDITING),
                    jobs.c.version == job.version,
                )
                .values(
                    name=job.name,
                    job_type=str(job.job_type),
                    cert_origin=str(job.cert_origin),
                    cert_ids=list(job.cert_ids),
                    resource_ids=list(job.resource_ids),
                    contact_ids=list(job.contact_ids),
                    schedule_time=job.schedule_time,
                    version=jobs.c.version + 1,
                    modified_at=self._now(),
                )
            )
            if result.rowcount == 0:
                raise self._stale(conn, jobs, Thing.JOB, job.id, job.account_id)
            return _job(self._job_row(conn, job.account_id, job.id))

    def transition(
        self,
        account_id: int,
        job_id: int,
        move: JobMove,
        *,
        expected_version: int | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        rolled_back: bool | None = None,
    ) -> Job:
        changes: dict[str, Any] = {
            "status": str(move.to),
            "version": jobs.c.version + 1,
            "modified_at": self._now(),
            "window_wait_until": None,
        }
        optional = {"start_time": start_time, "end_time": end_time, "rolled_back": rolled_back}
        changes.update({column: value for column, value in optional.items() if value is not None})
        if move.to is JobStatus.SCHEDULING:
            changes["end_time"] = None
        conditions = [jobs.c.id == job_id, jobs.c.account_id == account_id, jobs.c.status == str(move.expected)]
        if expected_version is not None:
            conditions.append(jobs.c.version == expected_version)
        with self._connection(write=True) as conn:
            result = conn.execute(update(jobs).where(*conditions).values(changes))
            if result.rowcount == 0:
                raise self._stale(conn, jobs, Thing.JOB, job_id, account_id)
            return _job(self._job_row(conn, account_id, job_id))

    def delete(self, account_id: int, job_id: int, *, expected_version: int | None = None) -> Job:
        with self._connection(write=True) as conn:
            row = self._job_row(conn, account_id, job_id, for_update=True)
            if expected_version is not None and row.version != expected_version:
                raise StaleState("job", job_id, row.status, row.version)
            conn.execute(delete(job_events).where(job_events.c.job_id == job_id))
            conn.execute(delete(workers).where(workers.c.job_id == job_id))
            conn.execute(delete(job_stages).where(job_stages.c.job_id == job_id))
            conn.execute(delete(jobs).where(jobs.c.id == job_id))
        return _job(row)

    def lock(self, account_id: int, job_id: int) -> Job:
        with self._connection(write=True) as conn:
            return _job(self._job_row(conn, account_id, job_id, for_update=True))

    def lock_state(self, account_id: int, job_id: int) -> JobState:
        query = select(jobs.c.id, jobs.c.account_id, jobs.c.status, jobs.c.version).where(
            jobs.c.id == job_id, jobs.c.account_id == account_id
        )
        with self._connection(write=True) as conn:
            row = conn.execute(job_counters.for_job_update(query)).one_or_none()
        if row is None:
            raise NotFound.of(Thing.JOB, job_id)
        return JobState(id=row.id, account_id=row.account_id, status=JobStatus(row.status), version=row.version)

    def wait_for_window(self, account_id: int, job_id: int, until: datetime, *, expected_version: int) -> Job:
        conditions = [jobs.c.id == job_id, jobs.c.account_id == account_id, jobs.c.version == expected_version]
        changes = {"window_wait_until": until, "version": jobs.c.version + 1, "modified_at": self._now()}
        with self._connection(write=True) as conn:
            if conn.execute(update(jobs).where(*conditions).values(changes)).rowcount == 0:
                raise self._stale(conn, jobs, Thing.JOB, job_id, account_id)
            return _job(self._job_row(conn, account_id, job_id))

    def end_window_waits(self, account_id: int) -> int:
        conditions = [
            jobs.c.account_id == account_id,
            jobs.c.status == str(JobStatus.PENDING),
            jobs.c.window_wait_until.is_not(None),
        ]
        changes = {"window_wait_until": None, "version": jobs.c.version + 1, "modified_at": self._now()}
        with self._connection(write=True) as conn:
            return conn.execute(update(jobs).where(*conditions).values(changes)).rowcount

    def due(self, now: datetime, limit: int = 100) -> list[Job]:
        query = (
            select(jobs)
            .where(
                jobs.c.status == str(JobStatus.PENDING),
                or_(jobs.c.schedule_time.is_(None), jobs.c.schedule_time <= now),
                or_(jobs.c.window_wait_until.is_(None), jobs.c.window_wait_until <= now),
            )
            .order_by(func.coalesce(jobs.c.schedule_time, jobs.c.created_at), jobs.c.id)
            .limit(limit)
        )
        with self._connection(write=False) as conn:
            return [_job(row) for row in conn.execute(query)]
