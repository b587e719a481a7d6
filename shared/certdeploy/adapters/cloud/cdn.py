"""CDN deployer (`alibabacloud-cdn20180510`), and the domain-certificate logic CDN and DCDN share.

A CDN domain serves one HTTPS certificate and, beside it, ShangMi (SM2) certificates:
- `DescribeDomainCertificateInfo` reads the HTTPS certificate (`CertId`, `CertName`, `CertType` cas/upload/free,
  `CertRegion`, `ServerCertificateStatus` on/off, `ServerCertificate` PEM); `DescribeCdnSMCertificateList` the SM
  certificates (`CertIdentifier` = "<CAS id>-cn-hangzhou").
- `SetCdnDomainSSLCertificate` binds with `CertType=cas` + `CertId` + `CertRegion` (a certificate held by CAS) or
  `CertType=upload` + `SSLPub`/`SSLPri` (PEM), always `SSLProtocol=on`; `SSLProtocol=off` turns HTTPS off.
- `SetCdnDomainSMCertificate` turns an SM certificate on or off by `CertIdentifier` (CAS ids only: the API takes no
  PEM). Sources: SDK models `SetCdnDomainSSLCertificateRequest`, `SetCdnDomainSMCertificateRequest`,
  `DescribeDomainCertificateInfoResponseBody`; help.aliyun.com/document_detail/91182.html and doc-detail/398671.html.

A `Binding` from `current_binding` keeps what restore needs: `cas_cert_id` and the details `https` (on/off),
`cert_type`, `cert_region` and `sm` (the SM identifiers, comma-separated). A previous certificate without a CAS id
(e.g. a CDN free certificate) cannot be put back: its restore fails with `PreviousCertificateNotRestorable` unless
the domain still serves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, RegionalClients, sdk_errors, tea_config
from certdeploy.domain.deployment import Binding, DeployableCertificate, PermanentDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource


@dataclass(frozen=True)
class DomainCertificates:
    """What a CDN-like domain serves now."""

    https_enabled: bool
    cas_cert_id: int | None = None
    cert_name: str | None = None
    cert_type: str | None = None
    cert_region: str | None = None
    certificate_pem: str | None = None
    sm_identifiers: tuple[str, ...] = ()


class DomainCertificateDeployer:
    """Read/bind/restore for products whose resource is an accelerated domain with one HTTPS certificate and SM
    certificates beside it. Subclasses make the four SDK calls."""

    product: Product

    def __init__(self, credentials: CloudCredentials, target: ApiTarget) -> None:
        self._credentials = credentials
        self._target = target
        self._clients: RegionalClients[Any] = RegionalClients(self._new_client)

    # ------------------------------------------------------------------ the product's SDK calls

    def _new_client(self, region: str) -> Any:
        raise NotImplementedError

    def _read(self, client: Any, domain: str) -> DomainCertificates:
        raise NotImplementedError

    def _set_ssl(self, client: Any, domain: str, fields: dict[str, str]) -> None:
        """Set the HTTPS certificate; `fields` are the request's CertType/CertId/CertRegion/CertName/SSLPub/SSLPri/
        SSLProtocol values by API name."""
        raise NotImplementedError

    def _set_sm(self, client: Any, domain: str, identifier: str, enabled: bool) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ Deployer

    def current_binding(self, resource: Resource) -> Binding:
        state = self._state(resource)
        details = {
            "https": "on" if state.https_enabled else "off",
            "cert_type": state.cert_type or "",
            "cert_region": state.cert_region or "",
            "sm": ",".join(state.sm_identifiers),
        }
        return Binding(
            cert_name=state.cert_name if state.https_enabled else None,
            cas_cert_id=state.cas_cert_id if state.https_enabled else None,
            domain=resource.domain,
            details=tuple(sorted((name, value) for name, value in details.items() if value)),
        )

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        state = self._state(resource)
        client = self._clients.for_region(resource.region)
        if certificate.algorithm is CertAlgorithm.SM2:
            if certificate.cas_cert_id is None:
                raise PermanentDeployFailure(
                    "SMCertificateNotInCas",
                    f"{self.product} takes SM certificates by their CAS id only, and certificate {certificate.name} "
                    "has none: upload it to Certificate Management Service first.",
                )
            identifier = self._sm_identifier(certificate.cas_cert_id)
            if identifier not in state.sm_identifiers:
                with sdk_errors(f"setting the SM certificate of {resource.domain}"):
                    self._set_sm(client, resource.domain, identifier, True)
            return
        if certificate.cas_cert_id is not None:
            if state.https_enabled and state.cas_cert_id == certificate.cas_cert_id:
                return
            fields = {
                "CertType": "cas",
                "CertId": str(certificate.cas_cert_id),
                "CertRegion": self._target.cas_region,
                "SSLProtocol": "on",
            }
        else:
            if state.https_enabled and _same_leaf(state.certificate_pem, certificate.cert_pem):
                return
            fields = {
                "CertType": "upload",
                "CertName": certificate.name,
                "SSLPub": certificate.cert_pem,
                "SSLPri": certificate.key_pem.get_secret_value(),
                "SSLProtocol": "on",
            }
        with sdk_errors(f"setting the certificate of {resource.domain}"):
            self._set_ssl(client, resource.domain, fields)

    def restore(self, resource: Resource, binding: Binding) -> None:
        state = self._state(resource)
        client = self._clients.for_region(resource.region)
        previous_sm = tuple(item for item in (binding.detail("sm") or "").split(",") if item)
        with sdk_errors(f"restoring the SM certificates of {resource.domain}"):
            for identifier in state.sm_identifiers:
                if identifier not in previous_sm:
                    self._set_sm(client, resource.domain, identifier, False)
            for identifier in previous_sm:
                if identifier not in state.sm_identifiers:
                    self._set_sm(client, resource.domain, identifier, True)
        fields = self._restore_fields(resource, binding, state)
        if fields:
            with sdk_errors(f"restoring the certificate of {resource.domain}"):
                self._set_ssl(client, resource.domain, fields)

    # ------------------------------------------------------------------ helpers

    def _restore_fields(self, resource: Resource, binding: Binding, state: DomainCertificates) -> dict[str, str]:
        """The HTTPS certificate request that puts `binding` back; empty when the domain already serves it."""
        https_before = binding.detail("https")
        if https_before is None:
            https_before = "on" if binding.cas_cert_id is not None or binding.cert_name else "off"
        if https_before == "off":
            return {"SSLProtocol": "off"} if state.https_enabled else {}
        if binding.cas_cert_id is not None:
            if state.https_enabled and state.cas_cert_id == binding.cas_cert_id:
                return {}
            return {
                "CertType": "cas",
                "CertId": str(binding.cas_cert_id),
                "CertRegion": binding.detail("cert_region") or self._target.cas_region,
                "SSLProtocol": "on",
            }
        if state.https_enabled and state.cert_name == binding.cert_name:
            return {}
        raise PermanentDeployFailure(
            "PreviousCertificateNotRestorable",
            f"{self.product} domain {resource.domain} served certificate {binding.cert_name or '(unnamed)'} "
            f"({binding.detail('cert_type') or 'unknown type'}), which has no CAS id, so it cannot be bound again.",
        )

    def _state(self, resource: Resource) -> DomainCertificates:
        client = self._clients.for_region(resource.region)
        with sdk_errors(f"reading the certificate of {resource.domain}"):
            return self._read(client, resource.domain)

    def _sm_identifier(self, cas_cert_id: int) -> str:
        # "证书 ID+"-cn-hangzhou"。 如果证书 ID=123,CertIdentifier="123-cn-hangzhou"" (SetCdnDomainSMCertificate doc).
        return self._target.cas_identifier(cas_cert_id)


class CdnDeployer(DomainCertificateDeployer):
    product = Product.CDN

    def _new_client(self, region: str) -> Any:
        from alibabacloud_cdn20180510.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _read(self, client: Any, domain: str) -> DomainCertificates:
        from alibabacloud_cdn20180510 import models

        info = client.describe_domain_certificate_info(models.DescribeDomainCertificateInfoRequest(domain_name=domain))
        infos = info.body.cert_infos.cert_info if info.body.cert_infos else []
        sm = client.describe_cdn_smcertificate_list(models.DescribeCdnSMCertificateListRequest(domain_name=domain))
        model = sm.body.certificate_list_model
        certs = model.cert_list.cert if model and model.cert_list and model.cert_list.cert else []
        identifiers = tuple(sorted(cert.cert_identifier for cert in certs if cert.cert_identifier))
        if not infos:
            return DomainCertificates(https_enabled=False, sm_identifiers=identifiers)
        cert = infos[0]
        return DomainCertificates(
            https_enabled=cert.server_certificate_status == "on",
            cas_cert_id=parse_cert_id(cert.cert_id),
            cert_name=cert.cert_name or None,
            cert_type=cert.cert_type or None,
            cert_region=cert.cert_region or None,
            certificate_pem=cert.server_certificate or None,
            sm_identifiers=identifiers,
        )

    def _set_ssl(self, client: Any, domain: str, fields: dict[str, str]) -> None:
        from alibabacloud_cdn20180510 import models

        client.set_cdn_domain_sslcertificate(
            models.SetCdnDomainSSLCertificateRequest(domain_name=domain, **ssl_request_fields(fields))
        )

    def _set_sm(self, client: Any, domain: str, identifier: str, enabled: bool) -> None:
        from alibabacloud_cdn20180510 import models

        client.set_cdn_domain_smcertificate(
            models.SetCdnDomainSMCertificateRequest(
                domain_name=domain, cert_identifier=identifier, sslprotocol="on" if enabled else "off"
            )
        )


def parse_cert_id(value: Any) -> int | None:
    """A CAS certificate id as products report it (a string, sometimes `"123-cn-hangzhou"`); None when absent."""
    text = str(value or "").strip().split("-")[0]
    return int(text) if text.isdigit() else None


_SSL_REQUEST_FIELDS = {
    "CertType": "cert_type",
    "CertId": "cert_id",
    "CertRegion": "cert_region",
    "CertName": "cert_name",
    "SSLPub": "sslpub",
    "SSLPri": "sslpri",
    "SSLProtocol": "sslprotocol",
}


def ssl_request_fields(fields: dict[str, str]) -> dict[str, Any]:
    """API names to the SDK request's keyword names (CDN and DCDN name them alike); CertId is an integer there."""
    converted: dict[str, Any] = {_SSL_REQUEST_FIELDS[name]: value for name, value in fields.items()}
    if "cert_id" in converted:
        converted["cert_id"] = int(converted["cert_id"])
    return converted


def _same_leaf(served: str | None, ours: str) -> bool:
    """Whether the served PEM starts with our leaf certificate (whitespace aside)."""
    if not served:
        return False
    return _first_block(served) == _first_block(ours)


def _first_block(pem: str) -> str:
    end = "-----END CERTIFICATE-----"
    head, _, _ = pem.partition(end)
    return "".join(head.split()) + end
