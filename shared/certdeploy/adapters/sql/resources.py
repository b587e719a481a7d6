"""Cloud resources, upserted by their natural key (product, region, instance, domain, port)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, false, insert, or_, select, update

from certdeploy.adapters.sql.repository import SqlRepository, chunks
from certdeploy.adapters.sql.schema import accounts, resources
from certdeploy.domain.errors import NotFound, Thing
from certdeploy.domain.models import Product, Resource
from certdeploy.ports.store.paging import Page
from certdeploy.ports.store.resources import ResourceSpec, ResourceTarget

_ResourceKey = tuple[str, str, str, str, int]
_KEY_COLUMNS = (resources.c.product, resources.c.region, resources.c.instance_id, resources.c.domain, resources.c.port)
# A sync's updates of stored rows per write transaction: each holds the store's write lock a few milliseconds.
_UPDATES_PER_TRANSACTION = 500
# Ids `live_ids` fetches at a time (a server-side cursor on PostgreSQL and MySQL): 100,000 never sit in memory at once.
_LIVE_IDS_PER_FETCH = 5000
# Wildcard names matched in SQL, one LIKE each, in one query; far below SQLite's expression depth of 1000.
_WILDCARD_BASES_PER_QUERY = 100


def _resource_key(spec: ResourceSpec) -> _ResourceKey:
    return (str(spec.product), spec.region, spec.instance_id, spec.domain, spec.port or 0)


# A product by its stored name: a dictionary look-up, where `Product(name)` costs a call per resource read.
_PRODUCTS = {str(product): product for product in Product}
# What a sync refreshes, in the order of `_refreshed_state`.
_REFRESHED_COLUMNS = (
    resources.c.listener_id,
    resources.c.namespace_id,
    resources.c.tags,
    resources.c.https_enabled,
    resources.c.bound_cert_id,
    resources.c.bound_cert_name,
    resources.c.gone,
)
_REFRESHED_NAMES = tuple(column.name for column in _REFRESHED_COLUMNS)


def _refreshed_state(spec: ResourceSpec) -> tuple[Any, ...]:
    tags = [list(pair) for pair in sorted(spec.tags)]
    return (
        spec.listener_id,
        spec.namespace_id,
        tags,
        spec.https_enabled,
        spec.bound_cert_id,
        spec.bound_cert_name,
        False,
    )


def _stored_state(row: Sequence[Any]) -> tuple[Any, ...]:
    listener_id, namespace_id, tags, https_enabled, bound_cert_id, bound_cert_name, gone = row
    return (listener_id, namespace_id, tags or [], bool(https_enabled), bound_cert_id, bound_cert_name, bool(gone))


def _wildcard_base(domain: str) -> str | None:
    """What a wildcard covering `domain` is under: `a.example.com` → `example.com` (a wildcard covers one label)."""
    label, _, base = domain.partition(".")
    return base if label and base else None


def stored_tags(tags: list[list[str]] | None) -> tuple[tuple[str, str], ...]:
    """A resource's tags as stored (sorted [key, value] pairs, or NULL) as (key, value) pairs."""
    return tuple((key, value) for key, value in tags or ())


def _resource(row: Row[Any]) -> Resource:
    return Resource(
        id=row.id,
        account_id=row.account_id,
        product=Product(row.product),
        region=row.region,
        instance_id=row.instance_id,
        domain=row.domain,
        https_enabled=row.https_enabled,
        port=row.port or None,
        listener_id=row.listener_id,
        namespace_id=row.namespace_id,
        tags=stored_tags(row.tags),
        bound_cert_id=row.bound_cert_id,
        bound_cert_name=row.bound_cert_name,
        gone=row.gone,
        created_at=row.created_at,
        modified_at=row.modified_at,
    )


