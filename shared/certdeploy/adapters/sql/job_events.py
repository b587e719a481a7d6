"""The `JobEvents` port: a job's timeline, inserted only, read by id (the order of appending)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, insert, select

from certdeploy.adapters.sql.repository import SqlRepository
from certdeploy.adapters.sql.schema import job_events
from certdeploy.domain.models import Product
from certdeploy.domain.timeline import JobEvent, JobEventType, NewJobEvent
from certdeploy.ports.store.paging import Page


def _event(row: Row[Any]) -> JobEvent:
    return JobEvent(
        id=row.id,
        account_id=row.account_id,
        job_id=row.job_id,
        type=JobEventType(row.event_type),
        detail=row.detail,
        worker_id=row.worker_id,
        product=None if row.product is None else Product(row.product),
        resource_id=row.resource_id,
        error_code=row.error_code,
        error_message=row.error_message,
        time=row.created_at,
    )


class SqlJobEvents(SqlRepository):
    def append(self, events: Sequence[NewJobEvent]) -> None:
        if not events:
            return
        now = self._now()
        rows = [
            {
                "account_id": event.account_id,
                "job_id": event.job_id,
                "event_type": str(event.type),
                "detail": event.detail,
                "worker_id": event.worker_id,
                "product": None if event.product is None else str(event.product),
                "resource_id": event.resource_id,
                "error_code": event.error_code,
                "error_message": event.error_message,
                "created_at": now,
            }
            for event in events
        ]
        with self._connection(write=True) as conn:
            # One executemany (a multi-row INSERT where the driver batches): ids follow the order of the rows on every
            # database, which is the timeline's order.
            conn.execute(insert(job_events), rows)

    def page(self, account_id: int, job_id: int, *, page: int = 1, page_size: int = 50) -> Page[JobEvent]:
        query = select(job_events).where(job_events.c.job_id == job_id, job_events.c.account_id == account_id)
        with self._connection(write=False) as conn:
            total, rows = self._page(conn, query, (job_events.c.id,), page, page_size)
        return Page(items=[_event(row) for row in rows], total=total)
