"""The per-account API rate limit through the official SDK (issue 10 item 11, docs/protocol.md#throttling): over it,
a call is refused with the gateway's `Throttling.User` (HTTP 400) and a RequestId, and other accounts are unaffected."""

from __future__ import annotations

from dataclasses import replace

import pytest
from alibabacloud_cas20200407 import models as cas

from certdeploy.api.throttle import RateLimiter
from certdeploy.app.accounts import Credentials, create_account
from certdeploy.bootstrap.container import Container
from tests.functional.api_support import api_server, sdk_client
from tests.rpc_calls import refused


def test_calls_over_the_accounts_rate_are_throttled_and_another_account_is_served(
    container: Container, account: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a rate of one call per 1,000 s, two at once
    container.api = replace(container.api, rate_limit=RateLimiter(0.001, 2))
    other = create_account(container.store, "other", quota=1)
    with api_server(container, monkeypatch) as server:
        client, other_client = sdk_client(server, account), sdk_client(server, other)
        listing = cas.ListDeploymentJobRequest()
        # WHEN the account calls three times
        client.list_deployment_job(listing)
        client.list_deployment_job(listing)
        error = refused(lambda: client.list_deployment_job(listing))
        # THEN the third is throttled as Alibaba Cloud's gateway throttles
        assert (error.code, error.status_code) == ("Throttling.User", 400)
        assert "Request was denied due to user flow control." in error.message
        assert error.request_id
        # AND another account is served meanwhile
        assert other_client.list_deployment_job(listing).body.total == 0
