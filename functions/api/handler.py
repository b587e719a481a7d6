"""API Gateway / HTTP trigger: the CAS-compatible API, answered synchronously."""

from __future__ import annotations

from typing import Any

from certdeploy.runtime.api_events import answer_event
from certdeploy.runtime.function import container_for, initialize

__all__ = ["handler", "initialize"]


def handler(event: bytes, context: Any) -> dict[str, Any]:
    # The local HTTP front runs this function in-process and hands it the server's container on the context.
    container = getattr(context, "container", None) or container_for(context)
    return answer_event(container, event)
