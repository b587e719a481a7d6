"""The scheduler's resource sync on the local cloud: once per interval per account, a page at a time, new resources
inserted, changed ones refreshed, unreported ones marked gone (docs/runtime.md#resource-sync)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from certdeploy.adapters.local_inventory import read_inventory
from certdeploy.app import resources as resource_sync
from certdeploy.app.accounts import create_account
from certdeploy.app.resources import sync_resources
from certdeploy.app.scheduler import tick
from certdeploy.bootstrap.container import Container
from certdeploy.domain.models import Resource
from certdeploy.ports.store.resources import ResourceSpec
from tests.functional.conftest import ManualClock, load_inventory


def _entry(index: int, more: str = "") -> str:
    return f"  - {{product: CDN, region: cn-hangzhou, instance: cdn-{index}, domain: h{index}.example.com{more}}}\n"


def _inventory(*entries: str) -> str:
    return "resources:\n" + "".join(entries)


def _reload(container: Container, account_id: int, text: str, tmp_path: Path) -> None:
    """Change the local cloud without syncing, as a hand edit or another process would."""
    path = tmp_path / "changed.yaml"
    path.write_text(text)
    assert container.local_cloud is not None
    container.local_cloud.load(account_id, read_inventory(path))


def _by_domain(container: Container, account_id: int) -> dict[str, Resource]:
    listed = container.store.resources.search(account_id, include_gone=True, page_size=100).items
    return {resource.domain: resource for resource in listed}


@pytest.fixture
def account_id(container: Container, tmp_path: Path) -> int:
    account = create_account(container.store, "acme").account.id
    load_inventory(container, account, _inventory(_entry(1)), tmp_path)
    return account


def test_a_tick_syncs_an_account_once_its_interval_passed(
    container: Container, account_id: int, clock: ManualClock, tmp_path: Path
) -> None:
    _reload(container, account_id, _inventory(_entry(1), _entry(2)), tmp_path)

    clock.advance(container.deps.resource_sync_seconds - 1)
    assert tick(container.deps).synced_resources == 0  # loading synced it a moment ago
    assert sorted(_by_domain(container, account_id)) == ["h1.example.com"]

    clock.advance(1)
    assert tick(container.deps).synced_resources == 2
    assert sorted(_by_domain(container, account_id)) == ["h1.example.com", "h2.example.com"]
    assert tick(container.deps).synced_resources == 0


def test_an_account_never_synced_is_synced_at_the_next_tick(container: Container, account_id: int) -> None:
    other = create_account(container.store, "other").account.id

    report = tick(container.deps)

    assert report.synced_resources == 0  # the local cloud has no resources for the new account
    assert container.store.resources.search(other).total == 0
    assert tick(container.deps).synced_resources == 0


def test_a_clock_that_went_back_does_not_hold_the_sync_back(
    container: Container, account_id: int, clock: ManualClock, tmp_path: Path
) -> None:
    # Loading synced the account at the clock's time; the clock is then set an hour back (it ran fast).
    clock.advance(-3600)
    _reload(container, account_id, _inventory(_entry(1), _entry(2)), tmp_path)

    assert tick(container.deps).synced_resources == 2  # not an hour and an interval later
    assert sorted(_by_domain(container, account_id)) == ["h1.example.com", "h2.example.com"]
    assert tick(container.deps).synced_resources == 0  # and once per interval again from then on


class _Broken:
    def discover(self, account_id: int) -> Iterator[ResourceSpec]:
        raise RuntimeError("the inventory is unreachable")


def test_a_failed_sync_is_tried_again_at_the_next_tick(
    container: Container, account_id: int, clock: ManualClock, tmp_path: Path
) -> None:
    _reload(container, account_id, _inventory(_entry(1), _entry(2)), tmp_path)
    clock.advance(container.deps.resource_sync_seconds)

    assert tick(replace(container.deps, inventory=_Broken())).synced_resources == 0

    assert tick(container.deps).synced_resources == 2  # at once, not an interval later


def test_a_sync_page_by_page_inserts_refreshes_and_marks_gone(
    container: Container, account_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resource_sync, "SYNC_PAGE", 2)
    _reload(container, account_id, _inventory(*(_entry(index) for index in range(1, 6))), tmp_path)
    assert sync_resources(container.deps, account_id) == 5
    before = _by_domain(container, account_id)

    # h2 and h4 leave the cloud, h3 gets a tag, h6 and h7 appear: pages of two see all of it.
    entries = [_entry(1), _entry(3, ", tags: {env: prod}"), _entry(5), _entry(6), _entry(7)]
    _reload(container, account_id, _inventory(*entries), tmp_path)
    assert sync_resources(container.deps, account_id) == 5

    after = _by_domain(container, account_id)
    assert sorted(after) == [f"h{index}.example.com" for index in range(1, 8)]
    assert {domain for domain, resource in after.items() if resource.gone} == {"h2.example.com", "h4.example.com"}
    assert after["h3.example.com"].tags == (("env", "prod"),)
    assert all(after[domain].id == resource.id for domain, resource in before.items())  # ids stay stable
    assert container.store.resources.search(account_id).total == 5


def test_a_resource_another_sync_added_meanwhile_is_not_marked_gone(
    container: Container, account_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resource_sync, "SYNC_PAGE", 2)
    _reload(container, account_id, _inventory(*(_entry(index) for index in range(1, 6))), tmp_path)
    assert container.local_cloud is not None
    cloud = container.local_cloud

    class _LoadedMeanwhile:
        """The local cloud, with `cloud load` adding h0 and syncing once this sync's first page was stored."""

        def discover(self, account_id: int) -> Iterator[ResourceSpec]:
            for index, spec in enumerate(cloud.discover(account_id)):
                if index == 2:
                    _reload(container, account_id, _inventory(*(_entry(i) for i in range(6))), tmp_path)
                    assert sync_resources(container.deps, account_id) == 6
                yield spec

    assert sync_resources(replace(container.deps, inventory=_LoadedMeanwhile()), account_id) == 5

    assert not _by_domain(container, account_id)["h0.example.com"].gone  # in the cloud all along since it was added
