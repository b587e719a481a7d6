"""Anti-DDoS Proxy deployer (`alibabacloud-ddoscoo20200101`): the certificate of a website forwarding rule.

- Read: `DescribeWebRules` (Domain, paged until the rule of exactly that domain is found) gives the rule's
  `CertName` and `CertRegion`; it carries no certificate id, so `DescribeCerts` (Domain) supplies the CAS id of the
  certificate marked `DomainRelated`.
- Write: `AssociateWebCert` with `CertId` + `CertRegion` (a CAS certificate) or `CertName` + `Cert` + `Key` (PEM, sent
  in the form body). Source: SDK model `AssociateWebCertRequest`; help.aliyun.com/document_detail/474312.htm.
- SM certificates: the API reads a rule's SM configuration (`GmCert` in DescribeWebRules) but no request of the
  2020-01-01 SDK takes one, so an SM2 certificate fails with `SMCertificateNotSupported` without a write.

Idempotency: a CAS certificate is compared by id with the related certificate; a PEM one by name (the API never
returns certificate content). A previous binding without a CAS id cannot be put back unless it is still served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, RegionalClients, sdk_errors, tea_config
from certdeploy.domain.deployment import Binding, DeployableCertificate, PermanentDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource

# `Domain` in DescribeWebRules matches loosely (every rule whose name contains it), so the exact rule can be on any
# page: pages are read until it is found or `TotalCount` rules have been seen.
_RULES_PAGE_SIZE = 10


@dataclass(frozen=True)
class _RuleCertificate:
    cert_name: str | None
    cert_region: str | None
    cas_cert_id: int | None
    gm_cert_id: str | None


class DdosDeployer:
    product = Product.DDOS

    def __init__(self, credentials: CloudCredentials, target: ApiTarget) -> None:
        self._credentials = credentials
        self._target = target
        self._clients: RegionalClients[Any] = RegionalClients(self._new_client)

    def current_binding(self, resource: Resource) -> Binding:
        state = self._read(resource)
        details = {"cert_region": state.cert_region or "", "gm_cert_id": state.gm_cert_id or ""}
        return Binding(
            cert_name=state.cert_name,
            cas_cert_id=state.cas_cert_id,
            domain=resource.domain,
            details=tuple(sorted((name, value) for name, value in details.items() if value)),
        )

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        if certificate.algorithm is CertAlgorithm.SM2:
            raise PermanentDeployFailure(
                "SMCertificateNotSupported",
                "The Anti-DDoS Proxy API (ddoscoo 2020-01-01) has no parameter to bind an SM certificate to a "
                "website rule; bind it in the Anti-DDoS Proxy console.",
            )
        state = self._read(resource)
        if certificate.cas_cert_id is not None:
            if state.cas_cert_id == certificate.cas_cert_id:
                return
            self._associate(resource, {"cert_id": certificate.cas_cert_id, "cert_region": self._target.cas_region})
            return
        if state.cert_name == certificate.name:
            return
        self._associate(
            resource,
            {
                "cert_name": certificate.name,
                "cert": certificate.cert_pem,
                "key": certificate.key_pem.get_secret_value(),
            },
        )

    def restore(self, resource: Resource, binding: Binding) -> None:
        state = self._read(resource)
        if binding.cas_cert_id is not None:
            if state.cas_cert_id != binding.cas_cert_id:
                region = binding.detail("cert_region") or self._target.cas_region
                self._associate(resource, {"cert_id": binding.cas_cert_id, "cert_region": region})
            return
        if state.cert_name == binding.cert_name:
            return
        raise PermanentDeployFailure(
            "PreviousCertificateNotRestorable",
            f"Anti-DDoS Proxy domain {resource.domain} served "
            + (f"certificate {binding.cert_name}" if binding.cert_name else "no certificate")
            + ", which cannot be bound again by API (it has no CAS id).",
        )

    def _new_client(self, region: str) -> Any:
        from alibabacloud_ddoscoo20200101.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _read(self, resource: Resource) -> _RuleCertificate:
        from alibabacloud_ddoscoo20200101 import models

        client = self._clients.for_region(resource.region)
        with sdk_errors(f"reading the website rule of {resource.domain}"):
            rule = _find_rule(client, resource.domain)
            if rule is None:
                raise PermanentDeployFailure(
                    "WebRuleNotFound",
                    f"Anti-DDoS Proxy has no website rule for {resource.domain} in {resource.region}.",
                )
            certs = client.describe_certs(models.DescribeCertsRequest(domain=resource.domain)).body.certs
        related = next((cert for cert in certs or [] if cert.domain_related), None)
        gm = rule.gm_cert
        return _RuleCertificate(
            cert_name=rule.cert_name or None,
            cert_region=rule.cert_region or None,
            cas_cert_id=related.id if related is not None and rule.cert_name else None,
            gm_cert_id=gm.cert_id if gm is not None and gm.gm_enable == 1 and gm.cert_id else None,
        )

    def _associate(self, resource: Resource, fields: dict[str, Any]) -> None:
        from alibabacloud_ddoscoo20200101 import models

        client = self._clients.for_region(resource.region)
        with sdk_errors(f"associating a certificate with {resource.domain}"):
            client.associate_web_cert(models.AssociateWebCertRequest(domain=resource.domain, **fields))


def _find_rule(client: Any, domain: str) -> Any | None:
    """The website rule of exactly `domain`, paging through DescribeWebRules; None when no page has it."""
    from alibabacloud_ddoscoo20200101 import models

    page_number, seen = 1, 0
    while True:
        body = client.describe_web_rules(
            models.DescribeWebRulesRequest(domain=domain, page_number=page_number, page_size=_RULES_PAGE_SIZE)
        ).body
        rules = body.web_rules or []
        rule = next((rule for rule in rules if rule.domain == domain), None)
        seen += len(rules)
        if rule is not None or not rules or seen >= (body.total_count or 0):
            return rule
        page_number += 1
