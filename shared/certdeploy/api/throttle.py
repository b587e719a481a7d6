"""The per-account API rate limit (docs/protocol.md#throttling, docs/decisions.md#api-rate-limit): a token bucket per
account in this process's memory, refilled at `rate` requests per second up to `burst`, and at most `concurrency`
requests of one account running at once. A request over either is answered `Throttling.User` with HTTP 400, as
Alibaba Cloud's API gateway answers it, before its action runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from certdeploy.api.errors import BAD_REQUEST, ApiError

THROTTLING_CODE = "Throttling.User"
THROTTLING_MESSAGE = "Request was denied due to user flow control."
# Buckets of accounts idle this long are full again: they are dropped, so memory follows the active accounts.
_IDLE_SECONDS = 600.0


def throttled() -> ApiError:
    return ApiError(BAD_REQUEST, THROTTLING_CODE, THROTTLING_MESSAGE)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Admits at most `burst` requests in a row and `rate` per second on average per key (`rate` 0: no limit), and at
    most `concurrency` at once per key (0: no limit)."""

    def __init__(
        self, rate: float, burst: int, concurrency: int = 0, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(max(burst, 1))
        self._concurrency = concurrency
        self._monotonic = monotonic
        self._buckets: dict[int, _Bucket] = {}
        self._running: dict[int, int] = {}
        self._lock = threading.Lock()
        self._swept = monotonic()

    def admit(self, key: int) -> bool:
        if self._rate <= 0:
            return True
        now = self._monotonic()
        with self._lock:
            self._sweep(now)
            bucket = self._buckets.setdefault(key, _Bucket(self._burst, now))
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True

    @contextmanager
    def admitted(self, key: int) -> Iterator[None]:
        """Run the block as one request of `key`, or raise `Throttling.User` when `key` is over its rate or already
        has `concurrency` requests running."""
        if not self.admit(key):
            raise throttled()
        with self._lock:
            running = self._running.get(key, 0)
            if self._concurrency and running >= self._concurrency:
                raise throttled()
            self._running[key] = running + 1
        try:
            yield
        finally:
            with self._lock:
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]

    def _sweep(self, now: float) -> None:
        if now - self._swept < _IDLE_SECONDS:
            return
        self._swept = now
        for key in [key for key, bucket in self._buckets.items() if now - bucket.updated >= _IDLE_SECONDS]:
            del self._buckets[key]
