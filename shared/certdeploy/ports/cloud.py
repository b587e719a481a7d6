"""The cloud as the use cases see it: each product's inventory and deployer, and the certificate source (CAS)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import SecretStr

from certdeploy.domain.deployment import Binding, DeployableCertificate
from certdeploy.domain.models import CertAlgorithm, CertificateInfo, Product, Resource
from certdeploy.ports.store.resources import ResourceSpec

# What a product looks like to the use cases: an inventory of its HTTPS resources and a deployer per product.


class Inventory(Protocol):
    def discover(self, account_id: int) -> Iterator[ResourceSpec]:
        """Every HTTPS-capable resource of the account, as the cloud reports it now, a page at a time as the cloud
        gives them: the sync holds a page, not the inventory (100,000 resources in a large account)."""
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


class Deployers(Protocol):
    def for_product(self, product: Product) -> Deployer: ...


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
