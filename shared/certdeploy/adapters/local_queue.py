"""A durable queue with MNS semantics in one SQLite file, safe for several processes using the file at once.

Every operation is one short transaction. A receive takes the write lock before it reads (`BEGIN IMMEDIATE`), so two
consumers never take the same visible message. The WAL journal with `synchronous=FULL` keeps every committed send; a
process killed inside a transaction leaves no trace of it, and a message it had received comes back after its
visibility timeout. Delay and visibility follow the injected clock; long polling waits in real time.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

from certdeploy.adapters.private_files import private_database_file
from certdeploy.ports.clock import Clock, SystemClock
from certdeploy.ports.queue import (
    MAX_BODY_BYTES,
    InvalidArgument,
    QueueAttributes,
    QueueUnavailable,
    ReceiptHandleInvalid,
    ReceivedMessage,
    check_batch_delete_arguments,
    check_batch_send_arguments,
    check_receive_arguments,
    check_send_arguments,
    check_visibility_timeout,
)

# MNS queue names: letters, digits and hyphens, starting with a letter or digit, at most 256 characters
# (docs/runtime.md#mns-semantics).
QUEUE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,255}")
# Receipt handles travel raw in MNS query strings (docs/runtime.md#mns-wire-protocol): hex digits survive that
# unchanged.
RECEIPT_HANDLE_PATTERN = re.compile(r"[0-9a-f]{32}")

_BUSY_TIMEOUT_SECONDS = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueue_time_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_time_ms INTEGER,
    receipt_handle TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at_ms, seq);
"""


