"""The local queue survives SIGKILL. Processes share one SQLite file; some are killed at random points while they
receive or send, the others keep consuming. Afterwards the survivors' accounting must show every message sent exactly
once deleted, no receipt handle ever issued twice, and every send that returned still in the queue.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from certdeploy.adapters.local_queue import LocalQueue
from certdeploy.ports.queue import QueueAttributes, ReceiptHandleInvalid

pytestmark = pytest.mark.slow

VISIBILITY_SECONDS = 1
MESSAGES = 1_000
VICTIMS = 6
SURVIVORS = 2
# Survivors pace themselves so that the victims, started one after the other, still find messages to take.
SURVIVOR_WORK_SECONDS = 0.01
VICTIM_PAUSE_SECONDS = 0.004
START_TIMEOUT_SECONDS = 60

_spawn = get_context("spawn")  # fresh interpreters: no SQLite connection or lock inherited through fork


def _open(db_path: str) -> LocalQueue:
    return LocalQueue(db_path, "jobs", attributes=QueueAttributes(visibility_timeout_seconds=VISIBILITY_SECONDS))


def _append(journal: int, line: str) -> None:
    os.write(journal, line.encode("utf-8") + b"\n")  # unbuffered: what a killed process wrote stays written


def _receive_until_killed(db_path: str, journal_path: str, ready: Event) -> None:
    """A consumer that dies before it acknowledges anything: it only receives, journaling every handle it gets."""
    queue = _open(db_path)
    rng = random.Random()
    journal = os.open(journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    ready.set()
    while True:
        for message in queue.receive_batch(rng.randint(1, 16)):
            _append(journal, f"R {message.receipt_handle} {message.message_id} {message.receive_count}")
        # A short pause, so that one victim does not take every visible message and leave the next ones nothing.
        time.sleep(rng.uniform(0, VICTIM_PAUSE_SECONDS))


def _consume_until_stopped(db_path: str, journal_path: str, stop: Event) -> None:
    """A consumer that lives: receives, works, deletes; leaves once told to stop and nothing more arrives."""
    queue = _open(db_path)
    journal = os.open(journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    while True:
        batch = queue.receive_batch(16, wait_seconds=1)
        if not batch and stop.is_set():
            return
        for message in batch:
            _append(journal, f"R {message.receipt_handle} {message.message_id} {message.receive_count}")
            time.sleep(SURVIVOR_WORK_SECONDS)
            try:
                queue.delete(message.receipt_handle)
            except ReceiptHandleInvalid:
                continue  # it took too long: the message went back and another consumer will delete it
            _append(journal, f"D {message.receipt_handle} {message.message_id}")


def _send_until_killed(db_path: str, journal_path: str, ready: Event) -> None:
    queue = _open(db_path)
    journal = os.open(journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    ready.set()
    for index in range(1_000_000):
        message_id = queue.send(f"sent by a doomed producer #{index}")
        _append(journal, f"S {message_id}")


def _journal_lines(journals: list[Path], kind: str) -> list[list[str]]:
    lines = [line.split(" ") for path in journals for line in path.read_text().splitlines()]
    return [fields[1:] for fields in lines if fields[0] == kind]


def _kill_at_a_random_point(process: BaseProcess, ready: Event, rng: random.Random) -> None:
    assert ready.wait(START_TIMEOUT_SECONDS), "the child process did not start"
    time.sleep(rng.uniform(0.02, 0.3))
    process.kill()
    process.join()
    assert process.exitcode == -signal.SIGKILL


def test_consumers_killed_mid_receive_lose_no_message_and_no_handle_is_reused(tmp_path: Path) -> None:
    # GIVEN a queue holding MESSAGES messages, and survivors consuming it
    db_path = str(tmp_path / "queues.sqlite3")
    journal_dir = tmp_path / "journals"
    journal_dir.mkdir()
    queue = _open(db_path)
    sent_ids = [queue.send(f'{{"n": {index}}}') for index in range(MESSAGES)]
    stop = _spawn.Event()
    survivors = [
        _spawn.Process(target=_consume_until_stopped, args=(db_path, str(journal_dir / f"survivor-{index}"), stop))
        for index in range(SURVIVORS)
    ]
    for survivor in survivors:
        survivor.start()

    # WHEN consumers receive concurrently and are SIGKILLed at random points, one after the other
    rng = random.Random()
    for index in range(VICTIMS):
        ready = _spawn.Event()
        victim = _spawn.Process(
            target=_receive_until_killed, args=(db_path, str(journal_dir / f"victim-{index}"), ready)
        )
        victim.start()
        _kill_at_a_random_point(victim, ready, rng)
    stop.set()
    for survivor in survivors:
        survivor.join(timeout=120)
        assert survivor.exitcode == 0

    # ... and whatever is left (messages the survivors had not come back for) is drained here
    parent_journal = os.open(journal_dir / "parent", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    while batch := queue.receive_batch(16, wait_seconds=VISIBILITY_SECONDS + 1):
        for message in batch:
            _append(parent_journal, f"R {message.receipt_handle} {message.message_id} {message.receive_count}")
            queue.delete(message.receipt_handle)
            _append(parent_journal, f"D {message.receipt_handle} {message.message_id}")

    # THEN every message was deleted exactly once, and every handle ever issued was unique
    journals = sorted(journal_dir.iterdir())
    received = _journal_lines(journals, "R")
    victims_received = _journal_lines(sorted(journal_dir.glob("victim-*")), "R")
    deleted_ids = Counter(message_id for _, message_id in _journal_lines(journals, "D"))
    handles = [handle for handle, _, _ in received]
    assert victims_received, "the victims took messages before dying"
    assert any(int(count) >= 2 for _, _, count in received), "messages held by killed consumers came back"
    assert set(deleted_ids) == set(sent_ids)
    assert set(deleted_ids.values()) == {1}
    assert len(handles) == len(set(handles))
    assert queue.receive() is None
    queue.close()


def test_a_producer_killed_mid_send_loses_no_message_whose_send_returned(tmp_path: Path) -> None:
    db_path = str(tmp_path / "queues.sqlite3")
    journal_path = tmp_path / "producer"
    ready = _spawn.Event()
    producer = _spawn.Process(target=_send_until_killed, args=(db_path, str(journal_path), ready))
    producer.start()

    _kill_at_a_random_point(producer, ready, random.Random())

    confirmed = [line.split(" ")[1] for line in journal_path.read_text().splitlines()]
    queue = _open(db_path)
    received: list[str] = []
    while batch := queue.receive_batch(16):
        received.extend(message.message_id for message in batch)
        for message in batch:
            queue.delete(message.receipt_handle)
    queue.close()
    assert confirmed, "the producer sent messages before dying"
    assert len(received) == len(set(received))
    assert set(confirmed) <= set(received)
    assert len(received) - len(confirmed) <= 1, "at most the send in flight at the kill committed unconfirmed"
