"""EventBridge: a certificate was issued -> a hosted job deploys it where it renews one already deployed."""

from __future__ import annotations

from typing import Any

from certdeploy.app.messages import QueueRole
from certdeploy.runtime.consumers import consume
from certdeploy.runtime.function import container_for, initialize

__all__ = ["handler", "initialize"]


def handler(event: bytes, context: Any) -> str:
    consume(container_for(context), QueueRole.CERTIFICATE_ISSUED, event.decode("utf-8"))
    return "ok"
