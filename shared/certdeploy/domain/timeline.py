"""A job's timeline: what happened to it and its workers, in order, never rewritten (docs/decisions.md#timeline).

Each event is written in the same transaction as the state change it tells of, so the timeline never shows a change
that was rolled back nor misses one that committed. Worker errors are cleared from the worker on success; their
history stays here. Notification addresses are masked before they are written (`mask_address`).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from certdeploy.domain.failures import Failure
from certdeploy.domain.models import Product, UtcDatetime, Worker
from certdeploy.domain.text_enum import TextEnum

# Longest texts kept in an event; a longer detail or error message is cut with an ellipsis.
MAX_DETAIL = 1000
MAX_ERROR_CODE = 128


class JobEventType(TextEnum):
    CREATED = "created"
    EDITED = "edited"
    BACK_TO_EDITING = "back_to_editing"
    SUBMITTED = "submitted"
    STARTED = "started"
    RETRY_SCHEDULED = "retry_scheduled"
    WORKER_SUCCEEDED = "worker_succeeded"
    WORKER_FAILED = "worker_failed"
    FINISHED = "finished"
    ROLLBACK_REQUESTED = "rollback_requested"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"
    VERIFY_CHECKED = "verify_checked"
    WAITING_FOR_WINDOW = "waiting_for_window"
    STAGE_STARTED = "stage_started"
    STAGE_PASSED = "stage_passed"
    HALTED = "halted"
    RESUMED = "resumed"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class NewJobEvent(BaseModel):
    """An event to append; the store gives it its id and time."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    account_id: int
    job_id: int
    type: JobEventType
    detail: str = Field(max_length=MAX_DETAIL)
    worker_id: int | None = None
    product: Product | None = None
    resource_id: int | None = None
    error_code: str | None = Field(None, max_length=MAX_ERROR_CODE)
    error_message: str | None = Field(None, max_length=MAX_DETAIL)


class JobEvent(NewJobEvent):
    id: int
    time: UtcDatetime


def job_event(
    account_id: int,
    job_id: int,
    event_type: JobEventType,
    detail: str,
    failure: Failure | None = None,
    *,
    worker_id: int | None = None,
) -> NewJobEvent:
    """An event about the job, with the failure that caused it (if any) as its error code and message."""
    return NewJobEvent(
        account_id=account_id,
        job_id=job_id,
        type=event_type,
        detail=_cut(detail, MAX_DETAIL),
        worker_id=worker_id,
        error_code=None if failure is None else _cut(failure.code, MAX_ERROR_CODE),
        error_message=None if failure is None else _cut(failure.message, MAX_DETAIL),
    )


def worker_event(worker: Worker, event_type: JobEventType, detail: str, failure: Failure | None = None) -> NewJobEvent:
    """An event about one worker and its resource, with the failure that caused it (if any)."""
    event = job_event(worker.account_id, worker.job_id, event_type, detail, failure, worker_id=worker.id)
    return event.model_copy(update={"product": worker.product, "resource_id": worker.resource_id})


def retry_detail(what: str, failed: int, max_attempts: int, delay_seconds: int, at: datetime) -> str:
    """`deployment attempt 1 failed; attempt 2 of 5 at 2026-12-04T12:00:10Z (in 5 s)`: attempt `failed` (from 1)
    failed, the next one is due `at`."""
    when = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{what} attempt {failed} failed; attempt {failed + 1} of {max_attempts} at {when} (in {delay_seconds} s)"


def mask_address(channel: str, address: str) -> str:
    """What the timeline shows of a notification address: `a***@example.com` for mail, the host alone for a webhook
    (its path and query carry the bot's credential), an SMS number with its middle digits hidden as its label has it
    already."""
    if channel == "email":
        local, at, domain = address.rpartition("@")
        return f"{local[:1]}***@{domain}" if at else "***"
    if channel == "webhook":
        return urlsplit(address).hostname or "***"
    return address
