"""What a deployer needs and reports: the certificate to bind, a resource's binding, and its failures, which are
`Transient` or `Permanent` as in docs/failures.md.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr

from certdeploy.domain.failures import Failure, Permanent, Transient
from certdeploy.domain.models import CertAlgorithm, Product

# Products whose cloud deployers bind a certificate kept in CAS by its CAS id when it has one (ALB, NLB, GA, MSE and SAE
# only that way; CDN, DCDN, Anti-DDoS, OSS and WAF prefer it to PEM): a CAS certificate's PEM is not needed there.
# FC and API Gateway take PEM and key only.
CAS_ID_PRODUCTS: frozenset[Product] = frozenset(Product) - {Product.FC, Product.APIGATEWAY}
# Products that name a CAS certificate by the `CertIdentifier` CAS gives it (GetUserCertificateDetail): the deploy reads
# it from the certificate source.
CAS_IDENTIFIER_PRODUCTS: frozenset[Product] = frozenset({Product.WAF})


class DeployableCertificate(BaseModel):
    """A certificate as a deployer receives it. The key is a SecretStr so it never shows in a repr or a log."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    cert_id: int
    name: str
    algorithm: CertAlgorithm
    cert_pem: str
    key_pem: SecretStr
    cas_cert_id: int | None = None
    # CAS's `CertIdentifier` of the certificate ("<CAS id>-<CAS region>"), read for the products that bind by it.
    cas_identifier: str | None = None


class Binding(BaseModel):
    """The certificate a resource serves now: ours (cert_id) or anything else (name only), or nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    cert_id: int | None = None
    cert_name: str | None = None
    domain: str | None = None
    # The CAS certificate id of what the resource serves, when the product reports one: what restore binds again.
    cas_cert_id: int | None = None
    # Product-specific facts a cloud deployer needs to restore this binding (e.g. the CAS region, the certificate type),
    # as sorted (name, value) pairs so the binding stays hashable and JSON-serialisable.
    details: tuple[tuple[str, str], ...] = ()

    @property
    def is_empty(self) -> bool:
        return self.cert_id is None and self.cert_name is None and self.cas_cert_id is None

    def detail(self, name: str) -> str | None:
        """The value of one of `details`, or None."""
        return next((value for key, value in self.details if key == name), None)


class DeployFailed(Failure):
    """A deployer or certificate source could not do what it was asked; always one of the two kinds below."""


class TransientDeployFailure(DeployFailed, Transient):
    """Worth retrying: throttling, a 5xx, a timeout."""


class PermanentDeployFailure(DeployFailed, Permanent):
    """Retrying will not help: the resource or the certificate is refused."""
