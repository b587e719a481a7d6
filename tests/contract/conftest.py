"""Fixtures of the store contract tests: one migrated database per backend for the whole package, emptied for
each test (see `store_fixtures`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from certdeploy.adapters.sql import SqlStore
from tests.contract.store_fixtures import BACKENDS, KEK, T0, SettableClock, emptied_store, migrated_store_engine


@pytest.fixture(scope="package", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_store_engine(request.param, tmp_path_factory.mktemp(request.param)) as engine:
        yield engine


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


@pytest.fixture
def store(database: Engine, clock: SettableClock) -> SqlStore:
    return emptied_store(database, key_encryption_key=KEK, clock=clock)
