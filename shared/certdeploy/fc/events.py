"""Function Compute trigger events: the bytes FC hands a handler, validated into pydantic envelopes
(docs/runtime.md#trigger-events).

Each trigger shape gets an envelope model and a parse function built on `validate_event`. Whatever is wrong with an
event (not UTF-8, not JSON, wrong shape, undecodable body) surfaces as `InvalidEvent`: a poison event that no retry can
fix, so handlers dead-letter it instead of re-raising it into the platform's retry.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from certdeploy.app.messages import InvalidMessage

T = TypeVar("T")

_MAX_REPORTED_ERRORS = 5


class InvalidEvent(InvalidMessage):
    """The event is not what the trigger delivers; retrying it cannot help (poison)."""


def validate_event(event: bytes | str, shape: TypeAdapter[T], what: str) -> T:
    """Parse the raw event (FC passes `bytes`) into `shape`, or raise `InvalidEvent` naming `what` was expected."""
    try:
        return shape.validate_json(event)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or '(event)'}: {error['msg']}"
            for error in exc.errors(include_url=False)[:_MAX_REPORTED_ERRORS]
        ]
        raise InvalidEvent(f"not {what}: {'; '.join(problems)}") from exc


class CloudEvent(BaseModel):
    """The EventBridge CloudEvents 1.0 envelope (docs/runtime.md#cloudevents-envelope). `(source, id)` identifies an
    event."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    specversion: str
    type: str
    subject: str | None = None
    time: str | None = None
    datacontenttype: str | None = None
    # Alibaba extensions; kept as text (e.g. "2020-11-19T21:04:42.179PRC" is no ISO 8601 time).
    aliyunaccountid: str | None = None
    aliyunpublishtime: str | None = None
    aliyuneventbusname: str | None = None
    aliyunregionid: str | None = None


# --------------------------------------------------------------------------- MNS queue message through EventBridge


class MnsQueueMessageData(BaseModel):
    """`data` of an `mns:Queue:SendMessage` event: exactly these three fields are documented
    (docs/runtime.md#mns-queue-event)."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    request_id: str | None = Field(default=None, alias="requestId")
    message_id: str = Field(alias="messageId", min_length=1)
    message_body: str = Field(alias="messageBody")


MNS_QUEUE_EVENT_TYPE = "mns:Queue:SendMessage"


class MnsQueueEvent(CloudEvent):
    type: Literal["mns:Queue:SendMessage"]
    data: MnsQueueMessageData


class MnsQueueMessage(BaseModel):
    """One queue message as a handler sees it, body decoded to text."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    event_id: str
    event_source: str
    message_id: str
    request_id: str | None
    queue_name: str | None
    body: str


# Event mode delivers one CloudEvent; event-streaming mode pushes an array of them (docs/runtime.md#mns-queue-event).
_MNS_QUEUE_DELIVERY: TypeAdapter[MnsQueueEvent | list[MnsQueueEvent]] = TypeAdapter(
    MnsQueueEvent | list[MnsQueueEvent], config=ConfigDict(defer_build=True)
)


def parse_mns_queue_event(event: bytes | str, *, trigger_base64_decode: bool) -> list[MnsQueueMessage]:
    """The messages of an MNS queue trigger delivery, in delivery order.

    `trigger_base64_decode` is the trigger's `IsBase64Decode`: when True, EventBridge has already decoded the body;
    when False, the body arrives as the Base64 its producer sent (our producers always Base64-encode, as the MNS SDK
    does) and is decoded here. A body that does not decode to UTF-8 text makes the whole event `InvalidEvent`.
    """
    delivery = validate_event(event, _MNS_QUEUE_DELIVERY, "an MNS queue event (a CloudEvent or an array of them)")
    events = delivery if isinstance(delivery, list) else [delivery]
    return [
        MnsQueueMessage(
            event_id=queue_event.id,
            event_source=queue_event.source,
            message_id=queue_event.data.message_id,
            request_id=queue_event.data.request_id,
            queue_name=_queue_name(queue_event.subject),
            body=queue_event.data.message_body
            if trigger_base64_decode
            else _decode_base64_body(queue_event.data.message_body, queue_event.data.message_id),
        )
        for queue_event in events
    ]


def _queue_name(subject: str | None) -> str | None:
    """`acs:mns:<region>:<account>:queues/<name>` → `<name>`."""
    if subject is None:
        return None
    _, separator, name = subject.rpartition(":queues/")
    return name if separator and name else None


def _decode_base64_body(body: str, message_id: str) -> str:
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"message {message_id}: the body is not Base64 of UTF-8 text: {exc}") from exc


# --------------------------------------------------------------------------- timer trigger


class TimerEvent(BaseModel):
    """The timer trigger's event (docs/runtime.md#timer-event); `payload` is the trigger message, a string."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    trigger_time: str = Field(alias="triggerTime")
    trigger_name: str = Field(alias="triggerName")
    payload: str | None = None


_TIMER_EVENT: TypeAdapter[TimerEvent] = TypeAdapter(TimerEvent)


def parse_timer_event(event: bytes | str) -> TimerEvent:
    return validate_event(event, _TIMER_EVENT, "a timer trigger event")
