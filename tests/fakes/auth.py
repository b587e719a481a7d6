"""In-memory AccessKey store and nonce registry for tests of `certdeploy.api.auth`."""

from __future__ import annotations

import threading
from datetime import datetime

from certdeploy.api.auth import AccessKeySecret
from certdeploy.ports.clock import Clock


class InMemoryAccessKeys:
    def __init__(self, keys: dict[str, AccessKeySecret] | None = None) -> None:
        self.keys: dict[str, AccessKeySecret] = dict(keys or {})

    def find(self, access_key_id: str) -> AccessKeySecret | None:
        return self.keys.get(access_key_id)


class InMemoryNonceRegistry:
    """Insert-if-absent per (AccessKey, nonce); entries are forgotten once their expiry has passed on `clock`.
    Thread-safe, as the threaded test servers call it from several request threads."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._expiry: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()

    def remember(self, access_key_id: str, nonce: str, expires_at: datetime) -> bool:
        now = self._clock.now()
        with self._lock:
            self._expiry = {key: until for key, until in self._expiry.items() if until > now}
            if (access_key_id, nonce) in self._expiry:
                return False
            self._expiry[access_key_id, nonce] = expires_at
            return True
