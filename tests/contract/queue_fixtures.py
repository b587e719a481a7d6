"""Queue backends for the contract suite: the local SQLite queue, and the MNS adapter → real SDK → MNS test server."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from certdeploy.adapters.local_queue import LocalQueue
from certdeploy.adapters.mns_queue import MnsQueue
from certdeploy.ports import Queue, QueueAttributes, ReceivedMessage
from tests.servers.mns_server import MnsTestServer

ACCESS_KEY_ID = "TestAccessID"
ACCESS_KEY_SECRET = "TestAccessSecret"
BACKENDS = ("local", "mns")


class ManualClock:
    """Time that moves only when a test says so; safe to read from server threads."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


@dataclass
class QueueBackend:
    """Opens queues, creating them on the backend; all of a backend's queues share its clock."""

    kind: str
    _open: Callable[[str, QueueAttributes], Queue]
    _opened: list[Queue] = field(default_factory=list)

    def open(self, attributes: QueueAttributes | None = None, *, name: str | None = None) -> Queue:
        queue = self._open(name or new_queue_name(), attributes or QueueAttributes())
        self._opened.append(queue)
        return queue


def new_queue_name() -> str:
    return f"q-{uuid.uuid4().hex[:12]}"


@contextmanager
def queue_backend(kind: str, data_dir: Path, clock: ManualClock | None) -> Iterator[QueueBackend]:
    """`clock` None means real time."""
    if kind == "local":
        with _local_backend(data_dir, clock) as backend:
            yield backend
    elif kind == "mns":
        with _mns_backend(data_dir, clock) as backend:
            yield backend
    else:
        raise ValueError(f"unknown queue backend {kind!r}")


@contextmanager
def _local_backend(data_dir: Path, clock: ManualClock | None) -> Iterator[QueueBackend]:
    opened: list[LocalQueue] = []

    def open_local(name: str, attributes: QueueAttributes) -> Queue:
        queue = LocalQueue(
            data_dir / "queues.sqlite3", name, attributes=attributes, clock=clock, poll_interval_seconds=0.02
        )
        opened.append(queue)
        return queue

    try:
        yield QueueBackend("local", open_local)
    finally:
        for queue in opened:
            queue.close()


@contextmanager
def _mns_backend(data_dir: Path, clock: ManualClock | None) -> Iterator[QueueBackend]:
    with MnsTestServer(data_dir, credentials={ACCESS_KEY_ID: ACCESS_KEY_SECRET}, clock=clock) as server:

        def open_mns(name: str, attributes: QueueAttributes) -> Queue:
            server.create_queue(name, attributes)
            return MnsQueue(server.endpoint, ACCESS_KEY_ID, ACCESS_KEY_SECRET, name)

        yield QueueBackend("mns", open_mns)


def receive_one(queue: Queue, wait_seconds: int = 0) -> ReceivedMessage:
    received = queue.receive(wait_seconds)
    assert received is not None, "expected a visible message"
    return received
