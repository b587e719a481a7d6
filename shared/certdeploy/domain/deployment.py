"""What a deployer needs and reports: the certificate to bind, a resource's binding, and classified failures.

Failures are either transient (throttling, 5xx, timeouts: the worker is retried with backoff) or permanent (not
found, invalid certificate, locked listener: the worker ends in `error` with the product's code and message).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr

from certdeploy.domain.models import CertAlgorithm, Product


class DeployableCertificate(BaseModel):
    """A certificate as a deployer receives it. The key is a SecretStr so it never shows in a repr or a log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cert_id: int
    name: str
    algorithm: CertAlgorithm
    cert_pem: str
    key_pem: SecretStr
    cas_cert_id: int | None = None


class Binding(BaseModel):
    """The certificate a resource serves now: ours (cert_id) or anything else (name only), or nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cert_id: int | None = None
    cert_name: str | None = None
    domain: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.cert_id is None and self.cert_name is None


class DeployFailed(Exception):
    """A deployer could not change a resource. `code` and `message` are shown to the user as the worker's cause."""

    transient: bool = False

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class TransientDeployFailure(DeployFailed):
    """Worth retrying: throttling, a 5xx, a timeout."""

    transient = True


class PermanentDeployFailure(DeployFailed):
    """Retrying will not help: the resource or the certificate is refused."""


class DiscoveredResource(BaseModel):
    """A resource as a cloud inventory reports it, before the store gives it its stable id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product: Product
    region: str
    instance_id: str
    domain: str
    https_enabled: bool = True
    port: int | None = None
    listener_id: str | None = None
    bound_cert_id: int | None = None
    bound_cert_name: str | None = None

    @property
    def natural_key(self) -> tuple[str, str, str, str, int]:
        return (str(self.product), self.region, self.instance_id, self.domain, self.port or 0)
