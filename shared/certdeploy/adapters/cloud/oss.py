"""OSS deployer: the certificate of a bucket's custom domain (CNAME), through `oss2`.

A resource is one CNAME of a bucket: the bucket is `resource.instance_id`, the custom domain `resource.domain`, the
endpoint `https://oss-<resource.region>.aliyuncs.com`. Requests are signed with V4 (`OSS4-HMAC-SHA256`, region
scoped): OSS no longer offers V1 to accounts created since March 2025 ("Guidelines for upgrading V1 signatures to V4
signatures", OSS docs).

How each call maps to OSS:
- read: `ListCname`; the CNAME's `Certificate` gives its id (`<CAS id>-<CAS region>`), type and SHA-1 fingerprint.
- bind: `PutCname` with a `CertificateConfiguration`: the CAS certificate id when the certificate has one, else the
  PEM certificate and key (OSS then keeps it in CAS itself), with `Force` so it replaces what is there. The CNAME's
  current certificate is compared first (CAS id, else fingerprint): binding what it serves makes no write.
- restore: the previous certificate's id goes back with `PutCname` (no key needed: OSS reads it from CAS), "no
  certificate" with `DeleteCertificate`. A previous certificate without an id cannot be restored.

Errors: OSS XML errors carry `Code` and `Message`; 5xx, 429, throttling codes and network failures are transient,
every other OSS error is permanent with OSS's code and message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, is_transient_code
from certdeploy.domain.deployment import (
    Binding,
    DeployableCertificate,
    DeployFailed,
    PermanentDeployFailure,
    TransientDeployFailure,
)
from certdeploy.domain.models import Resource

if TYPE_CHECKING:
    import oss2

# OSS takes a CAS certificate id with the site's CAS region appended ("493****-cn-hangzhou", PutCname doc; see
# `ApiTarget.cas_identifier`).
# Binding details (name, value) pairs.
CERT_ID = "cert_id"
CERT_TYPE = "cert_type"
FINGERPRINT = "fingerprint"

_Result = TypeVar("_Result")


class OssDeployer:
    """The `Deployer` of OSS bucket custom domains."""

    def __init__(self, credentials: CloudCredentials, target: ApiTarget | None = None) -> None:
        self._credentials = credentials
        self._target = target or ApiTarget()

    def current_binding(self, resource: Resource) -> Binding:
        return _binding(resource.domain, self._cname(resource))

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        import oss2

        cname = self._cname(resource)
        served = cname.certificate
        if certificate.cas_cert_id is not None:
            if served is not None and _cas_id(served.cert_id) == certificate.cas_cert_id:
                return
            cert_info = oss2.models.CertInfo(cert_id=self._target.cas_identifier(certificate.cas_cert_id), force=True)
        else:
            if served is not None and _same_certificate(served.fingerprint, certificate.cert_pem):
                return
            cert_info = oss2.models.CertInfo(
                certificate=certificate.cert_pem, private_key=certificate.key_pem.get_secret_value(), force=True
            )
        self._put_cname(resource, cname.domain, cert_info)

    def restore(self, resource: Resource, binding: Binding) -> None:
        import oss2

        cname = self._cname(resource)
        served = cname.certificate
        if binding.is_empty:
            if served is not None:
                self._put_cname(resource, cname.domain, oss2.models.CertInfo(delete_certificate=True))
            return
        previous_id = binding.detail(CERT_ID)
        if previous_id is None and binding.cas_cert_id is not None:
            previous_id = self._target.cas_identifier(binding.cas_cert_id)
        if previous_id is None:
            raise PermanentDeployFailure(
                "PreviousCertificateUnavailable",
                f"The certificate '{binding.cert_name}' that {resource.domain} served before has no CAS id, "
                "so OSS cannot be given it back.",
            )
        if served is not None and served.cert_id == previous_id:
            return
        self._put_cname(resource, cname.domain, oss2.models.CertInfo(cert_id=previous_id, force=True))

    # ------------------------------------------------------------------ OSS calls

    def _cname(self, resource: Resource) -> Any:
        bucket = self._bucket(resource)
        result = _call(bucket.list_bucket_cname)
        wanted = resource.domain.lower().rstrip(".")
        for cname in result.cname:
            if (cname.domain or "").lower().rstrip(".") == wanted:
                return cname
        raise PermanentDeployFailure(
            "CnameNotFound", f"{resource.domain} is not a custom domain of bucket {resource.instance_id}."
        )

    def _put_cname(self, resource: Resource, domain: str, cert_info: oss2.models.CertInfo) -> None:
        import oss2

        bucket = self._bucket(resource)
        _call(lambda: bucket.put_bucket_cname(oss2.models.PutBucketCnameRequest(domain, cert_info)))

    def _bucket(self, resource: Resource) -> oss2.Bucket:
        import oss2

        token = self._credentials.security_token
        provider = oss2.StaticCredentialsProvider(
            self._credentials.access_key_id,
            self._credentials.access_key_secret.get_secret_value(),
            token.get_secret_value() if token is not None else "",
        )
        host = self._target.endpoint or f"oss-{resource.region}.aliyuncs.com"
        return _call(
            lambda: oss2.Bucket(
                oss2.ProviderAuthV4(provider),
                f"{self._target.protocol}://{host}",
                resource.instance_id,
                # requests applies one timeout to the connect and to each read.
                connect_timeout=max(self._target.connect_timeout_ms, self._target.read_timeout_ms) / 1000,
                region=resource.region,
            )
        )


def _binding(domain: str, cname: Any) -> Binding:
    served = cname.certificate
    if served is None:
        return Binding(domain=domain)
    details = ((CERT_ID, served.cert_id), (CERT_TYPE, served.type), (FINGERPRINT, served.fingerprint))
    return Binding(
        cert_name=served.cert_id or served.fingerprint or "unnamed certificate",
        cas_cert_id=_cas_id(served.cert_id),
        domain=domain,
        details=tuple((name, value) for name, value in details if value),
    )


def _cas_id(cert_id: str | None) -> int | None:
    """The CAS certificate id in an OSS CertId (`493****-cn-hangzhou` → 493…)."""
    number = (cert_id or "").split("-", 1)[0]
    return int(number) if number.isdigit() else None


def _same_certificate(fingerprint: str | None, cert_pem: str) -> bool:
    """Whether the fingerprint OSS reports (SHA-1 hex pairs; SHA-256 accepted too) is the leaf certificate's."""
    if not fingerprint:
        return False
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        leaf = x509.load_pem_x509_certificate(cert_pem.strip().encode("ascii"))
    except ValueError:
        return False
    reported = fingerprint.replace(":", "").lower()
    return reported in (leaf.fingerprint(hashes.SHA1()).hex(), leaf.fingerprint(hashes.SHA256()).hex())