class SqlResources(SqlRepository):
    """The `Resources` port."""

    def upsert(self, account_id: int, specs: Sequence[ResourceSpec]) -> list[int]:
        latest = {_resource_key(spec): spec for spec in specs}
        if specs:
            # A sync that changes nothing (the common case, every tick) reads without taking the write lock.
            with self._connection(write=False) as conn:
                known, inserts, updates = self._changes(conn, account_id, latest)
            if not inserts:
                # Only stored rows change (a job rebound them, say): no key is inserted, so no account lock, and
                # the rows are written in short transactions rather than one spanning a second comparison of them
                # all, which on SQLite kept every other writer (an API call's nonce among them) waiting.
                for chunk in chunks(updates, _UPDATES_PER_TRANSACTION):
                    with self._connection(write=True) as conn:
                        self._refresh(conn, chunk)
                return [known[_resource_key(spec)] for spec in specs]
        now = self._now()
        with self._connection(write=True) as conn:
            # The account row lock serialises upserts of one account, so two syncs never insert the same key.
            self._lock_account(conn, account_id)
            if not specs:
                return []
            known, inserts, updates = self._changes(conn, account_id, latest)
            if inserts:
                conn.execute(insert(resources), [{**row, "created_at": now, "modified_at": now} for row in inserts])
            self._refresh(conn, updates)
            ids = {key: row[0] for key, row in self._stored(conn, account_id, latest, resources.c.id)}
        return [ids[_resource_key(spec)] for spec in specs]

    def _refresh(self, conn: Connection, updates: Sequence[dict[str, Any]]) -> None:
        """Write the refreshed values `_changes` found stale."""
        if not updates:
            return
        refreshed = {name: bindparam(f"b_{name}") for name in _REFRESHED_NAMES}
        conn.execute(
            update(resources).where(resources.c.id == bindparam("b_id")).values(**refreshed, modified_at=self._now()),
            updates,
        )

    @staticmethod
    def _stored(
        conn: Connection, account_id: int, latest: dict[_ResourceKey, ResourceSpec], *columns: ColumnElement[Any]
    ) -> Iterator[tuple[_ResourceKey, Sequence[Any]]]:
        """The account's stored rows whose key is one of `latest`'s, as (key, `columns`): found by the domain index,
        so that a sync page of 1,000 resources reads about 1,000 rows, not every row of the account."""
        domains = sorted({key[3] for key in latest})
        for chunk in chunks(domains):
            query = select(*_KEY_COLUMNS, *columns).where(
                resources.c.account_id == account_id, resources.c.domain.in_(chunk)
            )
            for product, region, instance_id, domain, port, *values in conn.execute(query):
                key = (product, region, instance_id, domain, port)
                if key in latest:
                    yield key, values

    def _changes(
        self, conn: Connection, account_id: int, latest: dict[_ResourceKey, ResourceSpec]
    ) -> tuple[dict[_ResourceKey, int], list[dict[str, Any]], list[dict[str, Any]]]:
        """The ids of the stored resources among `latest`, by key; then the rows to insert and the updates to make for
        `latest` to be stored. Rows are read as tuples: a sync compares a page of 1,000 at a time."""
        known: dict[_ResourceKey, int] = {}
        stale: list[dict[str, Any]] = []
        for key, (resource_id, *state) in self._stored(conn, account_id, latest, resources.c.id, *_REFRESHED_COLUMNS):
            known[key] = resource_id
            spec = latest[key]
            if _refreshed_state(spec) != _stored_state(state):
                stale.append({"b_id": resource_id, **{f"b_{k}": v for k, v in self._refreshed_values(spec).items()}})
        inserts = [
            {**self._refreshed_values(spec), **self._key_values(account_id, key)}
            for key, spec in latest.items()
            if key not in known
        ]
        return known, inserts, stale

    def live_ids(self, account_id: int) -> Iterator[int]:
        query = select(resources.c.id).where(resources.c.account_id == account_id, resources.c.gone == false())
        with self._connection(write=False) as conn:
            yield from conn.execute(query.execution_options(yield_per=_LIVE_IDS_PER_FETCH)).scalars()

    def get_many(self, account_id: int, resource_ids: Collection[int]) -> list[Resource]:
        return [_resource(row) for row in self._owned_rows(resources, resources.c.id, account_id, resource_ids)]

    def targets(self, account_id: int, resource_ids: Collection[int]) -> list[ResourceTarget]:
        columns = (resources.c.id, resources.c.product, resources.c.domain, resources.c.https_enabled)
        rows = self._owned_rows(
            resources, resources.c.id, account_id, resource_ids, columns=columns, where=[resources.c.gone == false()]
        )
        return [
            ResourceTarget(resource_id, account_id, _PRODUCTS[product], domain, bool(https))
            for resource_id, product, domain, https in rows
        ]

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
        conditions = [resources.c.account_id == account_id]
        if not include_gone:
            conditions.append(resources.c.gone == false())
        if product is not None:
            conditions.append(resources.c.product == str(product))
        if keyword:
            conditions.append(
                or_(
                    resources.c.domain.icontains(keyword, autoescape=True),
                    resources.c.instance_id.icontains(keyword, autoescape=True),
                )
            )
        if resource_ids is not None:
            conditions.append(resources.c.id.in_(sorted(set(resource_ids))))
        with self._connection(write=False) as conn:
            total, rows = self._indexed_page(conn, resources, conditions, page, page_size)
        return Page(items=[_resource(row) for row in rows], total=total)

    def for_names(self, account_id: int, names: Collection[str]) -> list[Resource]:
        exact = sorted(set(names))
        wildcard_bases = frozenset(name[2:] for name in exact if name.startswith("*."))
        live = select(resources).where(resources.c.account_id == account_id, resources.c.gone == false())
        # Never one SQL expression per name over all names: SQLite refuses an expression tree deeper than 1000, and a
        # certificate may hold 10,000 names (README "Limits"). Exact names go by the domain index, a batch at a time.
        queries = [live.where(resources.c.domain.in_(chunk)) for chunk in chunks(exact)]
        if wildcard_bases:
            # A few wildcards narrow the scan in SQL; more are looked up in a set as the account's domains stream by.
            narrowed = len(wildcard_bases) <= _WILDCARD_BASES_PER_QUERY
            suffixes = (resources.c.domain.endswith("." + base, autoescape=True) for base in sorted(wildcard_bases))
            queries.append(live.where(or_(*suffixes)) if narrowed else live)
        found: dict[int, Row[Any]] = {}
        exact_names = set(exact)
        with self._connection(write=False) as conn:
            for query in queries:
                for row in conn.execute(query):
                    if row.domain in exact_names or _wildcard_base(row.domain) in wildcard_bases:
                        found[row.id] = row
        return [_resource(found[resource_id]) for resource_id in sorted(found)]

    def set_binding(self, account_id: int, resource_id: int, cert_id: int | None, cert_name: str | None) -> Resource:
        statement = (
            update(resources)
            .where(resources.c.id == resource_id, resources.c.account_id == account_id)
            .values(bound_cert_id=cert_id, bound_cert_name=cert_name, modified_at=self._now())
        )
        with self._connection(write=True) as conn:
            row = self._update_one(conn, statement, resources, resource_id)
        if row is None:
            raise NotFound.of(Thing.RESOURCE, resource_id)
        return _resource(row)

    def bind_certificate(self, account_id: int, resource_ids: Collection[int], cert_id: int, cert_name: str) -> None:
        wanted = sorted(set(resource_ids))
        found = 0
        with self._connection(write=True) as conn:
            for chunk in chunks(wanted):
                # The account's condition is written so that no index serves it (as in `_owned_rows`): SQLite would
                # otherwise read every resource of the account (a job's batch of completions binds a few of them).
                found += conn.execute(
                    update(resources)
                    .where(resources.c.account_id + 0 == account_id, resources.c.id.in_(chunk))
                    .values(bound_cert_id=cert_id, bound_cert_name=cert_name, modified_at=self._now())
                ).rowcount
            if found != len(wanted):
                raise NotFound(Thing.RESOURCE, f"{len(wanted) - found} of the resources to bind do not exist.")

    def set_gone(self, account_id: int, resource_ids: Collection[int], gone: bool = True) -> int:
        changed = 0
        with self._connection(write=True) as conn:
            for chunk in chunks(sorted(set(resource_ids))):
                result = conn.execute(
                    update(resources)
                    .where(resources.c.account_id == account_id, resources.c.id.in_(chunk), resources.c.gone != gone)
                    .values(gone=gone, modified_at=self._now())
                )
                changed += result.rowcount
        return changed

    def claim_sync(self, account_id: int, now: datetime, due_before: datetime) -> bool:
        synced_at = accounts.c.resources_synced_at
        statement = (
            update(accounts)
            # A claim later than `now` tells of a clock that went back: no interval can be measured from it.
            .where(accounts.c.id == account_id, or_(synced_at.is_(None), synced_at <= due_before, synced_at > now))
            .values(resources_synced_at=now)
        )
        with self._connection(write=True) as conn:
            return bool(conn.execute(statement).rowcount)

    def release_sync(self, account_id: int, claimed_at: datetime) -> None:
        statement = (
            update(accounts)
            .where(accounts.c.id == account_id, accounts.c.resources_synced_at == claimed_at)
            .values(resources_synced_at=None)
        )
        with self._connection(write=True) as conn:
            conn.execute(statement)

    @staticmethod
    def _key_values(account_id: int, key: _ResourceKey) -> dict[str, Any]:
        product, region, instance_id, domain, port = key
        return {
            "account_id": account_id,
            "product": product,
            "region": region,
            "instance_id": instance_id,
            "domain": domain,
            "port": port,
        }

    @staticmethod
    def _refreshed_values(spec: ResourceSpec) -> dict[str, Any]:
        return {
            "listener_id": spec.listener_id,
            "namespace_id": spec.namespace_id,
            "tags": [list(pair) for pair in sorted(spec.tags)],
            "https_enabled": spec.https_enabled,
            "bound_cert_id": spec.bound_cert_id,
            "bound_cert_name": spec.bound_cert_name,
            "gone": False,
        }
