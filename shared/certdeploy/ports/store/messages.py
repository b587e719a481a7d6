"""The transactional outbox, consumer idempotency, API nonces and notification dedupe."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from certdeploy.ports.store.errors import StoreError

# Unexpired nonces one AccessKey may hold: 28 requests a second for the whole 30-minute window
# (docs/protocol.md#clock-skew-and-nonces).
MAX_NONCES_PER_ACCESS_KEY = 50_000
# Expired nonces deleted per statement.
NONCE_BATCH = 500


@dataclass(frozen=True)
class OutboxMessage:
    """A message to send to the queue named `queue` once the transaction that wrote it commits."""

    queue: str
    body: str
    key: str  # the consumer's idempotency key, e.g. `job:worker:step:attempt`
    delay_seconds: int = 0


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    queue: str
    body: str
    key: str
    delay_seconds: int
    created_at: datetime


class Outbox(Protocol):
    def add(self, messages: Sequence[OutboxMessage]) -> list[int]:
        """Record messages to send after commit; returns their ids (in input order) for `mark_sent`."""
        ...

    def pending(self, limit: int = 100, *, created_before: datetime | None = None) -> list[OutboxRecord]:
        """Messages not yet marked sent, oldest first; `created_before` leaves fresh ones to their own sender."""
        ...

    def unsent(self, ids: Collection[int]) -> list[OutboxRecord]:
        """Those of `ids` not yet marked sent, by id (what a transaction just wrote, to send right after commit)."""
        ...

    def mark_sent(self, ids: Collection[int]) -> None: ...

    def delete_sent(self, sent_before: datetime) -> int: ...


class ProcessedMessages(Protocol):
    def mark(self, key: str) -> bool:
        """Insert-if-absent: True the first time `key` is seen, False afterwards (also under concurrency)."""
        ...

    def forget(self, processed_before: datetime) -> int: ...


class TooManyNonces(StoreError):
    """The AccessKey holds as many unexpired nonces as it may; it may sign again once some expire."""


class Nonces(Protocol):
    def remember(
        self, access_key_id: str, key: str, expires_at: datetime, *, limit: int = MAX_NONCES_PER_ACCESS_KEY
    ) -> bool:
        """Insert-if-absent of `key`, a nonce of `access_key_id`, kept until `expires_at`: True the first time, False
        while it is kept (also under concurrency). The key's expired nonces are deleted first; raises `TooManyNonces`
        when it still holds `limit`."""
        ...

    def forget_expired(self, *, batch: int = NONCE_BATCH) -> int:
        """Delete every nonce past its expiry, `batch` at a time; returns how many."""
        ...


class SentNotifications(Protocol):
    def record(self, account_id: int, event_key: str, contact_id: int, channel: str, address_digest: str = "") -> bool:
        """Insert-if-absent on (event_key, contact_id, channel): True if this notification was not sent before.
        `channel` identifies one delivery (channel and address), at most 160 characters; `address_digest` (at most
        64 characters) the address alone, for `count_to`."""
        ...

    def count(self, account_id: int, since: datetime) -> int:
        """Deliveries recorded for the account since `since`."""
        ...

    def count_to(self, address_digest: str, since: datetime) -> int:
        """Deliveries recorded to the address of `address_digest` since `since`, in every account."""
        ...

    def sent(self, account_id: int, event_key: str) -> set[str]:
        """The `channel` values recorded for `event_key`: the deliveries already made for that event."""
        ...
