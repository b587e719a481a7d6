"""The reply bodies of the CAS actions, declared once: one pydantic model per reply and per object in it.

Fields are named in snake_case and go on the wire under their PascalCase alias (`cert_sha2` → `CertSha2`, or an
explicit alias where the wire name is no identifier). `wire()` is the body: `RequestId` is added by the service, and
a field left None is left out (the SDK reads a missing key as None), never sent as null. Models are strict: a time
that should be Unix milliseconds as a string, or a count that should be an int, fails where the reply is built. Every
alias is checked against the official SDK's models (tests/unit/test_api_replies.py).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_pascal


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_pascal,
        validate_by_name=True,
        validate_by_alias=False,
        frozen=True,
        extra="forbid",
        strict=True,
        defer_build=True,
    )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


Item = TypeVar("Item", bound=WireModel)


class Page(WireModel, Generic[Item]):
    """One page of a listing counted in `Total`: ListDeploymentJob, ListWorkerResource, ListCloudResources."""

    total: int
    current_page: int
    show_size: int
    data: list[Item]


class Empty(WireModel):
    """The reply of an action that answers nothing but its RequestId."""


class StatusData(WireModel):
    """UpdateDeploymentJobStatus, UpdateWorkerResourceStatus, CreateRollbackTask: `Data` is always `[]` as text."""

    data: str = "[]"
