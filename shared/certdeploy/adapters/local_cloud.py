"""The local cloud: resources of the twelve products, described by an inventory file, that deployments really rebind.

It stands in for the products' APIs when certdeploy runs on embedded defaults. Its state lives in its own SQLite
file so `certdeploy cloud load` and a running `serve` can share it. A resource is identified by its natural key
(product, region, instance, domain, port), which is what keeps its certdeploy `Id` stable across reloads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from certdeploy.adapters.local_inventory import SERVE_OLD_FOREVER, InventoryEntry
from certdeploy.adapters.private_files import private_database_file
from certdeploy.adapters.sql.repository import chunks
from certdeploy.domain.deployment import (
    Binding,
    DeployableCertificate,
    DeployFailed,
    PermanentDeployFailure,
    TransientDeployFailure,
)
from certdeploy.domain.models import Product, Resource
from certdeploy.ports.store.resources import ResourceSpec

_metadata = sa.MetaData()
_cloud_resource = sa.Table(
    "cloud_resource",
    _metadata,
    sa.Column("account_id", sa.Integer, primary_key=True),
    sa.Column("product", sa.String(16), primary_key=True),
    sa.Column("region", sa.String(64), primary_key=True),
    sa.Column("instance_id", sa.String(128), primary_key=True),
    sa.Column("domain", sa.String(255), primary_key=True),
    sa.Column("port", sa.Integer, primary_key=True),  # 0 when the product has no listener port
    sa.Column("namespace", sa.String(128), nullable=True),
    sa.Column("tags", sa.JSON, nullable=True),
    sa.Column("https_enabled", sa.Boolean, nullable=False),
    sa.Column("cert_id", sa.Integer, nullable=True),
    sa.Column("cert_name", sa.String(255), nullable=True),
    sa.Column("fail", sa.Text, nullable=True),
    sa.Column("flaky_remaining", sa.Integer, nullable=False, default=0),
    sa.Column("deploy_count", sa.Integer, nullable=False, default=0),
)
# What the local TLS router serves (docs/verification.md#local-tls), in tables of their own so that a cloud file of an
# older version gains them: the content of each certificate bound here, and per resource the previous certificate,
# when the binding changed, and for how long the resource keeps serving the previous one.
_cloud_certificate = sa.Table(
    "cloud_certificate",
    _metadata,
    sa.Column("account_id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("cert_pem", sa.Text, nullable=False),
    sa.Column("key_pem", sa.Text, nullable=False),
)
_cloud_serving = sa.Table(
    "cloud_serving",
    _metadata,
    *(sa.Column(column.name, column.type, primary_key=True) for column in _cloud_resource.primary_key.columns),
    sa.Column("serve_old", sa.Integer, nullable=True),  # seconds; -1 for ever; NULL: the new one at once
    sa.Column("previous_cert_name", sa.String(255), nullable=True),
    sa.Column("changed_at", sa.Float, nullable=True),
)


class LocalCloud:
    """Inventory and deployer of the local cloud, for one SQLite file."""

    def __init__(self, path: Path, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._kept: dict[tuple[int, str], tuple[str, str]] = {}
        self._engine = sa.create_engine(f"sqlite:///{private_database_file(path)}", connect_args={"timeout": 30})

        # As the store's: in WAL mode a commit survives the process being killed without waiting for the disk.
        @sa.event.listens_for(self._engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

        with self._engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            _metadata.create_all(connection)
            # A local cloud file written before resources had a namespace or tags gets the columns (create_all adds
            # none).
            columns = {column["name"] for column in sa.inspect(connection).get_columns(_cloud_resource.name)}
            for name, sql_type in (("namespace", "VARCHAR(128)"), ("tags", "JSON")):
                if name not in columns:
                    connection.exec_driver_sql(f"ALTER TABLE cloud_resource ADD COLUMN {name} {sql_type}")

    def close(self) -> None:
        self._engine.dispose()

    def for_product(self, product: Product) -> LocalCloud:
        """The local cloud deploys every product itself (the `Deployers` port)."""
        return self

    def load(self, account_id: int, entries: Iterable[InventoryEntry]) -> int:
        """Make the account's resources exactly those of the inventory; resources already known keep their binding.
        Returns how many the account has now. One transaction (an entry `read_inventory` refuses changes nothing),
        written a batch at a time; the keys the inventory named wait in a temporary table, not in memory."""
        with self._engine.begin() as connection:
            connection.execute(sa.schema.CreateTable(_LOADED, if_not_exists=True))
            connection.execute(sa.delete(_LOADED))
            iterator = iter(entries)
            while batch := list(islice(iterator, LOAD_BATCH)):
                keys = [dict(zip(_KEY_COLUMNS, _entry_key(account_id, entry), strict=True)) for entry in batch]
                pairs = list(zip(keys, batch, strict=True))
                connection.execute(_LOAD_RESOURCE, [_loaded_row(key, entry) for key, entry in pairs])
                connection.execute(
                    _LOAD_SERVING, [{**key, "serve_old": entry.serve_old_seconds} for key, entry in pairs]
                )
                connection.execute(sa.insert(_LOADED).prefix_with("OR IGNORE"), keys)
            for table in (_cloud_serving, _cloud_resource):
                named = sa.exists().where(*(_LOADED.c[name] == table.c[name] for name in _KEY_COLUMNS))
                connection.execute(sa.delete(table).where(table.c.account_id == account_id, ~named))
            connection.execute(sa.schema.DropTable(_LOADED))
            count = sa.select(sa.func.count()).where(_cloud_resource.c.account_id == account_id)
            return int(connection.execute(count).scalar_one())

    def discover(self, account_id: int) -> Iterator[ResourceSpec]:
        """The account's resources in key order, a page at a time: each page is a short read after the last key of
        the one before (keyset paging on the primary key), so no read spans the whole sync."""
        key_columns = [_cloud_resource.c[name] for name in _KEY_COLUMNS[1:]]
        query = (
            sa.select(*key_columns, *(_cloud_resource.c[name] for name in _SPEC_COLUMNS))
            .where(_cloud_resource.c.account_id == account_id)
            .order_by(*key_columns)
            .limit(DISCOVER_PAGE)
        )
        after: tuple[Any, ...] | None = None
        while True:
            page = query if after is None else query.where(sa.tuple_(*key_columns) > sa.tuple_(*after))
            with self._engine.connect() as connection:
                rows = connection.execute(page).all()
            yield from (_spec(*row) for row in rows)
            if len(rows) < DISCOVER_PAGE:
                return
            after = tuple(rows[-1][: len(key_columns)])

    def current_binding(self, resource: Resource) -> Binding:
        found = self.current_bindings([resource])[0]
        if isinstance(found, DeployFailed):
            raise found
        return found

    def current_bindings(self, resources: Sequence[Resource]) -> list[Binding | DeployFailed]:
        """What each resource serves, read in one query per 100 resources."""
        with self._engine.connect() as connection:
            rows = _rows_by_key(connection, _BINDING_COLUMNS, resources)
        return [
            _gone(resource)
            if (row := rows.get(_resource_key(resource))) is None
            else Binding(cert_id=row["cert_id"], cert_name=row["cert_name"], domain=resource.domain)
            for resource in resources
        ]

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        """Bind `certificate`; binding what is already bound succeeds without counting as a deploy."""
        failure = self.bind_each([(resource, certificate)])[0]
        if failure is not None:
            raise failure

    def bind_each(self, binds: Sequence[tuple[Resource, DeployableCertificate]]) -> list[DeployFailed | None]:
        """Bind each certificate on its resource, all in one transaction: the resources read in one query, the
        changes written in one statement each; a throttled bind's spent attempt is written too."""
        contents = {
            (resource.account_id, certificate.name): (certificate.cert_pem, certificate.key_pem.get_secret_value())
            for resource, certificate in binds
        }
        # The local cloud keeps what a product keeps, the key too, in its owner-only file: its TLS serves them. A job
        # binds one certificate on many resources, so what this process stored last is not stored again (whichever
        # process stored a name's content last, that is the content the name serves).
        keep = {name: content for name, content in contents.items() if all(content) and self._kept.get(name) != content}
        with self._engine.begin() as connection:
            for (account_id, name), content in keep.items():
                _keep_content(connection, account_id, name, *content)
            rows = _rows_by_key(connection, _DECIDING_COLUMNS, [resource for resource, _ in binds])
            changes = _Changes()
            failures = [
                self._rebind(rows, changes, resource, Binding(cert_id=certificate.cert_id, cert_name=certificate.name))
                for resource, certificate in binds
            ]
            changes.write(connection)
        self._kept.update(keep)
        return failures

    def restore(self, resource: Resource, binding: Binding) -> None:
        """Put a previous binding back (rollback)."""
        with self._engine.begin() as connection:
            rows = _rows_by_key(connection, _DECIDING_COLUMNS, [resource])
            changes = _Changes()
            failure = self._rebind(rows, changes, resource, binding)
            changes.write(connection)
        if failure is not None:
            raise failure

    def deploy_count(self, resource: Resource) -> int:
        """How many times the resource's certificate was actually changed; tests use it to prove no double deploy."""
        with self._engine.connect() as connection:
            count = connection.execute(
                sa.select(_cloud_resource.c.deploy_count).where(*_key_clause(_resource_key(resource)))
            ).scalar_one_or_none()
        return count or 0

    def served_certificate(self, server_name: str) -> tuple[str, str] | None:
        """The certificate (PEM chain, PEM key) the HTTPS resource of `server_name` serves now: the one bound, or
        the previous one while its `serve_old` lasts. A resource whose domain is that name wins over a wildcard one;
        among several, the one changed last. A certificate named in the inventory and never bound here gets a
        self-signed stand-in under its name. None when no HTTPS resource with a certificate has that name."""
        name = server_name.lower().rstrip(".")
        wildcard = "*." + name.partition(".")[2]
        same_resource = sa.and_(*(_cloud_resource.c[k] == _cloud_serving.c[k] for k in _KEY_COLUMNS))
        joined = sa.join(_cloud_resource, _cloud_serving, same_resource, isouter=True)
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    _cloud_resource.c.account_id,
                    _cloud_resource.c.domain,
                    _cloud_resource.c.cert_name,
                    _cloud_serving.c.serve_old,
                    _cloud_serving.c.previous_cert_name,
                    _cloud_serving.c.changed_at,
                )
                .select_from(joined)
                .where(
                    _cloud_resource.c.https_enabled.is_(True),
                    sa.func.lower(_cloud_resource.c.domain).in_([name, wildcard]),
                )
            ).all()
        candidates = sorted(rows, key=lambda r: (r.domain.lower() == name, r.changed_at or 0.0), reverse=True)
        for row in candidates:
            serving = _served_name(row.cert_name, row.previous_cert_name, row.changed_at, row.serve_old, self._now())
            if serving is not None:
                return self._content(row.account_id, serving, row.domain)
        return None

    def _content(self, account_id: int, cert_name: str, domain: str) -> tuple[str, str]:
        with self._engine.connect() as connection:
            found = connection.execute(
                sa.select(_cloud_certificate.c.cert_pem, _cloud_certificate.c.key_pem).where(
                    _cloud_certificate.c.account_id == account_id, _cloud_certificate.c.name == cert_name
                )
            ).first()
        if found is not None:
            return found.cert_pem, found.key_pem
        # Only the local TLS asks for content: the functions that load the local cloud need not load the CA's x509.
        from certdeploy.adapters.local_ca import stand_in_certificate

        cert_pem, key_pem = stand_in_certificate(cert_name, domain)
        with self._engine.begin() as connection:
            _keep_content(connection, account_id, cert_name, cert_pem, key_pem)
        return cert_pem, key_pem

    def _rebind(
        self, rows: dict[_Key, dict[str, Any]], changes: _Changes, resource: Resource, binding: Binding
    ) -> DeployFailed | None:
        """Decide a bind on the resource's row as read (and as the batch's earlier binds changed it), adding its
        writes to `changes`: None when it is bound, else why not (a throttled call's attempt is spent all the
        same)."""
        key = _resource_key(resource)
        row = rows.get(key)
        if row is None:
            return _gone(resource)
        if row["cert_id"] == binding.cert_id and row["cert_name"] == binding.cert_name:
            return None
        parameters = _key_parameters(resource)
        if row["flaky_remaining"] > 0:
            # The throttled attempt is spent even though the call fails, as with a real rate limit.
            row["flaky_remaining"] -= 1
            changes.spent.append(parameters)
            return _throttled()
        if row["fail"]:
            return PermanentDeployFailure("OperationDenied", row["fail"])
        if not row["https_enabled"]:
            return PermanentDeployFailure("HttpsDisabled", f"HTTPS is disabled on {_describe(resource)}.")
        changes.rebound.append({**parameters, "new_cert_id": binding.cert_id, "new_cert_name": binding.cert_name})
        changes.recorded.append({**parameters, "previous": row["cert_name"], "changed": self._now()})
        row.update(cert_id=binding.cert_id, cert_name=binding.cert_name)
        return None


