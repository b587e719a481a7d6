"""MNS queue messages as FC receives them through EventBridge: the sample events in events/ are fed as bytes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from certdeploy.app.messages import DeployWorker, NotifyContacts, parse_command
from certdeploy.fc.events import InvalidEvent, parse_mns_queue_event

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


def event_bytes(file_name: str) -> bytes:
    return (EVENTS_DIR / file_name).read_bytes()


def event_json(file_name: str) -> Any:
    return json.loads(event_bytes(file_name))


def as_fc_event(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def test_execute_event_with_a_trigger_that_decodes_base64_gives_the_command_text() -> None:
    # GIVEN the execute trigger's delivery (event-streaming: an array of one; IsBase64Decode: true)
    # WHEN it is parsed
    messages = parse_mns_queue_event(event_bytes("mns_execute.json"), trigger_base64_decode=True)

    # THEN the one message carries the command text exactly, with its ids and queue
    assert len(messages) == 1
    message = messages[0]
    assert parse_command(message.body) == DeployWorker(account_id=1, job_id=1, worker_id=1, attempt=0)
    assert message.message_id == "0FFF111D2A6B444B7FE46AE2A1B2****"
    assert message.request_id == "65E2E0F2354133CA6D1F****"
    assert message.event_id == "3A1F2C4D5E6F7A8B9C0D1E2F3A4B****"
    assert message.event_source == "MNS-cert-executor-mnsQueueTrigger"
    assert message.queue_name == "cert-execute"


def test_batch_event_with_base64_bodies_is_decoded_in_delivery_order() -> None:
    messages = parse_mns_queue_event(event_bytes("mns_batch.json"), trigger_base64_decode=False)

    commands = [parse_command(message.body) for message in messages]
    assert [(c.kind, c.job_id) for c in commands] == [("notify", 1001), ("notify", 1002), ("notify", 1003)]
    assert [str(c.event) for c in commands if isinstance(c, NotifyContacts)][-1] == "rollback_finished"
    assert {message.queue_name for message in messages} == {"cert-notify"}


def test_captured_console_delivery_is_a_single_object_with_a_base64_body() -> None:
    # A real delivery (docs/runtime.md#mns-queue-event): IsBase64Decode: false, sent from the MNS console.
    messages = parse_mns_queue_event(event_bytes("mns_console_message.json"), trigger_base64_decode=False)

    assert [(message.message_id, message.body) for message in messages] == [
        ("0FFF111D2A6B444B7FE46AE2xxxxxxxx", "meesage from MNS console")
    ]
    assert messages[0].queue_name == "fc-example"


def test_single_object_and_array_of_one_give_the_same_message() -> None:
    single = event_json("mns_execute.json")[0]

    from_object = parse_mns_queue_event(as_fc_event(single), trigger_base64_decode=True)
    from_array = parse_mns_queue_event(as_fc_event([single]), trigger_base64_decode=True)

    assert from_object == from_array


def test_a_trigger_that_decodes_base64_leaves_the_body_alone() -> None:
    # "TEST" is valid Base64 too: only the trigger setting may decide, never a guess.
    event = event_json("mns_console_message.json")
    event["data"]["messageBody"] = "TEST"

    messages = parse_mns_queue_event(as_fc_event(event), trigger_base64_decode=True)

    assert messages[0].body == "TEST"


@pytest.mark.parametrize(
    "text",
    ['{"name":"证书 🎉","note":"line1\\nline2"}', "  leading and trailing spaces  ", "tab\there\r\nCRLF <xml>&amp;"],
)
def test_base64_body_round_trips_unicode_text_exactly(text: str) -> None:
    event = event_json("mns_console_message.json")
    event["data"]["messageBody"] = base64.b64encode(text.encode("utf-8")).decode("ascii")

    messages = parse_mns_queue_event(as_fc_event(event), trigger_base64_decode=False)

    assert messages[0].body == text


def test_a_subject_without_a_queue_gives_no_queue_name() -> None:
    event = event_json("mns_console_message.json")
    event["subject"] = "acs:mns:cn-shenzhen:15812231xxxxxxxx:topics/other"

    assert parse_mns_queue_event(as_fc_event(event), trigger_base64_decode=False)[0].queue_name is None


def _without(mapping: dict[str, Any], *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(mapping))
    target = copy
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copy


def _with(mapping: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(mapping))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


_CONSOLE = json.loads((EVENTS_DIR / "mns_console_message.json").read_text())

POISON_EVENTS: dict[str, bytes] = {
    "empty bytes": b"",
    "not JSON": b"hello topic",
    "not UTF-8": b'{"id":"\xff\xfe"}',
    "a JSON number": b"42",
    "an array of strings": b'["a","b"]',
    "no data": as_fc_event(_without(_CONSOLE, "data")),
    "no message id": as_fc_event(_without(_CONSOLE, "data", "messageId")),
    "empty message id": as_fc_event(_with(_CONSOLE, "", "data", "messageId")),
    "no body": as_fc_event(_without(_CONSOLE, "data", "messageBody")),
    "body not a string": as_fc_event(_with(_CONSOLE, {"job": 1}, "data", "messageBody")),
    "no event id": as_fc_event(_without(_CONSOLE, "id")),
    "a topic event type": as_fc_event(_with(_CONSOLE, "mns:Topic:PublishMessage", "type")),
    "a timer event": b'{"triggerTime":"2018-02-09T05:49:00Z","triggerName":"timer-trigger","payload":"awesome-fc"}',
    "body not Base64": as_fc_event(_with(_CONSOLE, "not base64!", "data", "messageBody")),
    "body Base64 of non-UTF-8": as_fc_event(
        _with(_CONSOLE, base64.b64encode(b"\xff\xfe").decode(), "data", "messageBody")
    ),
    "one bad record in a batch": as_fc_event([_CONSOLE, _without(_CONSOLE, "data", "messageId")]),
}


@pytest.mark.parametrize("event", POISON_EVENTS.values(), ids=POISON_EVENTS.keys())
def test_malformed_events_are_reported_as_invalid_events(event: bytes) -> None:
    with pytest.raises(InvalidEvent):
        parse_mns_queue_event(event, trigger_base64_decode=False)


def test_an_invalid_event_says_what_is_missing() -> None:
    with pytest.raises(InvalidEvent, match="messageId"):
        parse_mns_queue_event(as_fc_event(_without(_CONSOLE, "data", "messageId")), trigger_base64_decode=True)
