"""The queue port on Alibaba Cloud MNS through `aliyun-mns-sdk` 1.3.0 (docs/runtime.md#mns-adapter).

Bodies are text. They go on the wire as Base64 of their UTF-8 bytes, which is what the SDK does by default and what an
MNS trigger with `IsBase64Decode` expects; the adapter does the encoding itself (SDK encoding off) so that it can also
hand over a body some other producer sent without Base64, instead of failing the whole receive on it
(docs/runtime.md#mns-adapter).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Sequence

from mns.account import Account
from mns.mns_exception import (
    MNSClientNetworkException,
    MNSClientParameterException,
    MNSExceptionBase,
    MNSServerException,
)
from mns.queue import Message
from mns.queue import Queue as SdkQueue

from certdeploy.ports.queue import (
    InvalidArgument,
    QueueAccessDenied,
    QueueError,
    QueueNotFound,
    QueueUnavailable,
    ReceiptHandleInvalid,
    ReceivedMessage,
    check_batch_delete_arguments,
    check_batch_send_arguments,
    check_receive_arguments,
    check_send_arguments,
    check_visibility_timeout,
)

# The SDK puts the receipt handle into the query string raw (docs/runtime.md#mns-wire-protocol); MNS issues Base64-like
# handles, so anything else cannot be one and would corrupt the request line.
_RECEIPT_HANDLE_PATTERN = re.compile(r"[A-Za-z0-9+/=_.:-]+")

# Error codes: docs/runtime.md#mns-adapter.
_ACCESS_DENIED_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"})
_UNAVAILABLE_CODES = frozenset(
    {"InternalError", "InternalServerError", "ServiceUnavailable", "QpsLimitExceeded", "TimeExpired"}
)
_STALE_HANDLE_CODES = frozenset({"MessageNotExist", "ReceiptHandleError"})


class MnsQueue:
    """One MNS queue. The SDK client is built on first use, one per thread (an SDK client holds a single connection)."""

    def __init__(
        self,
        endpoint: str,
        access_key_id: str,
        access_key_secret: str,
        queue_name: str,
        *,
        security_token: str | None = None,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise InvalidArgument(f"the MNS endpoint needs an http:// or https:// prefix: {endpoint!r}")
        self.name = queue_name
        self._endpoint = endpoint
        self._access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        # The SDK compares the token with "" and would send `security-token: None` for None
        # (docs/runtime.md#mns-adapter).
        self._security_token = security_token or ""
        self._per_thread = threading.local()

    def send(self, body: str, delay_seconds: int = 0) -> str:
        check_send_arguments(body, delay_seconds)
        wire_body = base64.b64encode(body.encode("utf-8")).decode("ascii")
        try:
            sent = self._sdk_queue().send_message(Message(wire_body, delay_seconds=delay_seconds))
        except MNSExceptionBase as exc:
            raise _queue_error(exc) from exc
        return str(sent.message_id)

    def send_batch(self, bodies: Sequence[str], delay_seconds: int = 0) -> list[str]:
        check_batch_send_arguments(bodies, delay_seconds)
        messages = [
            Message(base64.b64encode(body.encode("utf-8")).decode("ascii"), delay_seconds=delay_seconds)
            for body in bodies
        ]
        try:
            sent = self._sdk_queue().batch_send_message(messages)
        except MNSExceptionBase as exc:
            raise _queue_error(exc) from exc
        return [str(message.message_id) for message in sent]

    def receive(self, wait_seconds: int = 0) -> ReceivedMessage | None:
        check_receive_arguments(1, wait_seconds)
        try:
            message = self._sdk_queue().receive_message(wait_seconds)
        except MNSServerException as exc:
            if exc.type == "MessageNotExist":  # the queue had nothing visible during the wait
                return None
            raise _queue_error(exc) from exc
        except MNSExceptionBase as exc:
            raise _queue_error(exc) from exc
        return _received(message)

    def receive_batch(self, max_messages: int, wait_seconds: int = 0) -> list[ReceivedMessage]:
        check_receive_arguments(max_messages, wait_seconds)
        try:
            messages = self._sdk_queue().batch_receive_message(max_messages, wait_seconds)
        except MNSServerException as exc:
            if exc.type == "MessageNotExist":
                return []
            raise _queue_error(exc) from exc
        except MNSExceptionBase as exc:
            raise _queue_error(exc) from exc
        return [_received(message) for message in messages]

    def delete(self, receipt_handle: str) -> None:
        _check_receipt_handle(receipt_handle)
        try:
            self._sdk_queue().delete_message(receipt_handle)
        except MNSExceptionBase as exc:
            raise _queue_error(exc) from exc

    def delete_batch(self, receipt_handles: Sequence[str]) -> list[str]:
        check_batch_delete_arguments(receipt_handles)
        for receipt_handle in receipt_handles:
            _check_receipt_handle(receipt_handle)
        try:
            self._sdk_queue().batch_delete_message(list(receipt_handles))
        except MNSServerException as exc:
            # Some handles were stale: MNS deleted the others and lists one error per stale handle.
            errors = exc.sub_errors or []
            if errors and all(error["ErrorCode"] in _STALE_HANDLE_CODES for error in errors):
                return [error["ReceiptHandle"] for error in errors]
            raise _queue_error(exc) from exc
        except MNSExceptionBase as exc:
            raise _queue_error(exc) from exc
        return []

    def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> str:
        _check_receipt_handle(receipt_handle)
        check_visibility_timeout(visibility_timeout)
        try:
            changed = self._sdk_queue().change_message_visibility(receipt_handle, visibility_timeout)
        except MNSExceptionBase as exc:
            raise _queue_error(exc) from exc
        return str(changed.receipt_handle)

    def _sdk_queue(self) -> SdkQueue:
        queue: SdkQueue | None = getattr(self._per_thread, "queue", None)
        if queue is None:
            account = Account(self._endpoint, self._access_key_id, self._access_key_secret, self._security_token)
            queue = account.get_queue(self.name)
            queue.set_encoding(False)
            self._per_thread.queue = queue
        return queue


def _received(message: Message) -> ReceivedMessage:
    return ReceivedMessage(
        message_id=str(message.message_id),
        body=_text_body(message.message_body),
        receipt_handle=str(message.receipt_handle),
        receive_count=int(message.dequeue_count),
        enqueue_time_ms=int(message.enqueue_time),
        first_receive_time_ms=int(message.first_dequeue_time),
        next_visible_time_ms=int(message.next_visible_time),
    )


def _text_body(wire_body: str) -> str:
    try:
        return base64.b64decode(wire_body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        # Not Base64 of UTF-8, so not from a certdeploy producer: the consumer gets it as sent and treats it as poison.
        return wire_body


def _check_receipt_handle(receipt_handle: str) -> None:
    if not _RECEIPT_HANDLE_PATTERN.fullmatch(receipt_handle):
        raise ReceiptHandleInvalid(f"{receipt_handle!r} is not an MNS receipt handle")


def _queue_error(exc: MNSExceptionBase) -> QueueError:
    """The port's error for an SDK exception. `MessageNotExist` on a receive is no error; callers handle it first."""
    detail = f"MNS {exc.type}: {exc.message}"
    if isinstance(exc, MNSServerException):
        if exc.type in _STALE_HANDLE_CODES:
            return ReceiptHandleInvalid(detail)
        if exc.type == "QueueNotExist":
            return QueueNotFound(detail)
        if exc.type in _ACCESS_DENIED_CODES:
            return QueueAccessDenied(detail)
        if exc.type in _UNAVAILABLE_CODES:
            return QueueUnavailable(detail)
        if exc.type == "InvalidArgument":
            return InvalidArgument(detail)
        return QueueError(detail)
    if isinstance(exc, MNSClientNetworkException):
        return QueueUnavailable(detail)
    if isinstance(exc, MNSClientParameterException):
        return InvalidArgument(detail)
    return QueueError(detail)