class LocalQueue:
    """One named queue in the SQLite file at `db_path`; other instances (in any process) may share the file.

    `max_body_bytes` is the UTF-8 size limit of a body; it defaults to what a Base64-encoded MNS message can carry, so
    code that works here works on MNS. The MNS test server raises it to 64 KB because it stores bodies in wire form.
    """

    def __init__(
        self,
        db_path: Path | str,
        name: str,
        *,
        attributes: QueueAttributes | None = None,
        clock: Clock | None = None,
        poll_interval_seconds: float = 0.05,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if not QUEUE_NAME_PATTERN.fullmatch(name):
            raise InvalidArgument(f"{name!r} is not a valid queue name (letters, digits, hyphens; ≤ 256)")
        self.name = name
        self.attributes = attributes or QueueAttributes()
        if self.attributes.dead_letter_queue is not None:
            if self.attributes.dead_letter_queue == name:
                raise InvalidArgument("a queue cannot be its own dead-letter queue")
            if not QUEUE_NAME_PATTERN.fullmatch(self.attributes.dead_letter_queue):
                raise InvalidArgument(f"{self.attributes.dead_letter_queue!r} is not a valid queue name")
        self._clock = clock or SystemClock()
        self._poll_interval_seconds = poll_interval_seconds
        self._max_body_bytes = max_body_bytes
        self._lock = threading.Lock()
        path = private_database_file(Path(db_path))
        try:
            self._db = sqlite3.connect(
                path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_SECONDS * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise QueueUnavailable(f"cannot open the queue database {path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> LocalQueue:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def send(self, body: str, delay_seconds: int = 0) -> str:
        check_send_arguments(body, delay_seconds, max_body_bytes=self._max_body_bytes)
        message_id = uuid.uuid4().hex.upper()
        now = self._now_ms()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO queue_messages (queue, message_id, body, enqueue_time_ms, visible_at_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (self.name, message_id, body, now, now + delay_seconds * 1000),
            )
        return message_id

    def send_batch(self, bodies: Sequence[str], delay_seconds: int = 0) -> list[str]:
        """All of `bodies` in one transaction: one durable commit for the batch."""
        check_batch_send_arguments(bodies, delay_seconds, max_body_bytes=self._max_body_bytes)
        message_ids = [uuid.uuid4().hex.upper() for _ in bodies]
        now = self._now_ms()
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO queue_messages (queue, message_id, body, enqueue_time_ms, visible_at_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (self.name, message_id, body, now, now + delay_seconds * 1000)
                    for message_id, body in zip(message_ids, bodies, strict=True)
                ],
            )
        return message_ids

    def receive(self, wait_seconds: int = 0) -> ReceivedMessage | None:
        received = self.receive_batch(1, wait_seconds)
        return received[0] if received else None

    def receive_batch(self, max_messages: int, wait_seconds: int = 0) -> list[ReceivedMessage]:
        check_receive_arguments(max_messages, wait_seconds)
        deadline = time.monotonic() + wait_seconds
        while True:
            taken = self._take(max_messages)
            remaining = deadline - time.monotonic()
            if taken or remaining <= 0:
                return taken
            time.sleep(min(self._poll_interval_seconds, remaining))

    def delete(self, receipt_handle: str) -> None:
        with self._transaction() as db:
            deleted = db.execute(
                "DELETE FROM queue_messages WHERE queue = ? AND receipt_handle = ? AND visible_at_ms > ?",
                (self.name, receipt_handle, self._now_ms()),
            ).rowcount
        if deleted == 0:
            raise ReceiptHandleInvalid(f"receipt handle {receipt_handle!r} is stale, expired or unknown")

    def delete_batch(self, receipt_handles: Sequence[str]) -> list[str]:
        """All of `receipt_handles` in one transaction: one durable commit for the batch."""
        check_batch_delete_arguments(receipt_handles)
        now = self._now_ms()
        with self._transaction() as db:
            stale = [
                handle
                for handle in receipt_handles
                if not db.execute(
                    "DELETE FROM queue_messages WHERE queue = ? AND receipt_handle = ? AND visible_at_ms > ?",
                    (self.name, handle, now),
                ).rowcount
            ]
        return stale

    def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> str:
        check_visibility_timeout(visibility_timeout)
        new_handle = _new_receipt_handle()
        now = self._now_ms()
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE queue_messages SET receipt_handle = ?, visible_at_ms = ?"
                " WHERE queue = ? AND receipt_handle = ? AND visible_at_ms > ?",
                (new_handle, now + visibility_timeout * 1000, self.name, receipt_handle, now),
            ).rowcount
        if changed == 0:
            raise ReceiptHandleInvalid(f"receipt handle {receipt_handle!r} is stale, expired or unknown")
        return new_handle

    def _take(self, max_messages: int) -> list[ReceivedMessage]:
        now = self._now_ms()
        visible_until = now + self.attributes.visibility_timeout_seconds * 1000
        taken: list[ReceivedMessage] = []
        if not self._any_visible(now):
            return taken
        with self._transaction() as db:
            # Dead-lettered rows leave the queue, so look again until the batch is full or nothing is visible.
            while len(taken) < max_messages:
                rows = db.execute(
                    "SELECT seq, message_id, body, enqueue_time_ms, receive_count, first_receive_time_ms"
                    " FROM queue_messages WHERE queue = ? AND visible_at_ms <= ? ORDER BY visible_at_ms, seq LIMIT ?",
                    (self.name, now, max_messages - len(taken)),
                ).fetchall()
                if not rows:
                    break
                for seq, message_id, body, enqueue_time_ms, receive_count, first_receive_time_ms in rows:
                    if self._dead_letter_due(receive_count):
                        # It starts afresh in the dead-letter queue, keeping its id, body and enqueue time.
                        db.execute(
                            "UPDATE queue_messages SET queue = ?, visible_at_ms = ?, receive_count = 0,"
                            " first_receive_time_ms = NULL, receipt_handle = NULL WHERE seq = ?",
                            (self.attributes.dead_letter_queue, now, seq),
                        )
                        continue
                    handle = _new_receipt_handle()
                    first_receive = first_receive_time_ms if first_receive_time_ms is not None else now
                    db.execute(
                        "UPDATE queue_messages SET receive_count = ?, first_receive_time_ms = ?, visible_at_ms = ?,"
                        " receipt_handle = ? WHERE seq = ?",
                        (receive_count + 1, first_receive, visible_until, handle, seq),
                    )
                    taken.append(
                        ReceivedMessage(
                            message_id=message_id,
                            body=body,
                            receipt_handle=handle,
                            receive_count=receive_count + 1,
                            enqueue_time_ms=enqueue_time_ms,
                            first_receive_time_ms=first_receive,
                            next_visible_time_ms=visible_until,
                        )
                    )
        return taken

    def _any_visible(self, now: int) -> bool:
        """Whether a message may be visible, read without the write lock (WAL readers take none): a poll of an empty
        queue then does not queue for the lock the other queues and processes sharing the file write under."""
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT 1 FROM queue_messages WHERE queue = ? AND visible_at_ms <= ? LIMIT 1", (self.name, now)
                ).fetchone()
            except sqlite3.Error as exc:
                raise QueueUnavailable(f"queue {self.name}: database failure: {exc}") from exc
        return row is not None

    def _dead_letter_due(self, receive_count: int) -> bool:
        limit = self.attributes.max_receive_count
        return limit is not None and receive_count >= limit

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise QueueUnavailable(f"queue {self.name}: cannot lock the database: {exc}") from exc
            try:
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._roll_back()
                raise QueueUnavailable(f"queue {self.name}: database failure: {exc}") from exc
            except BaseException:
                self._roll_back()
                raise

    def _roll_back(self) -> None:
        if self._db.in_transaction:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _now_ms(self) -> int:
        return int(self._clock.now().timestamp() * 1000)


def _new_receipt_handle() -> str:
    return uuid.uuid4().hex
