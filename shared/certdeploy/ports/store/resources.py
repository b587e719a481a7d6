"""Cloud resources of an account, as the inventory last reported them, and the certificate each serves."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from certdeploy.domain.models import Product, Resource
from certdeploy.ports.store.paging import Page


@dataclass(frozen=True)
class ResourceSpec:
    """A resource as the inventory reports it. (product, region, instance_id, domain, port) is its natural key."""

    product: Product
    region: str
    instance_id: str
    domain: str
    port: int | None = None
    listener_id: str | None = None
    namespace_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    https_enabled: bool = True
    bound_cert_id: int | None = None
    bound_cert_name: str | None = None
    # What a source that only knows CAS certificates reports (CAS CertId); the resource sync maps it to our id.
    bound_cas_cert_id: int | None = None


@dataclass(frozen=True, slots=True)
class ResourceTarget:
    """A resource as matching reads it (`certdeploy.domain.matching.Matchable`): a job over 10,000 resources reads
    these, not 10,000 `Resource` models."""

    id: int
    account_id: int
    product: Product
    domain: str
    https_enabled: bool


class Resources(Protocol):
    def upsert(self, account_id: int, specs: Sequence[ResourceSpec]) -> list[int]:
        """Insert or refresh resources by natural key; returns their stable ids in input order. Marks them not gone."""
        ...

    def get_many(self, account_id: int, resource_ids: Collection[int]) -> list[Resource]:
        """By id; ids the account does not own are absent (the caller states why they were excluded)."""
        ...

    def targets(self, account_id: int, resource_ids: Collection[int]) -> list[ResourceTarget]:
        """`get_many` for matching: the account's resources among `resource_ids` that are not gone, by id."""
        ...

    def search(
        self,
        account_id: int,
        *,
        product: Product | None = None,
        keyword: str | None = None,
        resource_ids: Collection[int] | None = None,
        include_gone: bool = False,
        page: int = 1,
        page_size: int = 20,
    ) -> Page[Resource]:
        """By id. `keyword` matches the domain or the instance id, case-insensitively."""
        ...

    def for_names(self, account_id: int, names: Collection[str]) -> list[Resource]:
        """Candidates for matching: resources (not gone) whose domain equals one of the normalised `names`, or is one
        label under a wildcard name (`*.example.com` → `a.example.com`). Matching itself stays in the domain."""
        ...

    def set_binding(
        self, account_id: int, resource_id: int, cert_id: int | None, cert_name: str | None
    ) -> Resource: ...

    def bind_certificate(self, account_id: int, resource_ids: Collection[int], cert_id: int, cert_name: str) -> None:
        """`set_binding` of one certificate on several resources, in one statement; `NotFound` if one is not the
        account's."""
        ...

    def live_ids(self, account_id: int) -> Iterator[int]:
        """The ids of the account's resources that are not gone, streamed: what a sync compares the inventory with."""
        ...

    def set_gone(self, account_id: int, resource_ids: Collection[int], gone: bool = True) -> int: ...

    def claim_sync(self, account_id: int, now: datetime, due_before: datetime) -> bool:
        """Record a sync of the account's resources starting `now`, unless one started after `due_before` and not
        after `now` (a later one tells of a clock that went back): True when this caller is to sync. Two overlapping
        ticks never both sync an account (on clocks that agree)."""
        ...

    def release_sync(self, account_id: int, claimed_at: datetime) -> None:
        """Forget the sync claimed at `claimed_at` (it failed), so that the next tick tries again."""
        ...
