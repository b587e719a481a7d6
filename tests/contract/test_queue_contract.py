"""One queue contract, two backends: the local SQLite queue, and the MNS adapter talking through the real SDK to the
MNS wire test server. Every test runs, unchanged, against both; the adapter's own wire details are in
tests/contract/test_mns_adapter.py.

Time: a manual clock drives delay and visibility (shared by the test, the local queue and the test server), so those
tests take no wall time; long polling and one visibility test run on real time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certdeploy.ports.queue import (
    MAX_BATCH_MESSAGES,
    MAX_BODY_BYTES,
    MAX_DELAY_SECONDS,
    InvalidArgument,
    MessageTooLarge,
    QueueAttributes,
    ReceiptHandleInvalid,
)
from tests.contract.queue_fixtures import (
    BACKENDS,
    ManualClock,
    QueueBackend,
    new_queue_name,
    queue_backend,
    receive_one,
)

VISIBILITY = QueueAttributes(visibility_timeout_seconds=30)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Iterator[QueueBackend]:
    with queue_backend(request.param, tmp_path, clock) as opened:
        yield opened


@pytest.fixture(params=BACKENDS)
def realtime_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueBackend]:
    with queue_backend(request.param, tmp_path, None) as opened:
        yield opened


# --------------------------------------------------------------------------------------------- send, receive, delete


def test_a_sent_message_is_received_with_its_times_and_is_gone_once_deleted(
    backend: QueueBackend, clock: ManualClock
) -> None:
    queue = backend.open(VISIBILITY)
    sent_at = clock.now_ms()
    message_id = queue.send('{"job": 1}')
    clock.advance(1)

    received = receive_one(queue)

    assert (received.message_id, received.body, received.receive_count) == (message_id, '{"job": 1}', 1)
    assert received.enqueue_time_ms == sent_at
    assert received.first_receive_time_ms == sent_at + 1_000
    assert received.next_visible_time_ms == sent_at + 1_000 + 30_000
    assert queue.receive() is None, "a received message is hidden while in flight"

    queue.delete(received.receipt_handle)
    clock.advance(60)
    assert queue.receive() is None


def test_an_empty_queue_gives_nothing(backend: QueueBackend) -> None:
    queue = backend.open()

    assert queue.receive() is None
    assert queue.receive_batch(16) == []


def test_message_ids_are_distinct(backend: QueueBackend) -> None:
    queue = backend.open()

    assert len({queue.send("same body") for _ in range(5)}) == 5


def test_a_batch_of_sixteen_is_sent_in_one_call_and_received_in_order(backend: QueueBackend) -> None:
    queue = backend.open()
    bodies = [json.dumps({"worker": index}) for index in range(MAX_BATCH_MESSAGES)]

    message_ids = queue.send_batch(bodies)

    received = queue.receive_batch(MAX_BATCH_MESSAGES)
    assert len(set(message_ids)) == MAX_BATCH_MESSAGES
    assert [(message.message_id, message.body) for message in received] == list(zip(message_ids, bodies, strict=True))


def test_a_delayed_batch_stays_invisible_until_its_delay_has_passed(backend: QueueBackend, clock: ManualClock) -> None:
    queue = backend.open()
    queue.send_batch(["a", "b"], delay_seconds=10)

    assert queue.receive_batch(16) == []
    clock.advance(10)
    assert sorted(message.body for message in queue.receive_batch(16)) == ["a", "b"]


@pytest.mark.parametrize("count", [0, MAX_BATCH_MESSAGES + 1])
def test_a_batch_outside_what_mns_allows_is_refused(backend: QueueBackend, count: int) -> None:
    queue = backend.open()

    with pytest.raises(InvalidArgument):
        queue.send_batch(["x"] * count)


def test_a_batch_delete_acknowledges_every_message_in_one_call(backend: QueueBackend, clock: ManualClock) -> None:
    queue = backend.open(VISIBILITY)
    queue.send_batch([f"m{index}" for index in range(MAX_BATCH_MESSAGES)])
    received = queue.receive_batch(MAX_BATCH_MESSAGES)

    stale = queue.delete_batch([message.receipt_handle for message in received])

    assert stale == []
    clock.advance(60)
    assert queue.receive_batch(MAX_BATCH_MESSAGES) == []


def test_a_batch_delete_names_the_stale_handles_and_deletes_the_others(
    backend: QueueBackend, clock: ManualClock
) -> None:
    queue = backend.open(VISIBILITY)
    queue.send_batch(["early", "late"])
    early_first = receive_one(queue)
    clock.advance(30)
    redelivered = {message.body: message for message in queue.receive_batch(2)}
    assert sorted(redelivered) == ["early", "late"]

    stale = queue.delete_batch([early_first.receipt_handle, redelivered["late"].receipt_handle])

    assert stale == [early_first.receipt_handle]
    clock.advance(60)
    assert [message.body for message in queue.receive_batch(2)] == ["early"]


@pytest.mark.parametrize("count", [0, MAX_BATCH_MESSAGES + 1])
def test_a_batch_delete_outside_what_mns_allows_is_refused(backend: QueueBackend, count: int) -> None:
    queue = backend.open()

    with pytest.raises(InvalidArgument):
        queue.delete_batch(["0" * 32] * count)


def test_a_batch_with_one_body_too_large_sends_nothing(backend: QueueBackend) -> None:
    queue = backend.open()

    with pytest.raises(MessageTooLarge):
        queue.send_batch(["fine", "x" * (MAX_BODY_BYTES + 1)])
    assert queue.receive_batch(16) == []


# ------------------------------------------------------------------------------------------------------------ delay


def test_a_delayed_message_stays_invisible_until_its_delay_has_passed(
    backend: QueueBackend, clock: ManualClock
) -> None:
    queue = backend.open(VISIBILITY)
    queue.send("later", delay_seconds=10)
    queue.send("now")

    assert [message.body for message in queue.receive_batch(16)] == ["now"]
    clock.advance(9.999)
    assert queue.receive() is None
    clock.advance(0.001)
    assert receive_one(queue).body == "later"


def test_the_longest_delay_mns_allows_is_honoured(backend: QueueBackend, clock: ManualClock) -> None:
    queue = backend.open()
    queue.send("next week", delay_seconds=MAX_DELAY_SECONDS)

    clock.advance(MAX_DELAY_SECONDS - 1)
    assert queue.receive() is None
    clock.advance(1)
    assert receive_one(queue).body == "next week"


@pytest.mark.parametrize("delay_seconds", [-1, MAX_DELAY_SECONDS + 1])
def test_a_delay_outside_what_mns_allows_is_refused(backend: QueueBackend, delay_seconds: int) -> None:
    queue = backend.open()

    with pytest.raises(InvalidArgument):
        queue.send("x", delay_seconds=delay_seconds)
    assert queue.receive() is None


# ------------------------------------------------------------------------------------------- visibility and handles


def test_an_undeleted_message_comes_back_after_the_visibility_timeout_with_a_higher_receive_count(
    backend: QueueBackend, clock: ManualClock
) -> None:
    queue = backend.open(VISIBILITY)
    message_id = queue.send("work")
    first = receive_one(queue)

    clock.advance(29.999)
    assert queue.receive() is None
    clock.advance(0.001)
    second = receive_one(queue)

    assert (second.message_id, second.body, second.receive_count) == (message_id, "work", 2)
    assert second.receipt_handle != first.receipt_handle
    assert second.first_receive_time_ms == first.first_receive_time_ms


def test_a_handle_from_an_earlier_receive_no_longer_works(backend: QueueBackend, clock: ManualClock) -> None:
    queue = backend.open(VISIBILITY)
    queue.send("work")
    first = receive_one(queue)
    clock.advance(30)
    second = receive_one(queue)

    with pytest.raises(ReceiptHandleInvalid):
        queue.delete(first.receipt_handle)
    with pytest.raises(ReceiptHandleInvalid):
        queue.change_visibility(first.receipt_handle, 10)

    queue.delete(second.receipt_handle)
    clock.advance(60)
    assert queue.receive() is None


def test_a_handle_stops_working_when_its_visibility_timeout_runs_out(backend: QueueBackend, clock: ManualClock) -> None:
    queue = backend.open(VISIBILITY)
    queue.send("work")
    received = receive_one(queue)
    clock.advance(30)

    with pytest.raises(ReceiptHandleInvalid):
        queue.delete(received.receipt_handle)
    assert receive_one(queue).receive_count == 2, "the failed delete did not remove the message"


def test_changing_visibility_issues_a_new_handle_and_kills_the_old_one(
    backend: QueueBackend, clock: ManualClock
) -> None:
    queue = backend.open(VISIBILITY)
    queue.send("long job")
    received = receive_one(queue)
    clock.advance(15)

    new_handle = queue.change_visibility(received.receipt_handle, 60)

    assert new_handle != received.receipt_handle
    with pytest.raises(ReceiptHandleInvalid):
        queue.delete(received.receipt_handle)
    clock.advance(59.999)  # the original 30 s are long gone; the 60 s count from the change
    assert queue.receive() is None
    queue.delete(new_handle)
    clock.advance(60)
    assert queue.receive() is None


def test_a_visibility_change_counts_from_the_change_not_from_the_receive(
    backend: QueueBackend, clock: ManualClock
) -> None:
    # docs/runtime.md#mns-semantics: a 30 s message changed to 10 s after 15 s becomes visible at 25 s.
    queue = backend.open(VISIBILITY)
    queue.send("work")
    received = receive_one(queue)
    clock.advance(15)
    queue.change_visibility(received.receipt_handle, 10)

    clock.advance(9.999)
    assert queue.receive() is None
    clock.advance(0.001)
    assert receive_one(queue).receive_count == 2


def test_a_heartbeat_chain_of_visibility_changes_keeps_only_the_latest_handle(
    backend: QueueBackend, clock: ManualClock
) -> None:
    queue = backend.open(VISIBILITY)
    queue.send("work")
    handles = [receive_one(queue).receipt_handle]
    for _ in range(3):
        clock.advance(20)
        handles.append(queue.change_visibility(handles[-1], 30))

    assert len(set(handles)) == len(handles)
    for stale in handles[:-1]:
        with pytest.raises(ReceiptHandleInvalid):
            queue.delete(stale)
    queue.delete(handles[-1])


@pytest.mark.parametrize("seconds", [0, 43_201])
def test_a_visibility_timeout_outside_what_mns_allows_is_refused(backend: QueueBackend, seconds: int) -> None:
    queue = backend.open(VISIBILITY)
    queue.send("work")
    received = receive_one(queue)

    with pytest.raises(InvalidArgument):
        queue.change_visibility(received.receipt_handle, seconds)
    queue.delete(received.receipt_handle)


@pytest.mark.parametrize(
    "receipt_handle",
    ["0123456789abcdef0123456789abcdef", "1-ODU4OTkzNDU5My0xNDM1MTk3NjAwLTItNg==", "not a handle", ""],
)
def test_unknown_receipt_handles_are_refused(backend: QueueBackend, receipt_handle: str) -> None:
    queue = backend.open(VISIBILITY)
    queue.send("work")

    with pytest.raises(ReceiptHandleInvalid):
        queue.delete(receipt_handle)
    with pytest.raises(ReceiptHandleInvalid):
        queue.change_visibility(receipt_handle, 10)
    assert receive_one(queue).body == "work"


def test_a_handle_only_works_on_the_queue_that_issued_it(backend: QueueBackend) -> None:
    issuing, other = backend.open(VISIBILITY), backend.open(VISIBILITY)
    issuing.send("work")
    received = receive_one(issuing)

    with pytest.raises(ReceiptHandleInvalid):
        other.delete(received.receipt_handle)
    issuing.delete(received.receipt_handle)


def test_visibility_timeout_runs_on_real_time_too(realtime_backend: QueueBackend) -> None:
    queue = realtime_backend.open(QueueAttributes(visibility_timeout_seconds=1))
    queue.send("tick")
    first = receive_one(queue)
    assert queue.receive() is None

    again = receive_one(queue, wait_seconds=3)

    assert (again.message_id, again.receive_count) == (first.message_id, 2)


# ---------------------------------------------------------------------------------------------------- long polling


def test_a_long_poll_returns_as_soon_as_a_message_arrives(backend: QueueBackend) -> None:
    queue = backend.open()
    sender = threading.Timer(0.5, queue.send, args=("hello",))
    started = time.monotonic()
    sender.start()
    try:
        received = queue.receive(wait_seconds=10)
    finally:
        sender.join()
    elapsed = time.monotonic() - started

    assert received is not None and received.body == "hello"
    assert 0.4 <= elapsed < 5


def test_a_batch_long_poll_returns_as_soon_as_a_message_arrives(backend: QueueBackend) -> None:
    queue = backend.open()
    sender = threading.Timer(0.3, queue.send, args=("hello",))
    started = time.monotonic()
    sender.start()
    try:
        received = queue.receive_batch(16, wait_seconds=10)
    finally:
        sender.join()

    assert [message.body for message in received] == ["hello"]
    assert time.monotonic() - started < 5


def test_a_long_poll_on_an_empty_queue_waits_its_full_time(backend: QueueBackend) -> None:
    queue = backend.open()
    started = time.monotonic()

    received = queue.receive(wait_seconds=1)

    assert received is None
    assert 0.95 <= time.monotonic() - started < 5


@pytest.mark.parametrize("wait_seconds", [-1, 31])
def test_a_wait_outside_what_mns_allows_is_refused(backend: QueueBackend, wait_seconds: int) -> None:
    queue = backend.open()

    with pytest.raises(InvalidArgument):
        queue.receive(wait_seconds)
    with pytest.raises(InvalidArgument):
        queue.receive_batch(4, wait_seconds)


# ------------------------------------------------------------------------------------------------------ size limit


def test_a_body_of_the_largest_size_round_trips(backend: QueueBackend) -> None:
    queue = backend.open()
    body = "x" * MAX_BODY_BYTES

    queue.send(body)

    assert receive_one(queue).body == body


@pytest.mark.parametrize(
    "body", ["x" * (MAX_BODY_BYTES + 1), "é" * (MAX_BODY_BYTES // 2 + 1)], ids=["ascii", "two-byte utf-8"]
)
def test_a_body_over_the_limit_is_refused(backend: QueueBackend, body: str) -> None:
    queue = backend.open()

    with pytest.raises(MessageTooLarge):
        queue.send(body)
    assert queue.receive() is None


def test_an_empty_body_is_refused(backend: QueueBackend) -> None:
    queue = backend.open()

    with pytest.raises(InvalidArgument):
        queue.send("")


# ----------------------------------------------------------------------------------------------------------- batch


def test_batches_hold_at_most_sixteen_distinct_messages_and_together_deliver_all(backend: QueueBackend) -> None:
    queue = backend.open(VISIBILITY)
    sent_ids = {queue.send(f"message {index}") for index in range(20)}

    batches = []
    while batch := queue.receive_batch(16):
        batches.append(batch)
    received = [message for batch in batches for message in batch]

    assert all(1 <= len(batch) <= 16 for batch in batches)
    assert len(received) == 20
    assert {message.message_id for message in received} == sent_ids
    assert len({message.receipt_handle for message in received}) == 20
    assert {message.body for message in received} == {f"message {index}" for index in range(20)}


@pytest.mark.parametrize("max_messages", [0, 17])
def test_a_batch_size_outside_one_to_sixteen_is_refused(backend: QueueBackend, max_messages: int) -> None:
    queue = backend.open()

    with pytest.raises(InvalidArgument):
        queue.receive_batch(max_messages)


# ----------------------------------------------------------------------------------------------------------- bodies

TEXT_BODIES = [
    json.dumps({"job": "证书部署", "emoji": "🎉", "rtl": "زنجیره"}, ensure_ascii=False),
    json.dumps({"nested": {"list": [1, 2.5, None, True], "escaped": 'a"b\\c'}}),
    "xml-ish <Message> & \"quotes\" 'apostrophes' ]]> &amp;",
    "line1\nline2\r\nline3\r",
    "  padded with spaces  ",
    "\t",
    "\x01 control characters \x7f",
    "+/= base64-looking text ==",
]


def test_text_bodies_round_trip_exactly(backend: QueueBackend) -> None:
    queue = backend.open(VISIBILITY)
    body_by_id = {queue.send(body): body for body in TEXT_BODIES}

    received = queue.receive_batch(16)

    assert {message.message_id: message.body for message in received} == body_by_id


# ----------------------------------------------------------------------------------------------------- dead letter


def test_a_message_received_too_often_moves_to_the_dead_letter_queue_with_its_body(
    backend: QueueBackend, clock: ManualClock
) -> None:
    dead_letters = backend.open(VISIBILITY)
    attributes = QueueAttributes(
        visibility_timeout_seconds=30, max_receive_count=2, dead_letter_queue=dead_letters.name
    )
    queue = backend.open(attributes)
    sent_at = clock.now_ms()
    queue.send('{"poison": true}')

    for expected_count in (1, 2):
        assert receive_one(queue).receive_count == expected_count
        clock.advance(30)

    assert queue.receive() is None, "the third receive dead-letters it instead of delivering it"
    clock.advance(60)
    assert queue.receive() is None
    dead = receive_one(dead_letters)
    assert dead.body == '{"poison": true}'
    assert dead.receive_count == 1
    assert dead.enqueue_time_ms == sent_at, "the retention clock is not reset by the move"
    dead_letters.delete(dead.receipt_handle)


def test_dead_lettering_does_not_take_a_slot_of_the_batch(backend: QueueBackend, clock: ManualClock) -> None:
    dead_letters = backend.open(VISIBILITY)
    queue = backend.open(
        QueueAttributes(visibility_timeout_seconds=30, max_receive_count=1, dead_letter_queue=dead_letters.name)
    )
    queue.send("poison")
    receive_one(queue)
    clock.advance(30)
    queue.send("healthy")

    assert [message.body for message in queue.receive_batch(1)] == ["healthy"]
    assert receive_one(dead_letters).body == "poison"


def test_a_queue_cannot_be_its_own_dead_letter_queue(backend: QueueBackend) -> None:
    name = new_queue_name()

    with pytest.raises(InvalidArgument):
        backend.open(QueueAttributes(max_receive_count=3, dead_letter_queue=name), name=name)
