"""Function Compute deployer: the certificate of an FC custom domain, through the FC 3.0 API
(`alibabacloud-fc20230330`, `fc3_domains`) for a domain of FC 3.0 and through `aliyun-fc2` (FC API 2016-08-15,
`fc2_domains`) for a domain of FC 2.0.

A resource is one custom domain: its name is `resource.domain` (FC names a custom domain by the domain itself, and
CAS lists FC resources without an instance id, nor which API version the domain belongs to).

Which API (docs/runtime.md#fc-custom-domains): every operation first reads the domain with the 3.0 API's
`GetCustomDomain`, which answers its `apiVersion`. `2016-08-15` (a domain created through the 2.0 API, whose routes
name a service, which the 3.0 API's route model has no field for), or a 3.0 answer `DomainNameNotFound`: the domain
is read again and written through the 2.0 API, as before. Any other answer is a domain of FC 3.0 and is written
through the 3.0 API: it may serve `HTTPS` alone, which the 2.0 API does not accept, and has TLS and WAF settings the
2.0 API cannot send.

How each call maps to FC:
- read: `GetCustomDomain`. The domain serves a certificate when its protocol includes HTTPS and it has a `certConfig`;
  the binding records the certificate's name, its SHA-256 fingerprint and the protocol.
- bind: `UpdateCustomDomain` with `certConfig` (name, PEM certificate, PEM key: FC takes no CAS certificate id); the
  2.0 API is sent the routes back, the 3.0 API the `tlsConfig` as read (each module says why). The protocol is kept
  when it already includes HTTPS; an HTTP-only domain becomes `HTTP,HTTPS` (a certificate on a domain that serves no
  HTTPS would change nothing, and plain HTTP keeps working). Binding the certificate the domain already serves (same
  fingerprint) makes no write.
- restore: FC never returns a private key, so a previous certificate cannot be put back from what FC tells us.
  What can be restored: "no certificate" (the domain served HTTP only before: its protocol is set back), and a
  binding the domain still serves (nothing to do). Anything else fails with `PreviousCertificateUnavailable`; when
  the previous certificate is one of certdeploy's own (`binding.cert_id`), the caller binds it again with `bind`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any, Protocol

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials
from certdeploy.adapters.cloud.fc2_domains import ACCOUNT_ID_VARIABLE, FC2_API_VERSION, Fc2CustomDomains
from certdeploy.adapters.cloud.fc3_domains import Fc3CustomDomains
from certdeploy.domain.deployment import Binding, DeployableCertificate, PermanentDeployFailure
from certdeploy.domain.models import Resource

HTTP_ONLY = "HTTP"
HTTP_AND_HTTPS = "HTTP,HTTPS"
# Binding details (name, value) pairs.
PROTOCOL = "protocol"
CERTIFICATE_SHA256 = "certificate_sha256"


class _CustomDomainApi(Protocol):
    def update_domain(
        self, resource: Resource, read: Mapping[str, Any], *, protocol: str, cert_config: dict[str, str] | None
    ) -> None: ...


class FcDeployer:
    """The `Deployer` of FC custom domains (FC 3.0 and FC 2.0 alike)."""

    def __init__(
        self,
        credentials: CloudCredentials,
        target: ApiTarget | None = None,
        *,
        account_id: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        target = target or ApiTarget()
        values = os.environ if environ is None else environ
        self._fc3 = Fc3CustomDomains(credentials, target)
        self._fc2 = Fc2CustomDomains(credentials, target, account_id or values.get(ACCOUNT_ID_VARIABLE) or None)

    def current_binding(self, resource: Resource) -> Binding:
        return _binding(resource.domain, self._domain(resource)[1])

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        api, domain = self._domain(resource)
        if _serves_https(domain) and _fingerprint(_cert_config(domain).get("certificate")) == _fingerprint(
            certificate.cert_pem
        ):
            return
        protocol = str(domain.get("protocol") or HTTP_ONLY)
        cert_config = {
            "certName": certificate.name,
            "certificate": certificate.cert_pem,
            "privateKey": certificate.key_pem.get_secret_value(),
        }
        api.update_domain(
            resource,
            domain,
            protocol=protocol if "HTTPS" in protocol else HTTP_AND_HTTPS,
            cert_config=cert_config,
        )

    def restore(self, resource: Resource, binding: Binding) -> None:
        api, domain = self._domain(resource)
        current = _binding(resource.domain, domain)
        if binding.is_empty:
            if current.is_empty:
                return
            # FC cannot unset a certConfig (the SDKs send only non-empty fields): serving HTTP only is what "no
            # certificate" means for a custom domain (HTTPS needs one), and such a domain reads back as unbound.
            api.update_domain(resource, domain, protocol=HTTP_ONLY, cert_config=None)
            return
        previous_fingerprint = binding.detail(CERTIFICATE_SHA256)
        if previous_fingerprint is not None and previous_fingerprint == current.detail(CERTIFICATE_SHA256):
            return
        ours = f" (certdeploy certificate {binding.cert_id}: bind it again)" if binding.cert_id is not None else ""
        raise PermanentDeployFailure(
            "PreviousCertificateUnavailable",
            f"FC does not return the private key of a custom domain's certificate, so the certificate "
            f"'{binding.cert_name}' that {resource.domain} served before cannot be put back{ours}.",
        )

    def _domain(self, resource: Resource) -> tuple[_CustomDomainApi, dict[str, Any]]:
        """The API that owns the domain (see the module docstring) and the domain as that API reads it."""
        domain = self._fc3.get_domain(resource)
        if domain is not None and domain.get("apiVersion") != FC2_API_VERSION:
            return self._fc3, domain
        return self._fc2, self._fc2.get_domain(resource)


def _binding(domain_name: str, domain: Mapping[str, Any]) -> Binding:
    protocol = str(domain.get("protocol") or HTTP_ONLY)
    if not _serves_https(domain):
        return Binding(domain=domain_name, details=((PROTOCOL, protocol),))
    cert_config = _cert_config(domain)
    fingerprint = _fingerprint(cert_config.get("certificate"))
    details = ((CERTIFICATE_SHA256, fingerprint),) if fingerprint else ()
    return Binding(
        cert_name=str(cert_config.get("certName") or "") or None,
        domain=domain_name,
        details=(*details, (PROTOCOL, protocol)),
    )


def _serves_https(domain: Mapping[str, Any]) -> bool:
    cert_config = _cert_config(domain)
    return "HTTPS" in str(domain.get("protocol") or "") and bool(
        cert_config.get("certName") or cert_config.get("certificate")
    )


def _cert_config(domain: Mapping[str, Any]) -> Mapping[str, Any]:
    cert_config = domain.get("certConfig")
    return cert_config if isinstance(cert_config, dict) else {}


def _fingerprint(cert_pem: Any) -> str | None:
    """SHA-256 of the leaf certificate (DER), or of the text when it is not a PEM certificate."""
    if not isinstance(cert_pem, str) or not cert_pem.strip():
        return None
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        leaf = x509.load_pem_x509_certificate(cert_pem.strip().encode("ascii"))
    except ValueError:
        return hashlib.sha256("".join(cert_pem.split()).encode("utf-8")).hexdigest()
    return leaf.fingerprint(hashes.SHA256()).hex()
