"""WAF 3.0 deployer (`alibabacloud-waf-openapi20211001`): the HTTPS certificate of a domain added to WAF in CNAME
mode. The resource's `instance_id` is the WAF instance, `region` its region (`cn-hangzhou` or `ap-southeast-1`).

- Read: `DescribeDomainDetail` (InstanceId, Domain, RegionId): `Listen.CertId` is the certificate identifier
  ("<CAS id>-<region>"), `CertDetail.Name` its name.
- Bind: `ModifyDomain` with the domain's whole `Listen` and `Redirect` as read, only `Listen.CertId` changed: the
  action replaces both objects, so everything else (ports, TLS, HSTS, back-ends, timeouts…) is sent back as it was.
  The read model names back-ends `Backends[].Backend` / `BackendList`, the write model takes a list of strings, so
  they are converted. A certificate outside CAS is first added with `CreateCerts` (CertName, CertContent, CertKey),
  which answers its `CertIdentifier`. Sources: SDK models `DescribeDomainDetailResponseBody`, `ModifyDomainRequest`,
  `CreateCertsRequest`/`CreateCertsResponseBody`.
- A CAS certificate is bound as "<CAS id>-<WAF region>": WAF in a region takes certificates of that CAS region.
- SM certificates are refused (certdeploy deploys SM only to CDN, DCDN and Anti-DDoS, docs/decisions.md#certificates).
"""

from __future__ import annotations

from typing import Any

from certdeploy.adapters.cloud.cdn import parse_cert_id
from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, RegionalClients, sdk_errors, tea_config
from certdeploy.domain.deployment import Binding, DeployableCertificate, PermanentDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource


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
            identifier = f"{certificate.cas_cert_id}-{resource.region}"
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
        if identifier is None and binding.cas_cert_id is not None:
            identifier = f"{binding.cas_cert_id}-{resource.region}"
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
        with sdk_errors(f"reading WAF domain {resource.domain}"):
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
        with sdk_errors(f"adding certificate {certificate.name} to WAF"):
            identifier = client.create_certs(request).body.cert_identifier
        if not identifier:
            raise PermanentDeployFailure("CreateCertsFailed", f"WAF gave no identifier for {certificate.name}.")
        return str(identifier)

    def _modify(self, resource: Resource, detail: Any, identifier: str) -> None:
        from alibabacloud_waf_openapi20211001 import models

        if detail.listen is None or not detail.listen.https_ports:
            raise PermanentDeployFailure(
                "HttpsDisabled", f"WAF domain {resource.domain} listens on no HTTPS port, so it takes no certificate."
            )
        listen = {**detail.listen.to_map(), "CertId": identifier}
        request = models.ModifyDomainRequest(
            instance_id=resource.instance_id,
            domain=resource.domain,
            region_id=resource.region,
            listen=models.ModifyDomainRequestListen().from_map(listen),
            redirect=models.ModifyDomainRequestRedirect().from_map(_redirect_for_write(detail.redirect)),
        )
        client = self._clients.for_region(resource.region)
        with sdk_errors(f"setting the certificate of WAF domain {resource.domain}"):
            client.modify_domain(request)


def _cert_identifier(detail: Any) -> str:
    return str(detail.listen.cert_id or "") if detail.listen is not None else ""


def _redirect_for_write(redirect: Any) -> dict[str, Any]:
    """The read model's Redirect in the shape ModifyDomain takes: back-ends as lists of addresses."""
    if redirect is None:
        return {}
    read = redirect.to_map()
    written = {name: value for name, value in read.items() if name not in {"BackendList", "BackUpBackendList"}}
    written["Backends"] = read.get("BackendList") or [item.get("Backend") for item in read.get("Backends") or []]
    written["BackupBackends"] = read.get("BackUpBackendList") or [
        item.get("Backend") for item in read.get("BackupBackends") or []
    ]
    return written