def _call(operation: Callable[[], _Result]) -> _Result:
    """Run one oss2 call, turning its errors into deploy failures (never chained: the request may hold the key)."""
    import oss2

    try:
        return operation()
    except DeployFailed:
        raise
    except oss2.exceptions.RequestError as error:
        import requests

        if isinstance(error.exception, requests.exceptions.Timeout):
            raise TransientDeployFailure("Timeout", "OSS did not answer in time.") from None
        raise TransientDeployFailure(
            "ConnectionError", f"OSS could not be reached ({type(error.exception).__name__})."
        ) from None
    except oss2.exceptions.ClientError as error:
        # oss2 refused the request before sending it (e.g. an invalid bucket name): the same request fails again.
        raise PermanentDeployFailure("InvalidParameter", str(error.body).removeprefix("ClientError: ")) from None
    except oss2.exceptions.OssError as error:
        raise _oss_failure(error) from None


def _oss_failure(error: oss2.exceptions.OssError) -> DeployFailed:
    code = str(error.code or f"HTTP{error.status}")
    message = str(error.message or f"OSS answered HTTP {error.status}")
    if error.request_id:
        message = f"{message} (RequestId {error.request_id})"
    status = error.status if isinstance(error.status, int) else 0
    transient = status >= 500 or status == 429 or is_transient_code(code)
    return TransientDeployFailure(code, message) if transient else PermanentDeployFailure(code, message)
