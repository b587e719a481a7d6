"""The message queue: MNS semantics, and the limits every queue adapter applies alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# MNS semantics (docs/runtime.md#mns-semantics): at-least-once delivery, delay, visibility timeout,
# receipt handles that change on every receive and every visibility change, dead-letter after N receives.

MAX_MESSAGE_BYTES = 64 * 1024
# A body travels Base64-encoded (MNS triggers expect that), and MNS counts the encoded form against its 64 KB, so a body
# may hold 3/4 of it in UTF-8: "the total size of the original messages cannot exceed 47 KB"
# (alibabacloud.com/help/en/mns/can-i-use-mns-to-send-or-receive-multiple-messages-at-a-time).
MAX_BODY_BYTES = MAX_MESSAGE_BYTES // 4 * 3
MAX_DELAY_SECONDS = 604_800
MAX_WAIT_SECONDS = 30
MAX_BATCH_MESSAGES = 16
MAX_VISIBILITY_SECONDS = 43_200


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
    """The body is over `MAX_BODY_BYTES` in UTF-8 (its Base64 form would be over MNS's 64 KB)."""


class InvalidArgument(QueueError):
    """A delay, wait or visibility value outside what MNS accepts."""


class ReceiptHandleInvalid(QueueError):
    """The receipt handle is stale (the message was received again, or its visibility changed), expired (its visibility
    timeout ran out) or unknown."""


class QueueUnavailable(QueueError):
    """The queue service could not be reached or failed; the call may be retried."""


class QueueNotFound(QueueError):
    """The queue does not exist (MNS `QueueNotExist`): a deployment mistake, retrying will not help."""


class QueueAccessDenied(QueueError):
    """The credentials were refused (bad key or signature, expired STS token, no permission on the queue)."""


def check_send_arguments(body: str, delay_seconds: int, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
    """Refuse what MNS would refuse, before it is sent: every adapter applies the same limits."""
    if not body:
        raise InvalidArgument("the message body is empty")
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"the message body is not valid Unicode text: {exc}") from exc
    if size > max_body_bytes:
        raise MessageTooLarge(f"the message body is {size} bytes in UTF-8, over the {max_body_bytes} allowed")
    if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
        raise InvalidArgument(f"delay_seconds must be 0–{MAX_DELAY_SECONDS}, not {delay_seconds}")


def check_batch_send_arguments(
    bodies: Sequence[str], delay_seconds: int, *, max_body_bytes: int = MAX_BODY_BYTES
) -> None:
    """A batch holds 1–16 bodies, each within the single-message limits."""
    _check_batch_size(len(bodies))
    for body in bodies:
        check_send_arguments(body, delay_seconds, max_body_bytes=max_body_bytes)


def check_batch_delete_arguments(receipt_handles: Sequence[str]) -> None:
    """A batch delete names 1–16 receipt handles."""
    _check_batch_size(len(receipt_handles))


def _check_batch_size(count: int) -> None:
    if not 1 <= count <= MAX_BATCH_MESSAGES:
        raise InvalidArgument(f"a batch holds 1–{MAX_BATCH_MESSAGES} messages, not {count}")


def check_receive_arguments(max_messages: int, wait_seconds: int) -> None:
    if not 1 <= max_messages <= MAX_BATCH_MESSAGES:
        raise InvalidArgument(f"max_messages must be 1–{MAX_BATCH_MESSAGES}, not {max_messages}")
    if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
        raise InvalidArgument(f"wait_seconds must be 0–{MAX_WAIT_SECONDS}, not {wait_seconds}")


def check_visibility_timeout(seconds: int) -> None:
    if not 1 <= seconds <= MAX_VISIBILITY_SECONDS:
        raise InvalidArgument(f"a visibility timeout must be 1–{MAX_VISIBILITY_SECONDS} s, not {seconds}")


@dataclass(frozen=True)
class QueueAttributes:
    """How a queue treats its messages; on MNS these are set on the queue itself (console, s.yaml), not per call."""

    visibility_timeout_seconds: int = 30
    # After this many receives the next receive moves the message to `dead_letter_queue` instead of delivering it.
    max_receive_count: int | None = None
    dead_letter_queue: str | None = None

    def __post_init__(self) -> None:
        check_visibility_timeout(self.visibility_timeout_seconds)
        if (self.max_receive_count is None) != (self.dead_letter_queue is None):
            raise InvalidArgument("max_receive_count and dead_letter_queue go together")
        if self.max_receive_count is not None and self.max_receive_count < 1:
            raise InvalidArgument(f"max_receive_count must be at least 1, not {self.max_receive_count}")


class Queue(Protocol):
    name: str

    def send(self, body: str, delay_seconds: int = 0) -> str:
        """Enqueue `body`; it becomes visible after `delay_seconds`. Returns the message id."""
        ...

    def send_batch(self, bodies: Sequence[str], delay_seconds: int = 0) -> list[str]:
        """Enqueue 1–16 bodies in one request (MNS BatchSendMessage); returns their message ids, in order."""
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

    def delete_batch(self, receipt_handles: Sequence[str]) -> list[str]:
        """Acknowledge 1–16 messages in one request (MNS BatchDeleteMessage); returns the handles that were stale,
        the others deleted."""
        ...

    def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> str:
        """Hide the message for `visibility_timeout` seconds from now; returns the new receipt handle."""
        ...
