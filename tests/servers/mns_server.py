"""A small MNS server speaking the REST wire protocol of `aliyun-mns-sdk` 1.3.0, for tests
(docs/runtime.md#mns-wire-protocol).

The wire is checked the way MNS checks it: the `MNS AccessKeyId:Signature` signature over the raw request target,
the SDK's Content-MD5 form, the `security-token` header of STS credentials, the Date skew; refusals are MNS XML
errors. Queue semantics (delay, visibility timeout, fresh receipt handles, dequeue count, dead-letter after
N receives, long polling) come from the local queue engine, over one SQLite file under `data_dir`.

Operations: CreateQueue, SendMessage, BatchSendMessage, ReceiveMessage, BatchReceiveMessage, DeleteMessage,
ChangeMessageVisibility.
Anything else is refused with an MNS error. The dead-letter policy cannot be set through the SDK, so `create_queue`
sets it from Python. Message priority is accepted and reported but does not reorder delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message as HeaderMap
from email.utils import parsedate_to_datetime
from pathlib import Path

from certdeploy.adapters.local_queue import QUEUE_NAME_PATTERN, RECEIPT_HANDLE_PATTERN, LocalQueue
from certdeploy.ports.clock import Clock
from certdeploy.ports.queue import (
    MAX_BATCH_MESSAGES,
    MAX_DELAY_SECONDS,
    MAX_MESSAGE_BYTES,
    MAX_WAIT_SECONDS,
    InvalidArgument,
    MessageTooLarge,
    QueueAttributes,
    QueueError,
    ReceiptHandleInvalid,
    ReceivedMessage,
)
from tests.servers.loopback import LoopbackHttpServer, LoopbackRequestHandler, ServiceError

NAMESPACE = "http://mns.aliyuncs.com/doc/v1/"
HOST_ID = "mns.test.local"
MAX_CLOCK_SKEW_SECONDS = 15 * 60
DEFAULT_CREDENTIALS: Mapping[str, str] = {"TestAccessID": "TestAccessSecret"}
_DEFAULT_PRIORITY = 8
_PATH_PATTERN = re.compile(r"/queues/(?P<queue>[^/?]+)(?P<messages>/messages)?")


class MnsErrorResponse(ServiceError):
    """An MNS error answer."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    target: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class _ServedQueue:
    engine: LocalQueue
    created_with: dict[str, str] = field(default_factory=dict)
    delay_seconds: int = 0
    polling_wait_seconds: int = 0


def string_to_sign(method: str, headers: Mapping[str, str], target: str) -> str:
    """docs/runtime.md#mns-wire-protocol: METHOD, Content-MD5, Content-Type, Date, the sorted x-mns-* headers, then the
    raw request target."""
    lowered = {name.lower(): value for name, value in headers.items()}
    mns_headers = "".join(f"{name}:{lowered[name]}\n" for name in sorted(lowered) if name.startswith("x-mns-"))
    return (
        "\n".join(
            [
                method,
                lowered.get("content-md5", ""),
                lowered.get("content-type", ""),
                lowered.get("date", ""),
                mns_headers,
            ]
        )
        + target
    )


