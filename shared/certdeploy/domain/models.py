"""pydantic models of the domain: certificates, cloud resources, contacts, jobs and workers.

Times are timezone-aware UTC datetimes inside the domain; the API turns them into Unix milliseconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.domain.text_enum import TextEnum

MAX_CONTACTS_PER_JOB = 10
# Alibaba Cloud resource tags: at most 20 on a resource, keys and values up to 128 characters.
MAX_CERTIFICATE_TAGS = 20
MAX_TAG_LENGTH = 128


class Product(TextEnum):
    """CAS `CloudProduct` codes of the twelve target services."""

    SAE = "SAE"
    MSE = "MSE"
    APIGATEWAY = "APIGateway"
    GA = "GA"
    FC = "FC"
    OSS = "OSS"
    WAF = "WAF"
    ALB = "ALB"
    NLB = "NLB"
    CDN = "CDN"
    DCDN = "DCDN"
    DDOS = "DDOS"


# "You can deploy SM certificates only to CDN, DCDN, and Anti-DDoS" (CAS user guide, deploy to cloud services).
SM_PRODUCTS: frozenset[Product] = frozenset({Product.CDN, Product.DCDN, Product.DDOS})
# Products whose resources are listeners (InstanceId / ListenerId / port), per docs/protocol.md#wire-quirks.
LISTENER_PRODUCTS: frozenset[Product] = frozenset({Product.ALB, Product.NLB, Product.GA})


class CertAlgorithm(TextEnum):
    RSA = "RSA"
    ECC = "ECC"
    SM2 = "SM2"


class CertOrigin(TextEnum):
    """Where a certificate came from; CAS `CertType` values. `buy` and `free` are official certificates."""

    UPLOAD = "upload"
    BUY = "buy"
    FREE = "free"

    @property
    def is_official(self) -> bool:
        return self is not CertOrigin.UPLOAD


class JobType(TextEnum):
    USER = "user"
    CLOUD = "cloud"
    TRUSTEE = "trustee"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes in the domain must be timezone-aware")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class CertificateInfo(_Model):
    """What parsing a PEM certificate tells us; no identity, no key."""

    common_name: str | None
    sans: tuple[str, ...] = Field(description="DNS subject alternative names, as written in the certificate")
    names: tuple[str, ...] = Field(description="normalised names the certificate covers: SANs plus a host-name CN")
    not_before: UtcDatetime
    not_after: UtcDatetime
    serial: str = Field(description="serial number, lower-case hex")
    fingerprint_sha256: str = Field(description="SHA-256 of the DER certificate, lower-case hex")
    issuer: str = Field(description="issuer distinguished name, RFC 4514")
    issuer_common_name: str | None = None
    algorithm: CertAlgorithm
    chain_length: int = Field(1, ge=1, description="certificates in the PEM, leaf first")

    def is_valid_at(self, moment: datetime) -> bool:
        return self.not_before <= moment <= self.not_after


class CertificateTag(_Model):
    """A tag given at upload (UploadUserCertificate `Tags`), kept as given."""

    key: str = Field(min_length=1, max_length=MAX_TAG_LENGTH)
    value: str = Field("", max_length=MAX_TAG_LENGTH)


class Certificate(CertificateInfo):
    """A certificate an account owns: parsed facts plus identity. The private key is never part of it."""

    id: int
    account_id: int
    name: str = Field(min_length=1, max_length=128)
    origin: CertOrigin
    cert_pem: str = Field(repr=False, description='PEM chain; "" for a CAS certificate whose content is not read yet')
    created_at: UtcDatetime | None = None
    cas_cert_id: int | None = Field(None, description="CAS CertId of a certificate mirrored from CAS")
    tags: tuple[CertificateTag, ...] = Field((), max_length=MAX_CERTIFICATE_TAGS)

    @property
    def has_pem(self) -> bool:
        """False while a certificate mirrored from CAS has only the facts CAS lists (its content comes on first use)."""
        return bool(self.cert_pem)


class Resource(_Model):
    """An HTTPS endpoint of one of the twelve products that a certificate can be bound to."""

    id: int
    account_id: int
    product: Product
    region: str
    instance_id: str
    domain: str
    https_enabled: bool = True
    port: int | None = Field(None, ge=1, le=65535)
    listener_id: str | None = None
    # The SAE namespace of an Ingress (`<region>:<name>`), which CAS shows on SAE workers; None for other products.
    namespace_id: str | None = Field(None, max_length=128)
    # The resource's tags as (key, value) pairs sorted by key: they choose the maintenance windows that govern it.
    tags: tuple[tuple[str, str], ...] = Field((), max_length=MAX_CERTIFICATE_TAGS)
    bound_cert_id: int | None = None
    bound_cert_name: str | None = None
    gone: bool = False
    created_at: UtcDatetime | None = None
    modified_at: UtcDatetime | None = None


class Contact(_Model):
    id: int
    account_id: int
    name: str = Field(min_length=1, max_length=64)
    email: str | None = None
    mobile: str | None = None
    webhooks: tuple[str, ...] = ()


class Job(_Model):
    id: int
    account_id: int
    name: str = Field(min_length=1, max_length=63)
    job_type: JobType = JobType.USER
    status: JobStatus = JobStatus.EDITING
    cert_origin: CertOrigin
    cert_ids: tuple[int, ...] = Field(min_length=1)
    resource_ids: tuple[int, ...] = ()
    contact_ids: tuple[int, ...] = Field((), max_length=MAX_CONTACTS_PER_JOB)
    schedule_time: UtcDatetime | None = None
    start_time: UtcDatetime | None = None
    end_time: UtcDatetime | None = None
    created_at: UtcDatetime
    modified_at: UtcDatetime
    rolled_back: bool = False
    version: int = 0
    # When a due job waits for a maintenance window: the window's next opening (docs/decisions.md#maintenance-windows).
    window_wait_until: UtcDatetime | None = None


class Worker(_Model):
    """One deployment: one certificate onto one resource, inside one job."""

    id: int
    job_id: int
    account_id: int
    cert_id: int
    resource_id: int
    product: Product
    status: WorkerStatus = WorkerStatus.EDITING
    resource_cert_id: int | None = Field(None, description="certificate bound before deployment (for rollback)")
    resource_cert_name: str | None = None
    resource_domain: str | None = None
    resource_binding: str | None = Field(None, description="JSON of the full Binding read before deployment")
    error_code: str | None = None
    error_message: str | None = None
    attempt: int = 0
    created_at: UtcDatetime
    modified_at: UtcDatetime
    version: int = 0
