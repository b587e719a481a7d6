"""Inventory files of the local cloud: the resources of an account, each with how the local cloud behaves when a
certificate is deployed to it (`demo/inventory.yaml` is one), read a validated entry at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from certdeploy.domain.models import MAX_CERTIFICATE_TAGS, Product

SERVE_OLD_FOREVER = -1


class InventoryError(ValueError):
    """The inventory file cannot be read; the message says where and why."""


class InventoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    product: Product
    region: str = Field(min_length=1)
    instance: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    https: bool = True
    port: int | None = Field(None, ge=1, le=65535)
    namespace: str | None = Field(None, min_length=1, max_length=128, description="SAE namespace, `<region>:<name>`")
    tags: dict[str, str] = Field(
        default_factory=dict, max_length=MAX_CERTIFICATE_TAGS, description="the resource's tags (`{env: prod}`)"
    )
    cert: str | None = Field(None, description="name of the certificate bound now")
    fail: str | None = Field(None, description="every deploy here fails permanently with this message")
    flaky: int = Field(0, ge=0, description="the first N deploys here fail with a transient throttling error")
    serve_old: int | Literal["forever"] | None = Field(
        None,
        description="after a change, keep serving the previous certificate for this many seconds (propagation), or "
        "for ever (a broken product)",
    )

    @field_validator("serve_old")
    @classmethod
    def _non_negative(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 0:
            raise ValueError("serve_old is a number of seconds (0 or more) or 'forever'")
        return value

    @property
    def serve_old_seconds(self) -> int | None:
        return SERVE_OLD_FOREVER if self.serve_old == "forever" else self.serve_old

    @model_validator(mode="after")
    def _namespace_only_for_sae(self) -> InventoryEntry:
        if self.namespace is not None and self.product is not Product.SAE:
            raise ValueError(f"namespace is an SAE Ingress's; {self.product} has none")
        return self


def read_inventory(path: Path) -> Iterator[InventoryEntry]:
    """The entries of an inventory file (`resources:`, a list of `InventoryEntry`), validated one at a time as the
    file is parsed: loading 100,000 resources never holds the whole document (docs/runtime.md#resource-sync).
    Raises `InventoryError` at the first entry or construct it cannot take."""
    # Only `certdeploy serve --inventory` and `cloud load` read a file: the functions, which import this module for
    # `InventoryEntry`, do not load PyYAML.
    import yaml

    from certdeploy.adapters.inventory_events import entries

    try:
        with path.open(encoding="utf-8") as stream:
            yield from entries(getattr(yaml, "CSafeLoader", yaml.SafeLoader)(stream), path)
    except (OSError, yaml.YAMLError) as exc:
        raise InventoryError(f"{path}: {exc}") from exc
