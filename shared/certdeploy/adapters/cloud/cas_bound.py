"""What the deployers of products that bind a certificate by its CAS identifier share: ALB, NLB and GA listeners and
MSE gateway domains.

These products never take PEM: they name a certificate kept in CAS by its identifier `<CAS cert id>-<CAS region>`
(`CertIdentifier` of CAS GetUserCertificateDetail, e.g. `123-cn-hangzhou`; docs/protocol.md#wire-quirks). The same form
appears as ALB `Certificates.N.CertificateId` and NLB `CertificateIds.N` in the Terraform provider's examples
(`join("", [<cas id>, "-cn-hangzhou"])`, `["8697931-cn-hangzhou"]`), as GA `Certificates.N.Id` and as MSE
`CertIdentifier` (`6209108-cn-hangzhou` in the UpdateGatewayDomain reference). A certificate without a `cas_cert_id`
cannot be bound: it fails permanently with `CertificateNotInCas`.

Each product supplies two steps, `_read` (what the resource serves now, plus whatever the write needs to keep the
resource's other settings) and `_write` (bind another identifier); this base makes the `Deployer` of them:
- `current_binding`: the identifier served now, as `Binding(cas_cert_id, cert_name=<identifier>, details)` (the raw
  identifier is kept in the `certificate_identifier` detail, so restore puts back exactly what was there).
- `bind` / `restore`: read first; the same identifier bound already makes no write (idempotent); a resource in a
  transitional state ("Configuring", "updating", "publishing") fails transiently before any write, since the product
  refuses changes then and the worker's retry will find it settled; else write.
- A previous binding without a certificate cannot be restored on these products (a listener or an HTTPS domain always
  serves one): `PreviousCertificateUnavailable`, unless the resource serves nothing now either.

The products' write calls are asynchronous (ALB/NLB answer a JobId and the listener goes "Configuring"; GA and MSE
update in the background). We treat "accepted" as success and do not wait: the product finishes the change on its
own, a function's time is better not spent polling, and a duplicate or retried bind finds the identifier already in
place on its read and makes no second write.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, RegionalClients, sdk_errors
from certdeploy.domain.deployment import (
    Binding,
    DeployableCertificate,
    PermanentDeployFailure,
    TransientDeployFailure,
)
from certdeploy.domain.models import Resource

# CAS's region in a certificate identifier is the site's (`ApiTarget.cas_region`): the China site keeps every
# certificate in cn-hangzhou (docs/protocol.md#wire-quirks, `CertIdentifier`), the international site in ap-southeast-1.
# Binding detail: the identifier exactly as the product reported it.
CERTIFICATE_IDENTIFIER = "certificate_identifier"
# Error code families Alibaba products answer while a resource is being changed by another operation (a listener
# "Configuring", a locked instance, a GA state machine): worth retrying once the resource settles.
_BUSY_CODE_PREFIXES = ("IncorrectStatus", "Conflict.Lock", "StateError")
_IDENTIFIER = re.compile(r"^(\d+)(?:-[a-z0-9-]+)?$")

_Target = TypeVar("_Target")
_Client = TypeVar("_Client")
_Item = TypeVar("_Item")


@dataclass(frozen=True)
class BoundState(Generic[_Target]):
    """A resource as `_read` found it: the identifier it serves (None: nothing), and what `_write` needs."""

    target: _Target
    identifier: str | None
    busy: TransientDeployFailure | None = None


class CasBoundDeployer(ABC, Generic[_Client, _Target]):
    """A `Deployer` for a product that binds certificates by CAS identifier; subclasses read and write one resource."""

    product_name: str = ""

    def __init__(self, credentials: CloudCredentials, target: ApiTarget | None = None) -> None:
        self._credentials = credentials
        self._target = target or ApiTarget()
        self._clients: RegionalClients[_Client] = RegionalClients(self._client_for)

    @abstractmethod
    def _client_for(self, region: str) -> _Client:
        """The product's SDK client for `region` (imported here, not at module import)."""

    @abstractmethod
    def _read(self, resource: Resource) -> BoundState[_Target]: ...

    @abstractmethod
    def _write(self, resource: Resource, state: BoundState[_Target], identifier: str) -> None: ...

    def current_binding(self, resource: Resource) -> Binding:
        return binding_of(resource, self._read(resource).identifier)

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        if certificate.cas_cert_id is None:
            raise PermanentDeployFailure(
                "CertificateNotInCas",
                f"{self.product_name} binds certificates kept in CAS only, and certificate '{certificate.name}' "
                f"({certificate.cert_id}) has no CAS certificate id: upload it to CAS first.",
            )
        self._rebind(resource, self._target.cas_identifier(certificate.cas_cert_id))

    def restore(self, resource: Resource, binding: Binding) -> None:
        identifier = binding.detail(CERTIFICATE_IDENTIFIER)
        if identifier is None and binding.cas_cert_id is not None:
            identifier = self._target.cas_identifier(binding.cas_cert_id)
        if identifier is not None:
            self._rebind(resource, identifier)
            return
        if self._read(resource).identifier is None:
            return
        raise PermanentDeployFailure(
            "PreviousCertificateUnavailable",
            f"The {self.product_name} resource {describe(resource)} had no CAS certificate before "
            f"({binding.cert_name or 'none recorded'}), and it cannot be left without one: bind another certificate.",
        )

    def _client(self, resource: Resource) -> _Client:
        return self._clients.for_region(resource.region)

    def _rebind(self, resource: Resource, identifier: str) -> None:
        state = self._read(resource)
        if state.identifier == identifier:
            return
        if state.busy is not None:
            raise state.busy
        self._write(resource, state, identifier)


def binding_of(resource: Resource, identifier: str | None) -> Binding:
    """The binding a resource serving `identifier` (None: nothing) has."""
    if identifier is None:
        return Binding(domain=resource.domain)
    match = _IDENTIFIER.match(identifier)
    return Binding(
        cas_cert_id=int(match.group(1)) if match else None,
        cert_name=identifier,
        domain=resource.domain,
        details=((CERTIFICATE_IDENTIFIER, identifier),),
    )


@contextmanager
def product_call(what: str) -> Iterator[None]:
    """`sdk_errors`, plus the busy-resource code families counted as transient (see `_BUSY_CODE_PREFIXES`)."""
    try:
        with sdk_errors(what):
            yield
    except PermanentDeployFailure as failure:
        if failure.code.startswith(_BUSY_CODE_PREFIXES):
            raise TransientDeployFailure(failure.code, failure.message) from None
        raise


def listener_id_of(resource: Resource) -> str | None:
    """The product's listener id: CAS reports `lsn-xxxx@<port>`; the product names the listener by the part before @."""
    if not resource.listener_id:
        return None
    return resource.listener_id.split("@", 1)[0] or None


def describe(resource: Resource) -> str:
    port = f":{resource.port}" if resource.port else ""
    return f"{resource.instance_id} ({resource.domain}{port}, {resource.region})"


def first(items: list[_Item] | None, keep: Callable[[_Item], bool]) -> _Item | None:
    """The first item `keep` accepts, or None."""
    return next((item for item in items or [] if keep(item)), None)
