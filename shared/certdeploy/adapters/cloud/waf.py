"""WAF 3.0 deployer (`alibabacloud-waf-openapi20211001`): the HTTPS certificate of a domain added to WAF in CNAME
mode. The resource's `instance_id` is the WAF instance, `region` its region (`cn-hangzhou` or `ap-southeast-1`).

- Read: `DescribeDomainDetail` (InstanceId, Domain, RegionId): `Listen.CertId` is the certificate identifier
  ("<CAS id>-<CAS region>"), `CertDetail.Name` its name.
- Bind: `ModifyDomainCert` (InstanceId, Domain, RegionId, CertId), with the TLS settings of `Listen` sent back as read
  (TLSVersion, EnableTLSv3, CipherSuite, CustomCiphers): the action changes the certificate of a CNAME-mode domain and
  nothing else. `ModifyDomain` is never used: it replaces the whole `Redirect`, and DescribeDomainDetail does not
  return all of it (`Redirect.CnameEnabled`, `Redirect.RoutingRules`, nor `AccessType`), so resending what was read
  would reset hybrid-cloud and disaster-recovery settings. Sources: WAF 3.0 API reference, ModifyDomainCert
  (https://help.aliyun.com/zh/waf/web-application-firewall-3-0/developer-reference/api-waf-openapi-2021-10-01-modifydomaincert),
  SDK models `ModifyDomainCertRequest`, `DescribeDomainDetailResponseBody`.
- A CAS certificate is bound by the `CertIdentifier` CAS gives it (GetUserCertificateDetail), whatever the WAF
  instance's region: `<id>-<CAS region>`, the CAS region being the account's site's (`CERTDEPLOY_SITE`,
  `ApiTarget.cas_region`: `123-cn-hangzhou` on the China site, `123-ap-southeast-1` on the international site). When
  CAS gave none, the identifier is built the same way from the site's CAS region, as every other deployer names CAS
  certificates. A certificate outside CAS is first added with `CreateCerts` (CertName, CertContent, CertKey), which
  answers its `CertIdentifier`.
- Retried: `Waf.Pullin.ResourceProcessing` (the domain is being changed), as terraform-provider-alicloud
  alicloud/resource_alicloud_wafv3_domain.go retries its domain updates.
- SM certificates are refused (certdeploy deploys SM only to CDN, DCDN and Anti-DDoS, docs/decisions.md#certificates).
"""

from __future__ import annotations

from typing import Any

from certdeploy.adapters.cloud.cdn import parse_cert_id
from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, RegionalClients, sdk_errors, tea_config
from certdeploy.domain.deployment import Binding, DeployableCertificate, PermanentDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource

# Codes WAF answers for "try again later" beyond the common ones (see the module docstring).
_TRANSIENT_CODES = frozenset({"Waf.Pullin.ResourceProcessing"})


class WafDeployer:
    product = Product.WAF

    def __init__(self, credentials: CloudCredentials, target: ApiTarget) -> None:
        self._credentials = credentials
        self._target = target
        self._clients: RegionalClients[Any] = RegionalClients(self._new_client)

    def current_binding(self, resource: Resource) -> Binding:
        detail = self._detail(resource)
        identifier = _cert_identifier(detail)
        name = detail.cert_detail.name if detail.cert_detail and identifier else None
        return Binding(
            cert_name=name or None,
            cas_cert_id=parse_cert_id(identifier),
            domain=resource.domain,
            details=(("cert_identifier", identifier),) if identifier else (),
        )

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        if certificate.algorithm is CertAlgorithm.SM2:
            raise PermanentDeployFailure(
                "SMCertificateNotSupported", "SM certificates are deployed to CDN, DCDN and Anti-DDoS Proxy only."
            )
        detail = self._detail(resource)
        current = _cert_identifier(detail)
        if certificate.cas_cert_id is not None:
            identifier = certificate.cas_identifier or self._target.cas_identifier(certificate.cas_cert_id)
            if current == identifier:
                return
        else:
            if current and detail.cert_detail and detail.cert_detail.name == certificate.name:
                return
            identifier = self._upload(resource, certificate)
        self._modify(resource, detail, identifier)

    def restore(self, resource: Resource, binding: Binding) -> None:
        detail = self._detail(resource)
        current = _cert_identifier(detail)
        identifier = binding.detail("cert_identifier")
        if identifier is None:
            if not current:
                return
            raise PermanentDeployFailure(
                "PreviousCertificateNotRestorable",
                f"WAF domain {resource.domain} served no certificate before; removing one is left to the WAF console.",
            )
        if identifier != current:
            self._modify(resource, detail, identifier)

    def _new_client(self, region: str) -> Any:
        from alibabacloud_waf_openapi20211001.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _detail(self, resource: Resource) -> Any:
        from alibabacloud_waf_openapi20211001 import models

        client = self._clients.for_region(resource.region)
        request = models.DescribeDomainDetailRequest(
            instance_id=resource.instance_id, domain=resource.domain, region_id=resource.region
        )
        with sdk_errors(f"reading WAF domain {resource.domain}", _TRANSIENT_CODES):
            return client.describe_domain_detail(request).body

    def _upload(self, resource: Resource, certificate: DeployableCertificate) -> str:
        from alibabacloud_waf_openapi20211001 import models

        client = self._clients.for_region(resource.region)
        request = models.CreateCertsRequest(
            instance_id=resource.instance_id,
            region_id=resource.region,
            cert_name=certificate.name,
            cert_content=certificate.cert_pem,
            cert_key=certificate.key_pem.get_secret_value(),
        )
        with sdk_errors(f"adding certificate {certificate.name} to WAF", _TRANSIENT_CODES):
            identifier = client.create_certs(request).body.cert_identifier
        if not identifier:
            raise PermanentDeployFailure("CreateCertsFailed", f"WAF gave no identifier for {certificate.name}.")
        return str(identifier)

    def _modify(self, resource: Resource, detail: Any, identifier: str) -> None:
        from alibabacloud_waf_openapi20211001 import models

        listen = detail.listen
        if listen is None or not listen.https_ports:
            raise PermanentDeployFailure(
                "HttpsDisabled", f"WAF domain {resource.domain} listens on no HTTPS port, so it takes no certificate."
            )
        request = models.ModifyDomainCertRequest(
            instance_id=resource.instance_id,
            domain=resource.domain,
            region_id=resource.region,
            cert_id=identifier,
            tlsversion=listen.tlsversion,
            enable_tlsv_3=listen.enable_tlsv_3,
            cipher_suite=None if listen.cipher_suite is None else str(listen.cipher_suite),
            custom_ciphers=listen.custom_ciphers or None,
        )
        client = self._clients.for_region(resource.region)
        with sdk_errors(f"setting the certificate of WAF domain {resource.domain}", _TRANSIENT_CODES):
            client.modify_domain_cert(request)


def _cert_identifier(detail: Any) -> str:
    return str(detail.listen.cert_id or "") if detail.listen is not None else ""
