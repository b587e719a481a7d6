"""The per-account token bucket of the API rate limit (docs/protocol.md#throttling)."""

from __future__ import annotations

import pytest

from certdeploy.api.errors import ApiError
from certdeploy.api.throttle import THROTTLING_CODE, THROTTLING_MESSAGE, RateLimiter


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_admitted_then_the_rate_refills_one_request_at_a_time() -> None:
    ticker = Ticker()
    limiter = RateLimiter(rate=2, burst=3, monotonic=ticker)
    assert [limiter.admit(1) for _ in range(4)] == [True, True, True, False]
    ticker.now = 0.5
    assert [limiter.admit(1) for _ in range(2)] == [True, False]
    ticker.now = 100
    assert [limiter.admit(1) for _ in range(4)] == [True, True, True, False]


def test_each_account_has_its_own_bucket_and_idle_ones_are_forgotten() -> None:
    ticker = Ticker()
    limiter = RateLimiter(rate=1, burst=1, monotonic=ticker)
    assert (limiter.admit(1), limiter.admit(1), limiter.admit(2)) == (True, False, True)
    ticker.now = 10_000
    assert (limiter.admit(1), limiter.admit(1)) == (True, False)


def test_rate_zero_admits_everything() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.admit(1) for _ in range(1000))


def test_over_the_rate_is_the_gateways_throttling_error() -> None:
    limiter = RateLimiter(rate=1, burst=1, monotonic=Ticker())
    with limiter.admitted(7):
        pass
    with pytest.raises(ApiError) as caught, limiter.admitted(7):
        pass
    assert (caught.value.status, caught.value.code, caught.value.message) == (400, THROTTLING_CODE, THROTTLING_MESSAGE)
    assert THROTTLING_MESSAGE == "Request was denied due to user flow control."


def test_at_most_concurrency_requests_of_an_account_run_at_once() -> None:
    limiter = RateLimiter(rate=1000, burst=1000, concurrency=2, monotonic=Ticker())
    with limiter.admitted(1), limiter.admitted(1):
        with pytest.raises(ApiError), limiter.admitted(1):
            pass
        with limiter.admitted(2):
            pass
    with limiter.admitted(1), limiter.admitted(1):
        pass