@dataclass
class _Changes:
    """The writes of a transaction's binds, each kind in one executemany."""

    spent: list[dict[str, Any]] = field(default_factory=list)
    rebound: list[dict[str, Any]] = field(default_factory=list)
    recorded: list[dict[str, Any]] = field(default_factory=list)

    def write(self, connection: sa.Connection) -> None:
        for statement, rows in ((_SPEND_FLAKY, self.spent), (_REBIND, self.rebound), (_RECORD_CHANGE, self.recorded)):
            if rows:
                connection.execute(statement, rows)


def _rows_by_key(
    connection: sa.Connection, columns: Sequence[str], resources: Sequence[Resource]
) -> dict[_Key, dict[str, Any]]:
    """The `columns` of the resources' rows, by key (absent: gone), in one query per 100 resources. Each key is its
    own term of an OR, which SQLite looks up in the primary key one by one; it scans the table for a row-value IN."""
    keys = sorted({_resource_key(resource) for resource in resources})
    term = "(" + " AND ".join(f"{name} = ?" for name in _KEY_COLUMNS) + ")"
    selected = ", ".join((*_KEY_COLUMNS, *columns))
    rows: dict[_Key, dict[str, Any]] = {}
    for chunk in chunks(keys, _KEYS_PER_QUERY):
        query = f"SELECT {selected} FROM {_cloud_resource.name} WHERE " + " OR ".join([term] * len(chunk))
        for row in connection.exec_driver_sql(query, tuple(value for key in chunk for value in key)):
            rows[tuple(row[: len(_KEY_COLUMNS)])] = dict(zip(columns, row[len(_KEY_COLUMNS) :], strict=True))
    return rows


