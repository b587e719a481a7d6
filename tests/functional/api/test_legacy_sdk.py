"""The API through the legacy SDK (`aliyun-python-sdk-core`: `AcsClient` and `CommonRequest`, V1 signatures over GET
and POST), which reads the gateway's error texts and `Format=XML` replies as Alibaba's gateway writes them."""

from __future__ import annotations

import json
import warnings
from typing import Any
from xml.etree import ElementTree

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

from certdeploy.app.accounts import Credentials
from certdeploy.local.http_server import ApiHttpServer


def _legacy_client(credentials: Credentials, secret: str | None = None, key_id: str | None = None) -> AcsClient:
    return AcsClient(
        key_id or credentials.access_key_id,
        secret or credentials.access_key_secret,
        "cn-hangzhou",
        auto_retry=False,
        max_retry_time=0,
    )


def _request(server: ApiHttpServer, action: str, method: str = "GET", **query: Any) -> CommonRequest:
    request = CommonRequest(domain=server.endpoint, version="2020-04-07", action_name=action)
    request.set_protocol_type("http")
    request.set_method(method)
    for name, value in query.items():
        request.add_query_param(name, str(value))
    return request


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_legacy_client_reads_a_reply_and_an_error(server: ApiHttpServer, account: Credentials, method: str) -> None:
    client = _legacy_client(account)
    body = json.loads(client.do_action_with_exception(_request(server, "ListContact", method)))
    assert body["TotalCount"] == 0 and body["RequestId"]


def test_a_wrong_secret_is_told_as_the_gateway_tells_it(server: ApiHttpServer, account: Credentials) -> None:
    client = _legacy_client(account, secret="not-the-secret")
    with pytest.raises(ServerException) as caught:
        client.do_action_with_exception(_request(server, "ListContact"))
    # The SDK reads the gateway's text: the server's string to sign after the colon, to compare with its own.
    assert (caught.value.get_http_status(), caught.value.get_error_code()) == (400, "SignatureDoesNotMatch")
    _, string_to_sign = caught.value.get_error_msg().split(":")
    assert string_to_sign.startswith(f"GET&%2F&AccessKeyId%3D{account.access_key_id}%26Action%3DListContact%26")


def test_an_unknown_access_key_is_not_found(server: ApiHttpServer, account: Credentials) -> None:
    client = _legacy_client(account, key_id="LTAI-unknown")
    with pytest.raises(ServerException) as caught:
        client.do_action_with_exception(_request(server, "ListContact"))
    assert (caught.value.get_http_status(), caught.value.get_error_code()) == (404, "InvalidAccessKeyId.NotFound")


def _xml(client: AcsClient, request: CommonRequest) -> ElementTree.Element:
    request.set_accept_format("XML")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ElementTree.fromstring(client.do_action(request))


def test_format_xml_answers_xml_lists_as_repeated_elements(server: ApiHttpServer, account: Credentials) -> None:
    client = _legacy_client(account)
    for name, mobile in (("ops", "13800001234"), ("dev", "13800005678")):
        client.do_action_with_exception(_request(server, "CreateContact", Name=name, Mobile=mobile))

    root = _xml(client, _request(server, "ListContact"))

    assert root.tag == "ListContactResponse" and root.findtext("RequestId")
    assert root.findtext("TotalCount") == "2"
    assert sorted(item.findtext("Name") for item in root.findall("ContactList")) == ["dev", "ops"]


def test_format_xml_answers_errors_as_an_error_element(server: ApiHttpServer, account: Credentials) -> None:
    root = _xml(_legacy_client(account), _request(server, "DescribeDeploymentJob", JobId=999))
    assert root.tag == "Error"
    assert (root.findtext("Code"), root.findtext("HostId")) == ("NotFound", "cas.aliyuncs.com")
    assert root.findtext("RequestId") and root.findtext("Message")
