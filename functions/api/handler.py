"""API Gateway / HTTP trigger: the CAS-compatible API, answered synchronously."""

from __future__ import annotations

from typing import Any

from certdeploy.fc.function import container_for, initialize
from certdeploy.fc.http_trigger import answer_event

__all__ = ["handler", "initialize"]


def handler(event: bytes, context: Any) -> dict[str, Any]:
    # The local HTTP front runs this function in-process and hands it the server's container on the context.
    container = getattr(context, "container", None) or container_for(context)
    return answer_event(container.api, event)
