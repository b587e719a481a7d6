"""Cloud resources: what ListCloudResources shows (optionally only those chosen certificates match), and the sync
that keeps the store's copy of the cloud inventory fresh (the scheduler runs it)."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import groupby, islice

from certdeploy.app.deps import Deps
from certdeploy.domain.matching import MatchResult, match
from certdeploy.domain.models import CertOrigin, Product, Resource
from certdeploy.ports.cloud import Inventory
from certdeploy.ports.store.paging import Page
from certdeploy.ports.store.resources import ResourceSpec


def matched_resources(deps: Deps, account_id: int, cert_ids: Sequence[int]) -> tuple[list[Resource], MatchResult]:
    """The account's resources the given certificates match now (GetMatchedResources, ListCloudResources CertIds)."""
    certs = deps.store.certificates.get_many(account_id, cert_ids)
    names = {name for cert in certs for name in cert.names}
    candidates = deps.store.resources.for_names(account_id, names) if names else []
    result = match(certs, candidates, deps.clock.now(), account_id)
    by_id = {r.id: r for r in candidates}
    return [by_id[resource_id] for resource_id in result.matched_resource_ids], result


def list_resources(
    deps: Deps,
    account_id: int,
    *,
    product: Product | None = None,
    keyword: str | None = None,
    cert_ids: Sequence[int] | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page[Resource]:
    if cert_ids:
        resources, _ = matched_resources(deps, account_id, cert_ids)
        if product is not None:
            resources = [r for r in resources if r.product is product]
        if keyword:
            needle = keyword.lower()
            resources = [r for r in resources if needle in r.domain.lower() or needle in r.instance_id.lower()]
        start = (page - 1) * page_size
        return Page(items=resources[start : start + page_size], total=len(resources))
    return deps.store.resources.search(account_id, product=product, keyword=keyword, page=page, page_size=page_size)


@dataclass(frozen=True)
class AssetCounts:
    """What GetAssetCount and ListAssetCount count: the account's resources (not gone), their distinct domain names,
    and its certificates by origin."""

    resources: int
    domains: int
    certificates: dict[CertOrigin, int]


_COUNTING_PAGE = 1000


def count_assets(deps: Deps, account_id: int) -> AssetCounts:
    store = deps.store
    domains: set[str] = set()
    page = store.resources.search(account_id, page=1, page_size=_COUNTING_PAGE)
    domains.update(resource.domain for resource in page.items)
    for number in range(2, -(-page.total // _COUNTING_PAGE) + 1):
        more = store.resources.search(account_id, page=number, page_size=_COUNTING_PAGE)
        domains.update(resource.domain for resource in more.items)
    certificates = {
        origin: store.certificates.search(account_id, origin=origin, page_size=1).total for origin in CertOrigin
    }
    return AssetCounts(resources=page.total, domains=len(domains), certificates=certificates)


def _with_our_certificate_ids(deps: Deps, account_id: int, specs: Sequence[ResourceSpec]) -> list[ResourceSpec]:
    """A resource CAS reports bound to a CAS certificate we mirror is bound to ours; to another, by name only."""
    cas_ids = {spec.bound_cas_cert_id for spec in specs if spec.bound_cert_id is None and spec.bound_cas_cert_id}
    if not cas_ids:
        return list(specs)
    ours = {cert.cas_cert_id: cert.id for cert in deps.store.certificates.by_cas_ids(account_id, cas_ids)}
    return [
        replace(spec, bound_cert_id=ours.get(spec.bound_cas_cert_id)) if spec.bound_cert_id is None else spec
        for spec in specs
    ]


# Resources a sync reads, compares and writes at a time: its memory is a page's, whatever the inventory's size.
SYNC_PAGE = 1000


def _pages(specs: Iterable[ResourceSpec], size: int) -> Iterator[list[ResourceSpec]]:
    iterator = iter(specs)
    while page := list(islice(iterator, size)):
        yield page


def _sync(deps: Deps, inventory: Inventory, account_id: int) -> int:
    """Page by page: new resources inserted, changed ones refreshed; then those live when it started that the
    inventory no longer reported marked gone (never deleted: jobs may refer to them). A resource another sync (`cloud
    load`) added or brought back meanwhile is left alone: this one's pages may have passed it before it was there.
    Only ids are held across pages, as arrays of machine integers (0.8 MB each at 100,000, where a set took 7)."""
    live = array("q", deps.store.resources.live_ids(account_id))
    seen = array("q")
    for page in _pages(inventory.discover(account_id), SYNC_PAGE):
        seen.extend(deps.store.resources.upsert(account_id, _with_our_certificate_ids(deps, account_id, page)))
    ordered = array("q", (resource_id for resource_id, _ in groupby(sorted(seen))))
    del seen
    gone = [resource_id for resource_id in live if not _holds(ordered, resource_id)]
    if gone:
        deps.store.resources.set_gone(account_id, gone)
    return len(ordered)


def _holds(ordered: array[int], value: int) -> bool:
    position = bisect_left(ordered, value)
    return position < len(ordered) and ordered[position] == value


def sync_resources(deps: Deps, account_id: int, *, due_only: bool = False) -> int:
    """Refresh the account's resources from the inventory now, or with `due_only` (the scheduler) only when
    `deps.resource_sync_seconds` passed since the last sync started. Returns how many resources the inventory
    reported (0 when it did not sync). A sync now happens even if another process's clock claimed one later. A failed
    sync is forgotten, so that the next tick tries again."""
    if deps.inventory is None:
        return 0
    now = deps.clock.now()
    due_before = now - timedelta(seconds=deps.resource_sync_seconds) if due_only else now
    claimed = deps.store.resources.claim_sync(account_id, now, due_before)
    if due_only and not claimed:
        return 0
    try:
        return _sync(deps, deps.inventory, account_id)
    except BaseException:
        if claimed:
            deps.store.resources.release_sync(account_id, now)
        raise