def signature(access_key_secret: str, method: str, headers: Mapping[str, str], target: str) -> str:
    digest = hmac.new(
        access_key_secret.encode("utf-8"), string_to_sign(method, headers, target).encode("utf-8"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class _Handler(LoopbackRequestHandler):
    def serve(self) -> None:
        body = self.read_body()
        request_id = uuid.uuid4().hex.upper()
        mns: MnsTestServer = self.server.test_server
        try:
            status, payload, extra_headers = mns.handle(self.command, self.path, self.headers, body)
        except (MnsErrorResponse, QueueError) as failure:
            error = (
                failure
                if isinstance(failure, MnsErrorResponse)
                else MnsErrorResponse(500, "InternalError", str(failure))
            )
            status, extra_headers = error.status, {}
            payload = _xml(
                "Error", {"Code": error.code, "Message": error.message, "RequestId": request_id, "HostId": HOST_ID}
            )
        encoded = payload.encode("utf-8")
        headers = {"x-mns-request-id": request_id, "x-mns-version": "2015-06-06"}
        if encoded:
            headers["Content-Type"] = "text/xml;charset=utf-8"
        self.send_reply(status, encoded, headers | extra_headers)


class MnsTestServer(LoopbackHttpServer):
    """Serves on an ephemeral loopback port once started; `endpoint` is what `Account`/`MnsQueue` take as host.

    `security_tokens` maps an AccessKey id to the STS token its requests must carry; any other key must carry none.
    `clock` drives message timing (delay, visibility); signature dates are checked against the real time.
    """

    handler_class = _Handler
    thread_name = "mns-test-server"

    def __init__(
        self,
        data_dir: Path,
        *,
        credentials: Mapping[str, str] = DEFAULT_CREDENTIALS,
        security_tokens: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        poll_interval_seconds: float = 0.02,
    ) -> None:
        super().__init__()
        self._db_path = Path(data_dir) / "mns-test-server.sqlite3"
        self._credentials = dict(credentials)
        self._security_tokens = dict(security_tokens or {})
        self._clock = clock
        self._poll_interval_seconds = poll_interval_seconds
        self._queues: dict[str, _ServedQueue] = {}
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []

    @property
    def endpoint(self) -> str:
        return f"http://{super().endpoint}"

    def stop(self) -> None:
        super().stop()
        with self._lock:
            for queue in self._queues.values():
                queue.engine.close()
            self._queues.clear()

    def create_queue(
        self,
        name: str,
        attributes: QueueAttributes | None = None,
        *,
        delay_seconds: int = 0,
        polling_wait_seconds: int = 0,
    ) -> None:
        """Create (or redefine) a queue with what the SDK cannot set, such as its dead-letter policy."""
        engine = self._engine(name, attributes or QueueAttributes())
        with self._lock:
            previous = self._queues.pop(name, None)
            self._queues[name] = _ServedQueue(engine, {}, delay_seconds, polling_wait_seconds)
        if previous is not None:
            previous.engine.close()

    # ------------------------------------------------------------------------------------------- request handling

    def handle(self, method: str, target: str, headers: HeaderMap, body: bytes) -> tuple[int, str, dict[str, str]]:
        """Answer one request: (status, XML body or "", extra response headers)."""
        with self._lock:
            self.requests.append(
                RecordedRequest(method, target, {name.lower(): value for name, value in headers.items()}, body)
            )
        self._authenticate(method, target, headers, body)
        path, _, raw_query = target.partition("?")
        query = _raw_query(raw_query)
        match = _PATH_PATTERN.fullmatch(path)
        if match is None:
            raise MnsErrorResponse(400, "InvalidRequestURL", f"{path} is not a queue or message resource.")
        name = match["queue"]
        if match["messages"] is None:
            if method == "PUT" and not query:
                return self._create_queue(name, body)
            raise MnsErrorResponse(400, "InvalidRequestURL", f"{method} {target} is not supported by this test server.")
        queue = self._served(name)
        if method == "POST":
            return self._send(queue, body)
        if method == "GET" and "peekonly" not in query:
            return self._receive(queue, query)
        if method == "DELETE" and "ReceiptHandle" in query:
            return self._delete(queue, query["ReceiptHandle"])
        if method == "DELETE" and not query:
            return self._batch_delete(queue, body)
        if method == "PUT" and "ReceiptHandle" in query:
            return self._change_visibility(queue, query)
        raise MnsErrorResponse(400, "InvalidRequestURL", f"{method} {target} is not supported by this test server.")

    def _authenticate(self, method: str, target: str, headers: HeaderMap, body: bytes) -> None:
        authorization = headers.get("Authorization")
        if authorization is None:
            raise MnsErrorResponse(400, "MissingAuthorizationHeader", "Authorization header is missing.")
        scheme, _, credential = authorization.partition(" ")
        access_key_id, _, given_signature = credential.rpartition(":")
        if scheme != "MNS" or not access_key_id or not given_signature:
            raise MnsErrorResponse(400, "InvalidAuthorizationHeader", "Authorization header is invalid or missing.")
        date = headers.get("Date")
        if date is None:
            raise MnsErrorResponse(400, "MissingDateHeader", "Date header is missing.")
        try:
            sent_at = parsedate_to_datetime(date)
        except (TypeError, ValueError) as exc:
            raise MnsErrorResponse(400, "InvalidDateHeader", f"Date header {date!r} is invalid.") from exc
        if abs((datetime.now(timezone.utc) - sent_at).total_seconds()) > MAX_CLOCK_SKEW_SECONDS:
            raise MnsErrorResponse(408, "TimeExpired", "The request time is more than 15 minutes off.")
        secret = self._credentials.get(access_key_id)
        if secret is None:
            raise MnsErrorResponse(403, "InvalidAccessKeyId", f"AccessKeyId {access_key_id} does not exist.")
        expected = signature(secret, method, dict(headers.items()), target)
        if not hmac.compare_digest(expected, given_signature):
            raise MnsErrorResponse(403, "SignatureDoesNotMatch", "The request signature does not match.")
        if headers.get("security-token") != self._security_tokens.get(access_key_id):
            raise MnsErrorResponse(403, "AccessDenied", "The security token is missing, unexpected or wrong.")
        if body:
            _check_content_md5(headers.get("Content-MD5"), body)

    def _create_queue(self, name: str, body: bytes) -> tuple[int, str, dict[str, str]]:
        if not QUEUE_NAME_PATTERN.fullmatch(name):
            raise MnsErrorResponse(400, "InvalidQueueName", f"{name} is not a valid queue name.")
        requested = _children(_parse(body, "Queue"))
        with self._lock:
            existing = self._queues.get(name)
        location = {"Location": f"{self.endpoint}/queues/{name}"}
        if existing is not None:
            if existing.created_with == requested:
                return 204, "", location
            raise MnsErrorResponse(409, "QueueAlreadyExist", f"The queue {name} already exists.")
        try:
            attributes = QueueAttributes(visibility_timeout_seconds=int(requested.get("VisibilityTimeout", "30")))
            delay_seconds = _bounded_int(requested.get("DelaySeconds", "0"), "DelaySeconds", MAX_DELAY_SECONDS)
            polling_wait = _bounded_int(
                requested.get("PollingWaitSeconds", "0"), "PollingWaitSeconds", MAX_WAIT_SECONDS
            )
        except (InvalidArgument, ValueError) as exc:
            raise MnsErrorResponse(400, "InvalidArgument", str(exc)) from exc
        engine = self._engine(name, attributes)
        with self._lock:
            self._queues[name] = _ServedQueue(engine, requested, delay_seconds, polling_wait)
        return 201, "", location

    def _send(self, queue: _ServedQueue, body: bytes) -> tuple[int, str, dict[str, str]]:
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError as exc:
            raise MnsErrorResponse(400, "MalformedXML", f"The XML you provided is not well-formed: {exc}") from exc
        if _local_name(root.tag) == "Messages":
            return self._batch_send(queue, [_children(child) for child in root])
        message_body, delay = self._message(queue, _children(_parse(body, "Message")))
        message_id = self._enqueue(queue, message_body, delay)
        return 201, _xml("Message", {"MessageId": message_id, "MessageBodyMD5": _body_md5(message_body)}), {}

    def _batch_send(self, queue: _ServedQueue, messages: list[dict[str, str]]) -> tuple[int, str, dict[str, str]]:
        """BatchSendMessage: 1–16 messages, all checked before any is enqueued."""
        if not 1 <= len(messages) <= MAX_BATCH_MESSAGES:
            raise MnsErrorResponse(400, "InvalidArgument", f"A batch holds 1 to {MAX_BATCH_MESSAGES} messages.")
        checked = [self._message(queue, fields) for fields in messages]
        sent = [
            {"MessageId": self._enqueue(queue, message_body, delay), "MessageBodyMD5": _body_md5(message_body)}
            for message_body, delay in checked
        ]
        return 201, _xml_list("Messages", "Message", sent), {}

    @staticmethod
    def _message(queue: _ServedQueue, fields: dict[str, str]) -> tuple[str, int]:
        message_body = fields.get("MessageBody", "")
        delay = _bounded_int(fields.get("DelaySeconds", str(queue.delay_seconds)), "DelaySeconds", MAX_DELAY_SECONDS)
        _bounded_int(fields.get("Priority", str(_DEFAULT_PRIORITY)), "Priority", 16, low=1)
        if not message_body or len(message_body.encode("utf-8")) > MAX_MESSAGE_BYTES:
            raise MnsErrorResponse(
                400, "InvalidArgument", f"The value of MessageBody should between 1 and {MAX_MESSAGE_BYTES} bytes."
            )
        return message_body, delay

    @staticmethod
    def _enqueue(queue: _ServedQueue, message_body: str, delay: int) -> str:
        try:
            return queue.engine.send(message_body, delay)
        except (InvalidArgument, MessageTooLarge) as exc:
            raise MnsErrorResponse(
                400, "InvalidArgument", f"The value of MessageBody should between 1 and {MAX_MESSAGE_BYTES} bytes."
            ) from exc

    def _receive(self, queue: _ServedQueue, query: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        wait = _bounded_int(query.get("waitseconds", str(queue.polling_wait_seconds)), "waitseconds", MAX_WAIT_SECONDS)
        if "numOfMessages" not in query:
            received = queue.engine.receive_batch(1, wait)
            if not received:
                raise _message_not_exist()
            return 200, _xml("Message", _message_fields(received[0])), {}
        count = _bounded_int(query["numOfMessages"], "numOfMessages", MAX_BATCH_MESSAGES, low=1)
        received = queue.engine.receive_batch(count, wait)
        if not received:
            raise _message_not_exist()
        return 200, _xml_list("Messages", "Message", [_message_fields(message) for message in received]), {}

    def _delete(self, queue: _ServedQueue, receipt_handle: str) -> tuple[int, str, dict[str, str]]:
        try:
            queue.engine.delete(receipt_handle)
        except ReceiptHandleInvalid as exc:
            raise _receipt_handle_error(receipt_handle) from exc
        return 204, "", {}

    def _batch_delete(self, queue: _ServedQueue, body: bytes) -> tuple[int, str, dict[str, str]]:
        """BatchDeleteMessage: deletes each valid handle; a stale one is an `Errors` entry (404 when any is)."""
        handles = [element.text or "" for element in _parse(body, "ReceiptHandles")]
        if not 1 <= len(handles) <= MAX_BATCH_MESSAGES:
            raise MnsErrorResponse(400, "InvalidArgument", f"A batch holds 1 to {MAX_BATCH_MESSAGES} receipt handles.")
        errors = []
        for handle in handles:
            try:
                self._delete(queue, handle)
            except MnsErrorResponse as failure:
                errors.append({"ErrorCode": failure.code, "ErrorMessage": failure.message, "ReceiptHandle": handle})
        if not errors:
            return 204, "", {}
        return 404, _xml_list("Errors", "Error", errors), {}

    def _change_visibility(self, queue: _ServedQueue, query: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        if "VisibilityTimeout" not in query:
            raise MnsErrorResponse(400, "MissingVisibilityTimeout", "VisibilityTimeout is missing.")
        receipt_handle = query["ReceiptHandle"]
        seconds = _bounded_int(query["VisibilityTimeout"], "VisibilityTimeout", 43_200, low=1)
        try:
            new_handle = queue.engine.change_visibility(receipt_handle, seconds)
        except ReceiptHandleInvalid as exc:
            raise _receipt_handle_error(receipt_handle) from exc
        now_ms = _now_ms(self._clock)
        fields = {"ReceiptHandle": new_handle, "NextVisibleTime": str(now_ms + seconds * 1000)}
        return 200, _xml("ChangeVisibility", fields), {}

    def _served(self, name: str) -> _ServedQueue:
        with self._lock:
            queue = self._queues.get(name)
        if queue is None:
            raise MnsErrorResponse(404, "QueueNotExist", "The queue name you provided is not exist.")
        return queue

    def _engine(self, name: str, attributes: QueueAttributes) -> LocalQueue:
        # Bodies are stored in wire form (Base64 text), which MNS allows up to the full 64 KB.
        return LocalQueue(
            self._db_path,
            name,
            attributes=attributes,
            clock=self._clock,
            poll_interval_seconds=self._poll_interval_seconds,
            max_body_bytes=MAX_MESSAGE_BYTES,
        )


def _raw_query(raw_query: str) -> dict[str, str]:
    """docs/runtime.md#mns-wire-protocol: values arrive raw (receipt handles hold `+`, `/`, `=`), so no percent- or
    plus-decoding."""
    pairs = (item.partition("=") for item in raw_query.split("&") if item)
    return {name: value for name, _, value in pairs}


def _check_content_md5(header: str | None, body: bytes) -> None:
    """Accept the SDK's Base64-of-hex form (docs/runtime.md#mns-wire-protocol) as well as RFC 1864's
    Base64-of-digest."""
    if header is None:
        return
    digest = hashlib.md5(body)
    accepted = {
        base64.b64encode(digest.hexdigest().encode("ascii")).decode("ascii"),
        base64.b64encode(digest.digest()).decode("ascii"),
    }
    if header not in accepted:
        raise MnsErrorResponse(400, "InvalidDegist", "The Content-MD5 you specified is not valid.")


def _parse(body: bytes, root_name: str) -> ElementTree.Element:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise MnsErrorResponse(400, "MalformedXML", f"The XML you provided is not well-formed: {exc}") from exc
    if _local_name(root.tag) != root_name:
        raise MnsErrorResponse(400, "MalformedXML", f"Expected a <{root_name}> document.")
    return root


def _children(element: ElementTree.Element) -> dict[str, str]:
    return {_local_name(child.tag): child.text or "" for child in element}


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def _bounded_int(text: str, name: str, high: int, *, low: int = 0) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise MnsErrorResponse(400, "InvalidArgument", f"The value of {name} should between {low} and {high}.")
    return value


def _message_fields(message: ReceivedMessage) -> dict[str, str]:
    return {
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt_handle,
        "MessageBodyMD5": _body_md5(message.body),
        "MessageBody": message.body,
        "EnqueueTime": str(message.enqueue_time_ms),
        "NextVisibleTime": str(message.next_visible_time_ms),
        "FirstDequeueTime": str(message.first_receive_time_ms),
        "DequeueCount": str(message.receive_count),
        "Priority": str(_DEFAULT_PRIORITY),
    }


def _body_md5(body: str) -> str:
    return hashlib.md5(body.encode("utf-8")).hexdigest().upper()


def _message_not_exist() -> MnsErrorResponse:
    return MnsErrorResponse(404, "MessageNotExist", "Message not exist.")


def _receipt_handle_error(receipt_handle: str) -> MnsErrorResponse:
    if RECEIPT_HANDLE_PATTERN.fullmatch(receipt_handle):
        return _message_not_exist()
    return MnsErrorResponse(400, "ReceiptHandleError", "The receipt handle you provide is not valid.")


def _xml(root_name: str, fields: Mapping[str, str]) -> str:
    root = ElementTree.Element(root_name, xmlns=NAMESPACE)
    _append_fields(root, fields)
    return _document(root)


def _xml_list(root_name: str, item_name: str, items: list[dict[str, str]]) -> str:
    root = ElementTree.Element(root_name, xmlns=NAMESPACE)
    for fields in items:
        _append_fields(ElementTree.SubElement(root, item_name), fields)
    return _document(root)


def _append_fields(parent: ElementTree.Element, fields: Mapping[str, str]) -> None:
    for name, value in fields.items():
        ElementTree.SubElement(parent, name).text = value


def _document(root: ElementTree.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(root, encoding="unicode")


def _now_ms(clock: Clock | None) -> int:
    now = clock.now() if clock is not None else datetime.now(timezone.utc)
    return int(now.timestamp() * 1000)
