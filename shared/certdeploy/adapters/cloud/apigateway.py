"""API Gateway deployer: the SSL certificate of an API group's custom domain, through `alibabacloud-cloudapi20160714`.

A resource is one custom domain: `instance_id` is the API group id, `domain` the custom domain name.

How each call maps to API Gateway:
- read: `DescribeDomain` (`GroupId`, `DomainName`). The binding records the certificate's name, API Gateway's
  `CertificateId` and the SHA-256 of its PEM (`CertificateBody`, whitespace removed) so two readings can be compared.
  DescribeDomain may also return the private key: it is never read into a binding, a log or a message.
- bind: `SetDomainCertificate` with `CertificateName`, `CertificateBody` (the PEM chain) and
  `CertificatePrivateKey`: API Gateway takes PEM, not a CAS certificate id. Binding the certificate the domain already
  serves (same PEM) makes no write.
- mutual TLS: the same call takes the domain's mutual-TLS settings (`CaCertificateBody`, `SslVerifyDepth`,
  `ClientCertSDnPassThrough`, `SslOcspEnable`, `SslOcspCacheEnable`: SDK model `SetDomainCertificateRequest`; the
  SetDomainCertificate reference, help.aliyun.com/zh/api-gateway/developer-reference/api-cloudapi-2016-07-14-
  setdomaincertificate, says they are for mutual TLS). Nothing documents that a call without them keeps them, and no
  API returns the CA certificate to send again (`DescribeDomain` returns none of them, `DescribeApiGroup`'s
  `CustomDomains.DomainItem` all but the CA), so a bind can turn mutual TLS off. Before a write, `DescribeApiGroup`
  tells whether the domain has any of them (a verify depth above 0, client DN pass-through or OCSP); if so the bind
  fails with `MutualTlsNotKept` and writes nothing, unless the deployer was built with `replace_mutual_tls=True`
  (setting `CERTDEPLOY_APIGATEWAY_REPLACE_MUTUAL_TLS`), which binds without them.
- restore: certdeploy keeps no private key of a certificate it did not deploy, so a previous certificate cannot be
  put back from what API Gateway tells us. What can be restored: "no certificate" (`DeleteDomainCertificate` of the
  one bound now) and a binding the domain still serves (nothing to do). Anything else fails with
  `PreviousCertificateUnavailable`; when the previous certificate is one of certdeploy's own (`binding.cert_id`), the
  caller binds it again with `bind`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from certdeploy.adapters.cloud.cas_bound import describe
from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, RegionalClients, sdk_errors, tea_config
from certdeploy.domain.deployment import Binding, DeployableCertificate, PermanentDeployFailure
from certdeploy.domain.models import Resource

if TYPE_CHECKING:
    from alibabacloud_cloudapi20160714.client import Client

# Binding details (name, value) pairs.
CERTIFICATE_ID = "certificate_id"
CERTIFICATE_SHA256 = "certificate_sha256"


class ApiGatewayDeployer:
    """The `Deployer` of API Gateway custom domains."""

    def __init__(
        self, credentials: CloudCredentials, target: ApiTarget | None = None, *, replace_mutual_tls: bool = False
    ) -> None:
        self._credentials = credentials
        self._target = target or ApiTarget()
        self._replace_mutual_tls = replace_mutual_tls
        self._clients: RegionalClients[Client] = RegionalClients(self._client_for)

    def current_binding(self, resource: Resource) -> Binding:
        return _binding(resource, self._describe(resource))

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        from alibabacloud_cloudapi20160714 import models

        current = self._describe(resource)
        if current.certificate_body and _fingerprint(current.certificate_body) == _fingerprint(certificate.cert_pem):
            return
        if not self._replace_mutual_tls:
            self._refuse_mutual_tls(resource)
        request = models.SetDomainCertificateRequest(
            group_id=resource.instance_id,
            domain_name=resource.domain,
            certificate_name=certificate.name,
            certificate_body=certificate.cert_pem,
            certificate_private_key=certificate.key_pem.get_secret_value(),
        )
        with sdk_errors("API Gateway SetDomainCertificate"):
            self._clients.for_region(resource.region).set_domain_certificate(request)

    def restore(self, resource: Resource, binding: Binding) -> None:
        from alibabacloud_cloudapi20160714 import models

        current = _binding(resource, self._describe(resource))
        if binding.is_empty:
            certificate_id = current.detail(CERTIFICATE_ID)
            if certificate_id is None:
                return
            request = models.DeleteDomainCertificateRequest(
                group_id=resource.instance_id, domain_name=resource.domain, certificate_id=certificate_id
            )
            with sdk_errors("API Gateway DeleteDomainCertificate"):
                self._clients.for_region(resource.region).delete_domain_certificate(request)
            return
        previous_fingerprint = binding.detail(CERTIFICATE_SHA256)
        if previous_fingerprint is not None and previous_fingerprint == current.detail(CERTIFICATE_SHA256):
            return
        raise PermanentDeployFailure(
            "PreviousCertificateUnavailable",
            f"API Gateway domain {resource.domain} of group {describe(resource)} served certificate "
            f"'{binding.cert_name}' before; certdeploy does not keep its private key, so it cannot put it back. "
            "Deploy that certificate to the domain again.",
        )

    def _refuse_mutual_tls(self, resource: Resource) -> None:
        from alibabacloud_cloudapi20160714 import models

        request = models.DescribeApiGroupRequest(group_id=resource.instance_id)
        with sdk_errors("API Gateway DescribeApiGroup"):
            group = self._clients.for_region(resource.region).describe_api_group(request).body
        items = group.custom_domains.domain_item if group.custom_domains else None
        item = next((item for item in items or [] if item.domain_name == resource.domain), None)
        settings = _mutual_tls_settings(item) if item is not None else []
        if settings:
            raise PermanentDeployFailure(
                "MutualTlsNotKept",
                f"API Gateway domain {resource.domain} of group {describe(resource)} has mutual TLS "
                f"({', '.join(settings)}). SetDomainCertificate sets it with the certificate and no API returns the "
                "CA certificate to send again, so binding would turn mutual TLS off. Bind the certificate in the API "
                "Gateway console, or set CERTDEPLOY_APIGATEWAY_REPLACE_MUTUAL_TLS=true to bind without mutual TLS.",
            )

    def _client_for(self, region: str) -> Client:
        from alibabacloud_cloudapi20160714.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _describe(self, resource: Resource) -> Any:
        from alibabacloud_cloudapi20160714 import models

        request = models.DescribeDomainRequest(group_id=resource.instance_id, domain_name=resource.domain)
        with sdk_errors("API Gateway DescribeDomain"):
            return self._clients.for_region(resource.region).describe_domain(request).body


def _binding(resource: Resource, domain: Any) -> Binding:
    if not domain.certificate_id and not domain.certificate_body:
        return Binding(domain=resource.domain)
    details = [(CERTIFICATE_ID, str(domain.certificate_id))] if domain.certificate_id else []
    if domain.certificate_body:
        details.append((CERTIFICATE_SHA256, _fingerprint(domain.certificate_body)))
    name = domain.certificate_name or domain.certificate_id or "unnamed certificate"
    return Binding(cert_name=str(name), domain=resource.domain, details=tuple(details))


def _mutual_tls_settings(item: Any) -> list[str]:
    """The mutual-TLS settings a `DescribeApiGroup` domain item shows, as `Name=value` texts (empty: none)."""
    shown = [
        ("SslVerifyDepth", item.ssl_verify_depth),
        ("ClientCertSDnPassThrough", item.client_cert_sdn_pass_through),
        ("SslOcspEnable", item.ssl_ocsp_enable),
        ("SslOcspCacheEnable", item.ssl_ocsp_cache_enable),
    ]
    return [f"{name}={value}" for name, value in shown if value]


def _fingerprint(cert_pem: str) -> str:
    """SHA-256 of the PEM text without whitespace: the same certificate compares equal however it was wrapped."""
    return hashlib.sha256("".join(cert_pem.split()).encode("utf-8")).hexdigest()
