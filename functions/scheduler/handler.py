"""Timer: start due jobs, relay the outbox, re-send stuck work, give up dead letters, refresh resources."""

from __future__ import annotations

import json
from typing import Any

from certdeploy.app.scheduler import tick
from certdeploy.fc.events import parse_timer_event
from certdeploy.fc.function import container_for, initialize

__all__ = ["handler", "initialize"]


def handler(event: bytes, context: Any) -> str:
    parse_timer_event(event)
    report = tick(container_for(context).deps)
    return json.dumps(report.__dict__)
