"""The cloud as the use cases see it: each product's inventory and deployer, and the certificate source (CAS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from certdeploy.domain.deployment import Binding, DeployableCertificate, DeployFailed
from certdeploy.domain.models import CertAlgorithm, CertificateInfo, Product, Resource
from certdeploy.ports.store.resources import ResourceSpec

# What a product looks like to the use cases: an inventory of its HTTPS resources and a deployer per product.


class Inventory(Protocol):
    def discover(self, account_id: int) -> list[ResourceSpec]:
        """Every HTTPS-capable resource of the account, as the cloud reports it now."""
        ...


class Deployer(Protocol):
    """One product's certificate binding. Every method raises `TransientDeployFailure` or `PermanentDeployFailure`."""

    def current_binding(self, resource: Resource) -> Binding:
        """The certificate the resource serves now."""
        ...

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        """Bind `certificate`; binding what is already bound succeeds."""
        ...

    def restore(self, resource: Resource, binding: Binding) -> None:
        """Put back a binding read earlier by `current_binding` (rollback)."""
        ...


@runtime_checkable
class BatchDeployer(Deployer, Protocol):
    """A deployer that reads and binds many resources at once (the local cloud: one query, one transaction)."""

    def current_bindings(self, resources: Sequence[Resource]) -> list[Binding | DeployFailed]:
        """`current_binding` of each resource, or why it could not be read."""
        ...

    def bind_each(self, binds: Sequence[tuple[Resource, DeployableCertificate]]) -> list[DeployFailed | None]:
        """`bind` of each certificate on its resource: None where it is bound, else why it is not."""
        ...


class Deployers(Protocol):
    def for_product(self, product: Product) -> Deployer: ...


def current_bindings(deployer: Deployer, resources: Sequence[Resource]) -> list[Binding | DeployFailed]:
    """`BatchDeployer.current_bindings` for any deployer: one call per resource unless it reads them at once."""
    if isinstance(deployer, BatchDeployer):
        return deployer.current_bindings(resources)
    bindings: list[Binding | DeployFailed] = []
    for resource in resources:
        try:
            bindings.append(deployer.current_binding(resource))
        except DeployFailed as failure:
            bindings.append(failure)
    return bindings


def bind_each(deployer: Deployer, binds: Sequence[tuple[Resource, DeployableCertificate]]) -> list[Exception | None]:
    """`BatchDeployer.bind_each` for any deployer: one call per resource unless it binds them at once. An unexpected
    error is where its bind's failure would be: one call's does not stop the others; a batch's is every bind's."""
    if isinstance(deployer, BatchDeployer):
        try:
            return list(deployer.bind_each(binds))
        except Exception as exc:
            return [exc] * len(binds)
    results: list[Exception | None] = []
    for resource, certificate in binds:
        try:
            deployer.bind(resource, certificate)
        except Exception as exc:
            results.append(exc)
        else:
            results.append(None)
    return results


# --------------------------------------------------------------------------------------------- certificate source
# Where official and uploaded certificates live in the cloud (CAS): listed with their parsed names, their content
# fetched only when a deployment needs it.


@dataclass(frozen=True)
class SourceCertificate:
    """A certificate as the source lists it: names and dates, no content. Unknown facts are None."""

    cas_cert_id: int
    name: str
    common_name: str | None
    sans: tuple[str, ...]
    not_before: datetime | None
    not_after: datetime | None
    uploaded: bool
    expired: bool = False
    free: bool = False
    issuer: str | None = None
    serial: str | None = None
    fingerprint_sha256: str | None = None
    algorithm: CertAlgorithm | None = None


@dataclass(frozen=True)
class SourceCertificateContent:
    """A certificate's PEM (chain), key (None when the source holds none) and the facts parsed from the PEM."""

    cas_cert_id: int
    name: str
    cert_pem: str = field(repr=False)
    key_pem: SecretStr | None
    info: CertificateInfo
    identifier: str | None = None


class CertificateSource(Protocol):
    """Every method raises `TransientDeployFailure` or `PermanentDeployFailure` when the source fails."""

    def list_certificates(self) -> list[SourceCertificate]:
        """Every valid certificate the source holds (official and uploaded)."""
        ...

    def certificate(self, cas_cert_id: int) -> SourceCertificateContent:
        """One certificate's content."""
        ...
