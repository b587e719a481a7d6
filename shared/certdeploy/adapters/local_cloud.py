"""The local cloud: resources of the twelve products, described by an inventory file, that deployments really rebind.

It stands in for the products' APIs when certdeploy runs on embedded defaults. Its state lives in its own SQLite
file so `certdeploy cloud load` and a running `serve` can share it. A resource is identified by its natural key
(product, region, instance, domain, port), which is what keeps its certdeploy `Id` stable across reloads.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from certdeploy.adapters.private_files import private_database_file
from certdeploy.domain.deployment import (
    Binding,
    DeployableCertificate,
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
    sa.Column("https_enabled", sa.Boolean, nullable=False),
    sa.Column("cert_id", sa.Integer, nullable=True),
    sa.Column("cert_name", sa.String(255), nullable=True),
    sa.Column("fail", sa.Text, nullable=True),
    sa.Column("flaky_remaining", sa.Integer, nullable=False, default=0),
    sa.Column("deploy_count", sa.Integer, nullable=False, default=0),
)


class InventoryError(ValueError):
    """The inventory file cannot be read; the message says where and why."""


class InventoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    product: Product
    region: str = Field(min_length=1)
    instance: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    https: bool = True
    port: int | None = Field(None, ge=1, le=65535)
    namespace: str | None = Field(None, min_length=1, max_length=128, description="SAE namespace, `<region>:<name>`")
    cert: str | None = Field(None, description="name of the certificate bound now")
    fail: str | None = Field(None, description="every deploy here fails permanently with this message")
    flaky: int = Field(0, ge=0, description="the first N deploys here fail with a transient throttling error")

    @model_validator(mode="after")
    def _namespace_only_for_sae(self) -> InventoryEntry:
        if self.namespace is not None and self.product is not Product.SAE:
            raise ValueError(f"namespace is an SAE Ingress's; {self.product} has none")
        return self


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    resources: list[InventoryEntry]

    @classmethod
    def from_file(cls, path: Path) -> Inventory:
        import yaml  # only `certdeploy serve --inventory` reads a file: the functions do not load the YAML parser

        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise InventoryError(f"{path}: {exc}") from exc
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            raise InventoryError(f"{path}: {exc}") from exc


class LocalCloud:
    """Inventory and deployer of the local cloud, for one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._engine = sa.create_engine(f"sqlite:///{private_database_file(path)}", connect_args={"timeout": 30})
        with self._engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            _metadata.create_all(connection)
            # A local cloud file written before resources had a namespace gets the column (create_all adds none).
            columns = {column["name"] for column in sa.inspect(connection).get_columns(_cloud_resource.name)}
            if "namespace" not in columns:
                connection.exec_driver_sql("ALTER TABLE cloud_resource ADD COLUMN namespace VARCHAR(128)")

    def close(self) -> None:
        self._engine.dispose()

    def for_product(self, product: Product) -> LocalCloud:
        """The local cloud deploys every product itself (the `Deployers` port)."""
        return self

    def load(self, account_id: int, inventory: Inventory) -> int:
        """Make the account's resources exactly those of the inventory; resources already known keep their binding."""
        wanted = {_entry_key(account_id, entry): entry for entry in inventory.resources}
        with self._engine.begin() as connection:
            existing = {
                tuple(row)
                for row in connection.execute(
                    sa.select(*(_cloud_resource.c[name] for name in _KEY_COLUMNS)).where(
                        _cloud_resource.c.account_id == account_id
                    )
                )
            }
            for key in existing - wanted.keys():
                connection.execute(sa.delete(_cloud_resource).where(*_key_clause(key)))
            for key, entry in wanted.items():
                settings = {
                    "namespace": entry.namespace,
                    "https_enabled": entry.https,
                    "fail": entry.fail,
                    "flaky_remaining": entry.flaky,
                }
                if key in existing:
                    # What a deployment bound is the cloud's truth now; a reload describes, it does not revert.
                    connection.execute(sa.update(_cloud_resource).where(*_key_clause(key)).values(**settings))
                else:
                    connection.execute(
                        sa.insert(_cloud_resource).values(
                            {**dict(zip(_KEY_COLUMNS, key, strict=True)), "cert_name": entry.cert, **settings}
                        )
                    )
        return len(wanted)

    def discover(self, account_id: int) -> list[ResourceSpec]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(_cloud_resource)
                .where(_cloud_resource.c.account_id == account_id)
                .order_by(*(_cloud_resource.c[name] for name in _KEY_COLUMNS))
            ).mappings()
            return [
                ResourceSpec(
                    product=Product(row["product"]),
                    region=row["region"],
                    instance_id=row["instance_id"],
                    domain=row["domain"],
                    https_enabled=row["https_enabled"],
                    port=row["port"] or None,
                    listener_id=f"lsn-{row['instance_id']}@{row['port']}" if row["port"] else None,
                    namespace_id=row["namespace"],
                    bound_cert_id=row["cert_id"],
                    bound_cert_name=row["cert_name"],
                )
                for row in rows
            ]

    def current_binding(self, resource: Resource) -> Binding:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(_cloud_resource.c.cert_id, _cloud_resource.c.cert_name).where(
                    *_key_clause(_resource_key(resource))
                )
            ).first()
        if row is None:
            raise PermanentDeployFailure(
                "ResourceNotFound", f"{resource.product} resource {_describe(resource)} is gone."
            )
        return Binding(cert_id=row.cert_id, cert_name=row.cert_name, domain=resource.domain)

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        """Bind `certificate`; binding what is already bound succeeds without counting as a deploy."""
        self._rebind(resource, Binding(cert_id=certificate.cert_id, cert_name=certificate.name))

    def restore(self, resource: Resource, binding: Binding) -> None:
        """Put a previous binding back (rollback)."""
        self._rebind(resource, binding)

    def deploy_count(self, resource: Resource) -> int:
        """How many times the resource's certificate was actually changed; tests use it to prove no double deploy."""
        with self._engine.connect() as connection:
            count = connection.execute(
                sa.select(_cloud_resource.c.deploy_count).where(*_key_clause(_resource_key(resource)))
            ).scalar_one_or_none()
        return count or 0

    def _rebind(self, resource: Resource, binding: Binding) -> None:
        key_clause = _key_clause(_resource_key(resource))
        with self._engine.begin() as connection:
            row = connection.execute(sa.select(_cloud_resource).where(*key_clause)).mappings().first()
            if row is None:
                raise _gone(resource)
            if row["cert_id"] == binding.cert_id and row["cert_name"] == binding.cert_name:
                return
            if row["flaky_remaining"] > 0:
                # The throttled attempt is spent even though the call fails, as with a real rate limit.
                connection.execute(
                    sa.update(_cloud_resource).where(*key_clause).values(flaky_remaining=row["flaky_remaining"] - 1)
                )
                throttled = True
            else:
                throttled = False
                if row["fail"]:
                    raise PermanentDeployFailure("OperationDenied", row["fail"])
                if not row["https_enabled"]:
                    raise PermanentDeployFailure("HttpsDisabled", f"HTTPS is disabled on {_describe(resource)}.")
                connection.execute(
                    sa.update(_cloud_resource)
                    .where(*key_clause)
                    .values(cert_id=binding.cert_id, cert_name=binding.cert_name, deploy_count=row["deploy_count"] + 1)
                )
        if throttled:
            raise TransientDeployFailure("Throttling.User", "Request was denied due to user flow control.")


_KEY_COLUMNS = ("account_id", "product", "region", "instance_id", "domain", "port")


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


def _describe(resource: Resource) -> str:
    port = f":{resource.port}" if resource.port else ""
    return f"{resource.instance_id} ({resource.domain}{port}, {resource.region})"


def _gone(resource: Resource) -> PermanentDeployFailure:
    return PermanentDeployFailure("ResourceNotFound", f"{resource.product} resource {_describe(resource)} is gone.")