def _keep_content(connection: sa.Connection, account_id: int, name: str, cert_pem: str, key_pem: str) -> None:
    """Store the content of the certificate named `name`, unless it is stored already (a job binds one certificate on
    many resources: one read each, not a rewrite)."""
    where = (_cloud_certificate.c.account_id == account_id, _cloud_certificate.c.name == name)
    kept = connection.execute(
        sa.select(_cloud_certificate.c.cert_pem, _cloud_certificate.c.key_pem).where(*where)
    ).first()
    if kept is not None and tuple(kept) == (cert_pem, key_pem):
        return
    connection.execute(sa.delete(_cloud_certificate).where(*where))
    connection.execute(
        sa.insert(_cloud_certificate).values(account_id=account_id, name=name, cert_pem=cert_pem, key_pem=key_pem)
    )


def _throttled() -> TransientDeployFailure:
    return TransientDeployFailure("Throttling.User", "Request was denied due to user flow control.")


_KEY_COLUMNS = ("account_id", "product", "region", "instance_id", "domain", "port")


def _served_name(
    current: str | None, previous: str | None, changed_at: float | None, serve_old: int | None, now: float
) -> str | None:
    """The certificate a resource serves now: the previous one while its `serve_old` lasts after the change."""
    if serve_old is None or changed_at is None:
        return current
    if serve_old == SERVE_OLD_FOREVER or now < changed_at + serve_old:
        return previous
    return current


