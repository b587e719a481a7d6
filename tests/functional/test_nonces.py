"""API nonces are kept for the window in which their signing time is accepted, and no longer
(docs/protocol.md#clock-skew-and-nonces)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from certdeploy.adapters.sql.schema import api_nonces
from certdeploy.app.accounts import create_account
from certdeploy.app.scheduler import tick
from certdeploy.bootstrap.container import Container
from certdeploy.local.context import FcContext, FunctionMeta
from certdeploy.local.http_front import API_HANDLER, load_function
from certdeploy.ports.store.messages import MAX_NONCES_PER_ACCESS_KEY
from tests.functional.conftest import ManualClock
from tests.functional.test_api_events import API_CODE_DIR, EVENT_ACCESS_KEY, EVENT_SIGNED_AT, _event


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(EVENT_SIGNED_AT)


def _kept_nonces(container: Container) -> int:
    with container.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(api_nonces)).scalar_one()


def test_a_nonce_is_refused_again_inside_the_window_and_forgotten_by_the_tick_after_it(
    container: Container, clock: ManualClock
) -> None:
    # GIVEN a signed request answered once
    create_account(container.store, "events", quota=1, access_key=EVENT_ACCESS_KEY)
    handler = load_function(API_CODE_DIR, "handler.handler")

    def send() -> dict:
        context = FcContext(function=FunctionMeta("api", API_HANDLER), container=container)
        return json.loads(handler(_event("http_trigger_request.json"), context)["body"])

    assert send().get("Code") != "SignatureNonceUsed"

    # WHEN the scheduler ticks inside the window, THEN a replay is still refused
    clock.advance(timedelta(minutes=14).total_seconds())
    tick(container.deps, sync=False)
    assert send()["Code"] == "SignatureNonceUsed"
    assert _kept_nonces(container) == 1

    # WHEN it ticks once the signing time is no longer accepted, THEN the nonce is gone
    clock.advance(timedelta(minutes=1, seconds=1).total_seconds())
    tick(container.deps, sync=False)
    assert _kept_nonces(container) == 0
    assert send()["Code"] == "InvalidTimeStamp.Expired"


def test_an_access_key_holding_too_many_nonces_is_throttled(container: Container, clock: ManualClock) -> None:
    # GIVEN an AccessKey that already holds as many unexpired nonces as it may
    create_account(container.store, "events", quota=1, access_key=EVENT_ACCESS_KEY)
    with container.store.engine.begin() as conn:
        conn.execute(
            insert(api_nonces),
            [
                {"nonce_key": f"nonce:{n}", "access_key_id": EVENT_ACCESS_KEY[0], "expires_at": clock.now()}
                for n in range(MAX_NONCES_PER_ACCESS_KEY)
            ],
        )

    # WHEN it signs one more request, THEN it is refused as the gateway refuses a caller over its flow control
    reply = load_function(API_CODE_DIR, "handler.handler")(
        _event("http_trigger_request.json"), FcContext(function=FunctionMeta("api", API_HANDLER), container=container)
    )
    assert reply["statusCode"] == 400
    assert json.loads(reply["body"])["Code"] == "Throttling.User"
