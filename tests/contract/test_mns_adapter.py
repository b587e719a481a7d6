"""The MNS adapter's own wire details, beyond the queue contract it shares with the local queue
(tests/contract/test_queue_contract.py): request signatures against MNS's reference vectors, Base64 bodies and
Content-MD5 as the SDK sends them, STS tokens, and how refused credentials, missing queues and an unreachable
service are reported. The adapter talks through the real SDK to the MNS wire test server.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from certdeploy.adapters.mns_queue import MnsQueue
from certdeploy.ports import (
    InvalidArgument,
    QueueAccessDenied,
    QueueNotFound,
    QueueUnavailable,
)
from tests.contract.queue_fixtures import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    receive_one,
)
from tests.servers.mns_server import MnsTestServer, signature, string_to_sign


def test_signature_matches_the_mns_reference_vectors() -> None:
    # docs/runtime.md#mns-wire-protocol; the MNS signature documentation's example, secret TestAccessSecret.
    headers = {"date": "Thu, 09 Jul 2015 03:01:34 GMT", "x-mns-version": "2015-06-06"}
    assert string_to_sign("GET", headers, "/MyQueue") == (
        "GET\n\n\nThu, 09 Jul 2015 03:01:34 GMT\nx-mns-version:2015-06-06\n/MyQueue"
    )
    assert signature("TestAccessSecret", "GET", headers, "/MyQueue") == "uwx3yeWoILzgmvesW0BQSgfM7b8="
    headers["date"] = "Sat, 28 Nov 2026 00:06:06 GMT"
    target = "/queues/myqueue/messages?ReceiptHandle=1-ODU4OTkzNDU5My0xNDM1MTk3NjAwLTItNg==&VisibilityTimeout=120"
    assert signature("TestAccessSecret", "PUT", headers, target) == "YOxnOa2hsG3bEUrIckYczwFSiDg="
    create_headers = {
        **headers,
        "content-md5": "OTYzNmE2NmNjZjM2MmVmMDJjNzNmNmRlMmMwYmJmN2E=",
        "content-type": "text/xml;charset=UTF-8",
    }
    assert signature("TestAccessSecret", "PUT", create_headers, "/queues/myqueue") == "dqvuZKqFmSKGJu6Be9vPO4OIYzU="


@pytest.fixture
def mns_server(tmp_path: Path) -> Iterator[MnsTestServer]:
    with MnsTestServer(
        tmp_path,
        credentials={ACCESS_KEY_ID: ACCESS_KEY_SECRET, "STS.key": "sts-secret"},
        security_tokens={"STS.key": "tok"},
    ) as server:
        server.create_queue("jobs")
        yield server


def test_the_adapter_sends_base64_bodies_with_the_sdk_content_md5_and_raw_receipt_handles(
    mns_server: MnsTestServer,
) -> None:
    queue = MnsQueue(mns_server.endpoint, ACCESS_KEY_ID, ACCESS_KEY_SECRET, "jobs")
    queue.send('{"job":"abc"}')
    received = receive_one(queue)
    queue.change_visibility(received.receipt_handle, 60)

    send = next(request for request in mns_server.requests if request.method == "POST")
    assert b"<MessageBody>eyJqb2IiOiJhYmMifQ==</MessageBody>" in send.body  # docs/runtime.md#mns-wire-protocol
    assert send.headers["content-md5"] == base64.b64encode(hashlib.md5(send.body).hexdigest().encode()).decode()
    assert "security-token" not in send.headers, "no token configured: the header must be absent, not 'None'"
    change = mns_server.requests[-1]
    assert change.target == f"/queues/jobs/messages?ReceiptHandle={received.receipt_handle}&VisibilityTimeout=60"


def test_sts_credentials_send_their_token(mns_server: MnsTestServer) -> None:
    queue = MnsQueue(mns_server.endpoint, "STS.key", "sts-secret", "jobs", security_token="tok")

    queue.send("with a token")

    assert receive_one(queue).body == "with a token"
    assert mns_server.requests[-1].headers["security-token"] == "tok"


@pytest.mark.parametrize(
    ("access_key_id", "secret", "token"),
    [
        (ACCESS_KEY_ID, "wrong secret", None),
        ("UnknownKey", ACCESS_KEY_SECRET, None),
        ("STS.key", "sts-secret", "expired token"),
        ("STS.key", "sts-secret", None),
        (ACCESS_KEY_ID, ACCESS_KEY_SECRET, "token for a key that has none"),
    ],
    ids=["bad secret", "unknown key", "wrong token", "missing token", "unexpected token"],
)
def test_refused_credentials_are_access_denied(
    mns_server: MnsTestServer, access_key_id: str, secret: str, token: str | None
) -> None:
    queue = MnsQueue(mns_server.endpoint, access_key_id, secret, "jobs", security_token=token)

    with pytest.raises(QueueAccessDenied):
        queue.send("refused")
    with pytest.raises(QueueAccessDenied):
        queue.receive()


def test_a_missing_queue_is_reported_as_not_found(mns_server: MnsTestServer) -> None:
    queue = MnsQueue(mns_server.endpoint, ACCESS_KEY_ID, ACCESS_KEY_SECRET, "no-such-queue")

    with pytest.raises(QueueNotFound):
        queue.send("lost")
    with pytest.raises(QueueNotFound):
        queue.receive()


def test_an_unreachable_service_is_unavailable(tmp_path: Path) -> None:
    with MnsTestServer(tmp_path) as server:
        endpoint = server.endpoint
    queue = MnsQueue(endpoint, ACCESS_KEY_ID, ACCESS_KEY_SECRET, "jobs")

    with pytest.raises(QueueUnavailable):
        queue.send("nobody listens")


def test_an_endpoint_without_scheme_is_refused_before_any_request() -> None:
    with pytest.raises(InvalidArgument):
        MnsQueue("127.0.0.1:1", ACCESS_KEY_ID, ACCESS_KEY_SECRET, "jobs")


def _signed_request(server: MnsTestServer, method: str, target: str, body: bytes, content_md5: str) -> tuple[int, str]:
    headers = {
        "content-md5": content_md5,
        "content-type": "text/xml;charset=UTF-8",
        "date": formatdate(usegmt=True),
        "x-mns-version": "2015-06-06",
    }
    headers["Authorization"] = f"MNS {ACCESS_KEY_ID}:{signature(ACCESS_KEY_SECRET, method, headers, target)}"
    host, port = server.endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8")
    finally:
        connection.close()


def test_the_server_accepts_rfc_1864_content_md5_and_refuses_a_wrong_one(mns_server: MnsTestServer) -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/">'
        b"<MessageBody>aGk=</MessageBody></Message>"
    )
    rfc_1864 = base64.b64encode(hashlib.md5(body).digest()).decode()
    wrong = base64.b64encode(hashlib.md5(b"other").hexdigest().encode()).decode()

    accepted_status, _ = _signed_request(mns_server, "POST", "/queues/jobs/messages", body, rfc_1864)
    refused_status, refusal = _signed_request(mns_server, "POST", "/queues/jobs/messages", body, wrong)

    assert accepted_status == 201
    assert refused_status == 400
    assert "<Code>InvalidDegist</Code>" in refusal
    for element in ("<Message>", "<RequestId>", "<HostId>"):
        assert element in refusal