# Entries `load` writes per statement.
LOAD_BATCH = 1000
# The keys a load named, keyed and typed as the resources' (the sweep looks each resource up in it: untyped columns
# would keep SQLite from using the key, and the sweep of 100,000 would scan it 100,000 times); a key named twice is one.
_LOADED = sa.Table(
    "loaded_key",
    sa.MetaData(),
    *(sa.Column(column.name, column.type, primary_key=True) for column in _cloud_resource.primary_key.columns),
    prefixes=["TEMPORARY"],
)
# What a load sets, beside the key: a resource already known keeps its binding (what a deployment bound is the
# cloud's truth; a reload describes, it does not revert), its deploy count and its serving history.
_LOADED_SETTINGS = ("namespace", "tags", "https_enabled", "fail", "flaky_remaining")
_insert_resource = sqlite_insert(_cloud_resource)
_LOAD_RESOURCE = _insert_resource.on_conflict_do_update(
    index_elements=list(_cloud_resource.primary_key.columns),
    set_={name: _insert_resource.excluded[name] for name in _LOADED_SETTINGS},
)
_insert_serving = sqlite_insert(_cloud_serving)
_LOAD_SERVING = _insert_serving.on_conflict_do_update(
    index_elements=list(_cloud_serving.primary_key.columns), set_={"serve_old": _insert_serving.excluded.serve_old}
)


