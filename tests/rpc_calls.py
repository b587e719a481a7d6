"""Calls through the Alibaba SDK's generic RPC path (`call_api`), shared by the suites that need the whole JSON body
of a reply (the typed models drop fields we send, such as a worker's ErrorCode) or an action no typed model has."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

CAS_VERSION = "2020-04-07"


def rpc_params(action: str, version: str = CAS_VERSION) -> Params:
    """An RPC action POSTed as a form, its reply read as JSON: how the CAS SDK sends every action."""
    return Params(
        action=action,
        version=version,
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )


def raw_call(
    client: OpenApiClient, action: str, query: Mapping[str, Any], version: str = CAS_VERSION
) -> dict[str, Any]:
    """Call `action` with `query` (values sent as text) and return the whole JSON body."""
    request = OpenApiRequest(query={name: str(value) for name, value in query.items()})
    return client.call_api(rpc_params(action, version), request, RuntimeOptions())["body"]


def refused(call: Callable[[], Any]) -> ClientException:
    """The SDK's exception for a 4xx reply."""
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value
