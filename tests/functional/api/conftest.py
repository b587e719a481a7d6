"""The API through the official CAS SDK against the local HTTP front: one server per test on the functional
container, a client signed with the test account's AccessKey, on a clock that runs in real time (signatures carry
real timestamps)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_cas20200407.client import Client as CasClient

from certdeploy.app.accounts import Credentials
from certdeploy.bootstrap.container import Container
from certdeploy.local.http_server import ApiHttpServer
from tests.functional.api_support import INVENTORY, api_server, real_time_clock, sdk_client
from tests.functional.conftest import ManualClock, load_inventory


@pytest.fixture
def clock() -> ManualClock:
    return real_time_clock()


@pytest.fixture
def server(container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHttpServer]:
    with api_server(container, monkeypatch) as running:
        yield running


@pytest.fixture
def client(server: ApiHttpServer, account: Credentials) -> CasClient:
    return sdk_client(server, account)


@pytest.fixture
def inventory(container: Container, account: Credentials, tmp_path: Path) -> None:
    """The demo inventory loaded as the test account's cloud resources."""
    load_inventory(container, account.account.id, INVENTORY, tmp_path)
