"""Functional tests run the use cases on the embedded runtime: SQLite store, local queues, local cloud."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from certdeploy.adapters.local_inventory import read_inventory
from certdeploy.app.accounts import Credentials, create_account
from certdeploy.app.messages import QueueRole
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from tests.fakes.queue_drain import drain

START = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)


class ManualClock:
    def __init__(self, now: datetime = START) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def container(tmp_path: Path, clock: ManualClock) -> Iterator[Container]:
    settings = Settings(data=tmp_path / "data", deploy_retry_base_seconds=1, deploy_max_attempts=3)
    built = build_container(settings, clock=clock)
    yield built
    built.close()


@pytest.fixture
def account(container: Container) -> Credentials:
    return create_account(container.store, "acme", quota=10)


def load_inventory(container: Container, account_id: int, text: str, tmp_path: Path) -> None:
    from certdeploy.app.resources import sync_resources

    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    assert container.local_cloud is not None
    container.local_cloud.load(account_id, read_inventory(path))
    sync_resources(container.deps, account_id)


__all__ = ["QueueRole", "drain", "load_inventory"]
