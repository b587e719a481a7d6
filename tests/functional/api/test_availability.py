"""Issue 10 item 4: while a hostile client sends the worst inputs of items 1–3 in a loop from several threads,
`/health` and a second account's ListDeploymentJob keep being served, and every hostile call is answered (refused,
throttled or bounded: never a 5xx, never a timeout). Timings are bench/availability.py's, not a test's."""

from __future__ import annotations

import pytest

from certdeploy.app.accounts import Credentials, create_account
from certdeploy.bootstrap.container import Container
from certdeploy.local.http_front import api_function_runner
from certdeploy.local.http_server import ApiHttpServer, serving
from tests.availability import CpuMeter, hostile_calls, hostile_load, probe, upload_many_wildcards
from tests.functional.api_support import PROXY_VARIABLES, sdk_client

pytestmark = pytest.mark.usefixtures("inventory")

ROUNDS = 15
# Each hostile input is refused as the caller's mistake, or bounded and served, or the account is throttled.
REFUSED = ("Cert", "Key", "CertIds", "ResourceIds", "Webhooks", "Keyword")
HOSTILE_ANSWERS = {"ok", "Throttling.User", *(f"InvalidParameter.{name}" for name in REFUSED)}


def test_health_and_another_account_are_served_while_a_hostile_client_loops(
    container: Container, account: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    meter = CpuMeter(api_function_runner(container))
    other = create_account(container.store, "bystander", quota=1)
    with serving(ApiHttpServer(meter)) as server:
        hostile = sdk_client(server, account)
        calls = hostile_calls(hostile, upload_many_wildcards(hostile))
        with hostile_load(calls) as tally:
            probes = probe(server, sdk_client(server, other), ROUNDS)

    assert probes.failures == []
    assert {name: len(seconds) for name, seconds in probes.seconds.items()} == {"health": ROUNDS, "list_jobs": ROUNDS}
    assert tally.answers and set(tally.answers) <= HOSTILE_ANSWERS, tally.answers
