"""The `context` object FC passes a Python handler (docs/runtime.md#functions-and-handlers), as the local runtime builds
it.

No credentials: nothing local needs a cloud role. `container` lets an in-process caller (the local HTTP front) hand
the function the container it already built.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from certdeploy.bootstrap.container import Container

LOCAL_REGION = "local"
LOCAL_ACCOUNT_ID = "local"


@dataclass(frozen=True)
class FunctionMeta:
    name: str
    handler: str
    memory: int = 512
    timeout: int = 30


@dataclass(frozen=True)
class ServiceMeta:
    name: str = "certdeploy"
    log_project: str = ""
    log_store: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""


@dataclass(frozen=True)
class FcContext:
    function: FunctionMeta
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    credentials: None = None
    service: ServiceMeta = field(default_factory=ServiceMeta)
    region: str = LOCAL_REGION
    account_id: str = LOCAL_ACCOUNT_ID
    container: Container | None = None
