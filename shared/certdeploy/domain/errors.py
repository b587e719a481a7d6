"""Domain errors. Each carries the CAS error code the API answers with, so no layer has to translate twice."""

from __future__ import annotations

from certdeploy.domain.text_enum import TextEnum


class DomainError(Exception):
    """A rule of the domain was broken by the caller's input; never our own fault."""

    code: str = "InvalidParameter"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidParameter(DomainError):
    """A parameter has a value the domain refuses; `name` is the CAS parameter name."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message, code=f"InvalidParameter.{name}")
        self.name = name


class InvalidStatus(DomainError):
    """A job or worker cannot move from its current status to the requested one."""

    code = "InvalidStatus"


class QuotaExceeded(DomainError):
    """Charging a job would take UseCount above BuyCount."""

    code = "QuotaExceeded"


class Thing(TextEnum):
    """What a `NotFound` is about."""

    ACCOUNT = "Account"
    CLOUD_ACCESS = "Cloud access"
    CERTIFICATE = "Certificate"
    CONTACT = "Contact"
    JOB = "Job"
    NOTICE = "Notice"
    ORDER = "Certificate order"
    RESOURCE = "Resource"
    WORKER = "Worker"
    WINDOW = "Maintenance window"


# The one table of not-found codes (docs/protocol.md#error-codes), whichever action meets the missing thing: CAS's
# documented `InvalidCertId.NotFound` and `InvalidResourceId.NotFound`, the same family for contacts and workers,
# plain `NotFound` for a job, an account, a certificate order or a notice (of which there are none here).
NOT_FOUND_CODES: dict[Thing, str] = {
    Thing.ACCOUNT: "NotFound",
    Thing.CLOUD_ACCESS: "NotFound",
    Thing.CERTIFICATE: "InvalidCertId.NotFound",
    Thing.CONTACT: "InvalidContactId.NotFound",
    Thing.JOB: "NotFound",
    Thing.NOTICE: "NotFound",
    Thing.ORDER: "NotFound",
    Thing.RESOURCE: "InvalidResourceId.NotFound",
    Thing.WORKER: "InvalidWorkerId.NotFound",
    Thing.WINDOW: "InvalidWindowId.NotFound",
}


class NotFound(DomainError):
    """The thing does not exist for this account (other accounts' things do not exist either); its code comes from
    `NOT_FOUND_CODES`."""

    code = "NotFound"

    def __init__(self, thing: Thing, message: str) -> None:
        super().__init__(message, code=NOT_FOUND_CODES[thing])
        self.thing = thing

    @classmethod
    def of(cls, thing: Thing, what: object) -> NotFound:
        """`<Thing> <what> does not exist.`"""
        return cls(thing, f"{thing} {what} does not exist.")


class CertificateError(DomainError):
    """A certificate or key could not be accepted."""

    code = "InvalidParameter.Cert"


class InvalidPem(CertificateError):
    """The text is not a PEM certificate (or key) that can be parsed."""

    code = "InvalidParameter.Cert"


class InvalidKey(CertificateError):
    """The private key cannot be parsed, or is of a kind we do not support."""

    code = "InvalidParameter.Key"


class KeyMismatch(CertificateError):
    """The private key does not belong to the certificate."""

    code = "KeyNotMatchCert"


class CertificateExpired(CertificateError):
    """The certificate is past its NotAfter."""

    code = "CertificateExpired"
