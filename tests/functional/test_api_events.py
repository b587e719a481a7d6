"""The API function fed the trigger events FC delivers (events/*.json, replayed as bytes), and the local HTTP front's
own limits: long request lines, body size, health."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_cas20200407 import models as cas

from certdeploy.app.accounts import Credentials, create_account
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.jobs import JobDraft, create_job
from certdeploy.bootstrap.container import Container
from certdeploy.local.context import FcContext, FunctionMeta
from certdeploy.local.http_front import API_HANDLER, load_function
from certdeploy.local.http_server import ApiHttpServer, serving
from tests.certgen import make_cert
from tests.functional.api_support import INVENTORY, api_server, real_time_clock, sdk_client
from tests.functional.conftest import ManualClock, load_inventory

EVENTS = Path(__file__).parent.parent.parent / "events"
API_CODE_DIR = Path(__file__).parent.parent.parent / "functions" / "api"
# The AccessKey the sample events are signed with, and the time they were signed at.
EVENT_ACCESS_KEY = ("LTAI5tExampleEventKey01", "ExampleEventSecretForTests0001")
EVENT_SIGNED_AT = datetime(2026, 11, 28, 8, 0, 30, tzinfo=timezone.utc)


def _event(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def _body(reply: dict[str, Any]) -> dict[str, Any]:
    return json.loads(reply["body"])


class TestSampleEvents:
    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(EVENT_SIGNED_AT)

    @pytest.fixture
    def job_id(self, container: Container, tmp_path: Path) -> int:
        account = create_account(container.store, "events", quota=5, access_key=EVENT_ACCESS_KEY).account.id
        load_inventory(container, account, INVENTORY, tmp_path)
        generated = make_cert(["*.example.com"], common_name="*.example.com")
        cert = upload_certificate(
            container.deps, account, CertificateUpload(name="wild", cert=generated.cert_pem, key=generated.key_pem)
        )
        resource = container.store.resources.search(account, page_size=1).items[0]
        return create_job(
            container.deps, account, JobDraft(name="from-event", cert_ids=(cert.id,), resource_ids=(resource.id,))
        ).id

    @pytest.mark.parametrize("event_file", ["api_gateway_request.json", "http_trigger_request.json"])
    def test_a_signed_event_is_answered_in_the_trigger_reply_shape_and_cannot_be_replayed(
        self, container: Container, job_id: int, event_file: str
    ) -> None:
        handler = load_function(API_CODE_DIR, "handler.handler")

        reply = handler(_event(event_file), FcContext(function=FunctionMeta("api", API_HANDLER), container=container))
        replayed = handler(
            _event(event_file), FcContext(function=FunctionMeta("api", API_HANDLER), container=container)
        )

        assert job_id == 1  # the job the sample event asks for
        assert (reply["statusCode"], reply["isBase64Encoded"]) == (200, False)
        assert reply["headers"]["Content-Type"].startswith("application/json")
        body = _body(reply)
        assert (body["Id"], body["Name"], body["Status"]) == (1, "from-event", "editing")
        assert reply["headers"]["x-acs-request-id"] == body["RequestId"]
        assert replayed["statusCode"] == 400 and _body(replayed)["Code"] == "SignatureNonceUsed"

    def test_an_event_that_is_not_a_trigger_event_is_answered_400(self, container: Container) -> None:
        handler = load_function(API_CODE_DIR, "handler.handler")

        replies = [
            handler(event, FcContext(function=FunctionMeta("api", API_HANDLER), container=container))
            for event in (b"not json", b"{}", b'{"path": 1}')
        ]

        assert {reply["statusCode"] for reply in replies} == {400}
        assert all(_body(reply)["Code"] == "InvalidRequest" and _body(reply)["RequestId"] for reply in replies)


class TestHttpFront:
    @pytest.fixture
    def clock(self) -> ManualClock:
        return real_time_clock()

    @pytest.fixture
    def server(self, container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHttpServer]:
        with api_server(container, monkeypatch) as running:
            yield running

    def _request(
        self, server: ApiHttpServer, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        host, port = server.server_address[:2]
        connection = http.client.HTTPConnection(str(host), port, timeout=10)
        connection.request(method, target, body=body, headers=headers or {})
        return connection.getresponse()

    def test_health_answers_once_ready(self, server: ApiHttpServer) -> None:
        response = self._request(server, "GET", "/health")

        assert response.status == 200 and json.loads(response.read()) == {"status": "ok"}

    def test_an_unsigned_request_gets_a_cas_error(self, server: ApiHttpServer) -> None:
        response = self._request(server, "POST", "/?Action=ListContact&Version=2020-04-07")

        body = json.loads(response.read())
        assert response.status == 400 and body["Code"] == "IncompleteSignature" and body["RequestId"]

    def test_request_lines_past_the_limit_and_bodies_past_the_cap_are_refused(self, server: ApiHttpServer) -> None:
        too_long = self._request(server, "POST", "/?Cert=" + "A" * server.limits.max_request_line)
        # The declared length alone is refused: the server answers before reading a body it will not take (sending
        # that body would race the server closing the connection).
        declared = {"Content-Length": str(server.limits.max_body_bytes + 1)}
        too_big = self._request(server, "POST", "/", headers=declared)

        assert too_long.status == 414 and json.loads(too_long.read())["Code"] == "RequestUriTooLong"
        assert too_big.status == 413 and json.loads(too_big.read())["Code"] == "RequestTooLarge"

    def test_a_request_line_of_almost_a_mebibyte_reaches_the_api(self, server: ApiHttpServer) -> None:
        response = self._request(server, "POST", "/?Cert=" + "A" * (server.limits.max_request_line - 100))

        assert response.status == 400 and json.loads(response.read())["Code"] == "IncompleteSignature"

    def test_a_server_around_a_plain_callable_answers_what_it_returns(self) -> None:
        seen: list[dict[str, Any]] = []

        def answer(event: bytes) -> dict[str, Any]:
            seen.append(json.loads(event))
            return {"statusCode": 202, "headers": {"X-Seen": "yes"}, "isBase64Encoded": False, "body": "{}"}

        with serving(ApiHttpServer(answer)) as server:
            response = self._request(
                server, "POST", "/?Name=a+b&Name=c&CertIds=1%2C2", body=b"k=v", headers={"X-Seen-By": "test"}
            )

        assert (response.status, response.getheader("X-Seen")) == (202, "yes")
        event = seen[0]
        # The FC HTTP-trigger event (events/http_trigger_request.json): repeated parameters comma-joined.
        assert event["queryParameters"] == {"Name": "a b,c", "CertIds": "1,2"}
        assert event["requestContext"]["http"]["method"] == "POST"
        assert (event["rawPath"], event["isBase64Encoded"], event["body"]) == ("/", True, "az12")
        assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
        assert event["headers"]["x-seen-by"] == "test"

    def test_the_sdk_works_through_the_front_with_both_signatures(
        self, server: ApiHttpServer, container: Container
    ) -> None:
        credentials: Credentials = create_account(container.store, "front", quota=1)

        for signing in ({}, {"signature_algorithm": "v2"}):
            response = sdk_client(server, credentials, **signing).list_contact(cas.ListContactRequest())
            assert response.status_code == 200 and response.body.total_count == 0