def _loaded_row(key: dict[str, object], entry: InventoryEntry) -> dict[str, object]:
    settings = (entry.namespace, entry.tags or None, entry.https, entry.fail, entry.flaky)
    return {**key, **dict(zip(_LOADED_SETTINGS, settings, strict=True)), "cert_name": entry.cert, "deploy_count": 0}


# Resources `discover` reads at a time, and what it reads of each beside the key.
DISCOVER_PAGE = 1000
_SPEC_COLUMNS = ("https_enabled", "namespace", "tags", "cert_id", "cert_name")
_PRODUCTS = {str(product): product for product in Product}


def _spec(
    product: str,
    region: str,
    instance_id: str,
    domain: str,
    port: int,
    https_enabled: bool,
    namespace: str | None,
    tags: dict[str, str] | None,
    cert_id: int | None,
    cert_name: str | None,
) -> ResourceSpec:
    return ResourceSpec(
        product=_PRODUCTS[product],
        region=region,
        instance_id=instance_id,
        domain=domain,
        https_enabled=https_enabled,
        port=port or None,
        listener_id=f"lsn-{instance_id}@{port}" if port else None,
        namespace_id=namespace,
        tags=tuple(sorted((tags or {}).items())),
        bound_cert_id=cert_id,
        bound_cert_name=cert_name,
    )


_Key = tuple[int, str, str, str, str, int]


def _entry_key(account_id: int, entry: InventoryEntry) -> _Key:
    return (account_id, str(entry.product), entry.region, entry.instance, entry.domain, entry.port or 0)


def _resource_key(resource: Resource) -> _Key:
    return (
        resource.account_id,
        str(resource.product),
        resource.region,
        resource.instance_id,
        resource.domain,
        resource.port or 0,
    )


def _key_clause(key: tuple) -> list[sa.ColumnElement[bool]]:
    return [_cloud_resource.c[name] == value for name, value in zip(_KEY_COLUMNS, key, strict=True)]


def _key_parameters(resource: Resource) -> dict[str, object]:
    """The values of the `_by_key` parameters for `resource`."""
    return {f"key_{name}": value for name, value in zip(_KEY_COLUMNS, _resource_key(resource), strict=True)}


def _by_key(table: sa.Table) -> list[sa.ColumnElement[bool]]:
    return [table.c[name] == sa.bindparam(f"key_{name}") for name in _KEY_COLUMNS]


# What a read of bindings takes of a resource's row, and what a bind decides on (not the tags, whose JSON would be
# decoded on every bind); resources read per query.
_BINDING_COLUMNS = ("cert_id", "cert_name")
_DECIDING_COLUMNS = ("cert_id", "cert_name", "flaky_remaining", "fail", "https_enabled")
_KEYS_PER_QUERY = 100
# A deployment's writes, built once: each runs with its resource's key (`_key_parameters`).
_SPEND_FLAKY = (
    sa.update(_cloud_resource)
    .where(*_by_key(_cloud_resource))
    .values(flaky_remaining=_cloud_resource.c.flaky_remaining - 1)
)
_REBIND = (
    sa.update(_cloud_resource)
    .where(*_by_key(_cloud_resource))
    .values(
        cert_id=sa.bindparam("new_cert_id"),
        cert_name=sa.bindparam("new_cert_name"),
        deploy_count=_cloud_resource.c.deploy_count + 1,
    )
)
_RECORD_CHANGE = (
    sa.update(_cloud_serving)
    .where(*_by_key(_cloud_serving))
    .values(previous_cert_name=sa.bindparam("previous"), changed_at=sa.bindparam("changed"))
)


def _describe(resource: Resource) -> str:
    port = f":{resource.port}" if resource.port else ""
    return f"{resource.instance_id} ({resource.domain}{port}, {resource.region})"


def _gone(resource: Resource) -> PermanentDeployFailure:
    return PermanentDeployFailure("ResourceNotFound", f"{resource.product} resource {_describe(resource)} is gone.")
