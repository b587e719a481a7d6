"""MNS deploy queue (via EventBridge): deploy one worker per message."""

from __future__ import annotations

from typing import Any

from certdeploy.app.messages import QueueRole
from certdeploy.fc.function import consume_mns_event, container_for, initialize

__all__ = ["handler", "initialize"]


def handler(event: bytes, context: Any) -> str:
    handled = consume_mns_event(container_for(context), QueueRole.DEPLOY, event)
    return f"handled {handled} message(s)"
