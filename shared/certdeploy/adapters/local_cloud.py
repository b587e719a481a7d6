"""The local cloud: resources of the twelve products, described by an inventory file, that deployments really rebind.

It stands in for the products' APIs when certdeploy runs on embedded defaults. Its state lives in its own SQLite
file so `certdeploy cloud load` and a running `serve` can share it. A resource is identified by its natural key
(product, region, instance, domain, port), which is what keeps its certdeploy `Id` stable across reloads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from certdeploy.adapters.private_files import private_database_file
from certdeploy.domain.deployment import (
    Binding,
    DeployableCertificate,
    PermanentDeployFailure,
    TransientDeployFailure,
)
from certdeploy.domain.models import MAX_CERTIFICATE_TAGS, Product, Resource
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
    import yaml  # only `certdeploy serve --inventory` and `cloud load` read a file: the functions do not load it

    try:
        with path.open(encoding="utf-8") as stream:
            yield from _entries(getattr(yaml, "CSafeLoader", yaml.SafeLoader)(stream), path)
    except (OSError, yaml.YAMLError) as exc:
        raise InventoryError(f"{path}: {exc}") from exc


def _entries(loader: Any, path: Path) -> Iterator[InventoryEntry]:
    """Walk the parser's events: the top mapping, its `resources` list, each entry composed and validated alone."""
    import yaml

    loader.get_event()  # the stream's start
    if not loader.check_event(yaml.DocumentStartEvent):
        raise InventoryError(f"{path}: the file is empty; it needs a `resources:` list")
    loader.get_event()
    if not loader.check_event(yaml.MappingStartEvent):
        raise InventoryError(f"{path}: the file is not a mapping with a `resources:` list")
    loader.get_event()
    listed = False
    while not loader.check_event(yaml.MappingEndEvent):
        key = _value(loader, path)
        if key != "resources" or listed:
            raise InventoryError(f"{path}: unexpected key {key!r}: the file holds one `resources:` list")
        if not loader.check_event(yaml.SequenceStartEvent):
            raise InventoryError(f"{path}: `resources` is not a list")
        loader.get_event()
        index = 0
        while not loader.check_event(yaml.SequenceEndEvent):
            try:
                yield InventoryEntry.model_validate(_value(loader, path))
            except ValidationError as exc:
                raise InventoryError(f"{path}: resources[{index}]: {exc}") from exc
            index += 1
        loader.get_event()
        listed = True
    if not listed:
        raise InventoryError(f"{path}: the file has no `resources:` list")


def _value(loader: Any, path: Path) -> Any:
    """The next node's value, built from its events as `yaml.safe_load` would build it."""
    import yaml

    event = loader.get_event()
    if isinstance(event, yaml.ScalarEvent):
        tag = (
            event.tag if event.tag not in (None, "!") else loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        )
        # construct_document, not construct_object: it forgets the node, so nothing accumulates over the file.
        return loader.construct_document(yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark))
    if isinstance(event, yaml.MappingStartEvent):
        mapping = {}
        while not loader.check_event(yaml.MappingEndEvent):
            key = _value(loader, path)
            mapping[key] = _value(loader, path)
        loader.get_event()
        return mapping
    if isinstance(event, yaml.SequenceStartEvent):
        items = []
        while not loader.check_event(yaml.SequenceEndEvent):
            items.append(_value(loader, path))
        loader.get_event()
        return items
    raise InventoryError(f"{path}: {event.start_mark}: anchors and aliases are not supported in an inventory")


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
        with self._engine.connect() as connection:
            row = connection.execute(_SELECT_BINDING, _key_parameters(resource)).first()
        if row is None:
            raise PermanentDeployFailure(
                "ResourceNotFound", f"{resource.product} resource {_describe(resource)} is gone."
            )
        return Binding(cert_id=row.cert_id, cert_name=row.cert_name, domain=resource.domain)

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        """Bind `certificate`; binding what is already bound succeeds without counting as a deploy."""
        name = (resource.account_id, certificate.name)
        content = (certificate.cert_pem, certificate.key_pem.get_secret_value())
        # The local cloud keeps what a product keeps, the key too, in its owner-only file: its TLS serves them. A job
        # binds one certificate on many resources, so what this process stored last is not stored again (whichever
        # process stored a name's content last, that is the content the name serves).
        keep = all(content) and self._kept.get(name) != content
        with self._engine.begin() as connection:
            if keep:
                _keep_content(connection, *name, *content)
            throttled = self._rebind(
                connection, resource, Binding(cert_id=certificate.cert_id, cert_name=certificate.name)
            )
        if keep:
            self._kept[name] = content
        if throttled:
            raise _throttled()

    def restore(self, resource: Resource, binding: Binding) -> None:
        """Put a previous binding back (rollback)."""
        with self._engine.begin() as connection:
            throttled = self._rebind(connection, resource, binding)
        if throttled:
            raise _throttled()

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

    def _rebind(self, connection: sa.Connection, resource: Resource, binding: Binding) -> bool:
        """Bind in `connection`'s transaction; True when the call was throttled (its attempt spent, nothing bound)."""
        key = _key_parameters(resource)
        row = connection.execute(_SELECT_RESOURCE, key).mappings().first()
        if row is None:
            raise _gone(resource)
        if row["cert_id"] == binding.cert_id and row["cert_name"] == binding.cert_name:
            return False
        if row["flaky_remaining"] > 0:
            # The throttled attempt is spent even though the call fails, as with a real rate limit.
            connection.execute(_SPEND_FLAKY, key)
            return True
        if row["fail"]:
            raise PermanentDeployFailure("OperationDenied", row["fail"])
        if not row["https_enabled"]:
            raise PermanentDeployFailure("HttpsDisabled", f"HTTPS is disabled on {_describe(resource)}.")
        connection.execute(_REBIND, {**key, "new_cert_id": binding.cert_id, "new_cert_name": binding.cert_name})
        connection.execute(_RECORD_CHANGE, {**key, "previous": row["cert_name"], "changed": self._now()})
        return False


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


def _entry_key(account_id: int, entry: InventoryEntry) -> tuple[int, str, str, str, str, int]:
    return (account_id, str(entry.product), entry.region, entry.instance, entry.domain, entry.port or 0)


def _resource_key(resource: Resource) -> tuple[int, str, str, str, str, int]:
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


# A deployment's statements, built once: each bind runs them with its resource's key (`_key_parameters`).
_SELECT_BINDING = sa.select(_cloud_resource.c.cert_id, _cloud_resource.c.cert_name).where(*_by_key(_cloud_resource))
# Only what a bind decides on: not the tags, whose JSON would be decoded on every bind.
_SELECT_RESOURCE = sa.select(
    *(_cloud_resource.c[name] for name in ("cert_id", "cert_name", "flaky_remaining", "fail", "https_enabled"))
).where(*_by_key(_cloud_resource))
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
