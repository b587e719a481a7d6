"""Ports: what the use cases need from the outside world. Adapters implement them; the domain never sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

# --------------------------------------------------------------------------------------------- clock


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


# --------------------------------------------------------------------------------------------- queue
# MNS semantics (see ../shared/reference/mns.md): at-least-once delivery, delay, visibility timeout,
# receipt handles that change on every receive and every visibility change, dead-letter after N receives.

MAX_MESSAGE_BYTES = 64 * 1024
MAX_DELAY_SECONDS = 604_800


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    body: str
    receipt_handle: str
    receive_count: int
    enqueue_time_ms: int
    first_receive_time_ms: int
    next_visible_time_ms: int


class QueueError(Exception):
    """Base of every queue failure an adapter reports."""


class MessageTooLarge(QueueError):
    """The body is over 64 KB."""


class InvalidArgument(QueueError):
    """A delay, wait or visibility value outside what MNS accepts."""


class ReceiptHandleInvalid(QueueError):
    """The receipt handle is stale (the message was received again, or its visibility changed) or unknown."""


class QueueUnavailable(QueueError):
    """The queue service could not be reached or failed; the call may be retried."""


class Queue(Protocol):
    name: str

    def send(self, body: str, delay_seconds: int = 0) -> str:
        """Enqueue `body`; it becomes visible after `delay_seconds`. Returns the message id."""
        ...

    def receive(self, wait_seconds: int = 0) -> ReceivedMessage | None:
        """Take one visible message (long-polling up to `wait_seconds`), hiding it for the visibility timeout."""
        ...

    def receive_batch(self, max_messages: int, wait_seconds: int = 0) -> list[ReceivedMessage]:
        """Take up to `max_messages` (1–16) visible messages."""
        ...

    def delete(self, receipt_handle: str) -> None:
        """Acknowledge a message; raises `ReceiptHandleInvalid` for a stale handle."""
        ...

    def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> str:
        """Hide the message for `visibility_timeout` seconds from now; returns the new receipt handle."""
        ...
