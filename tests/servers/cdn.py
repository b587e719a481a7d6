"""CDN (2018-05-10) and DCDN (2018-01-15) test servers: accelerated domains with an HTTPS certificate and SM
certificates, over the generic OpenAPI server. Both products have the same actions under different names and a few
different response fields (CDN `ServerCertificateStatus`/`ServerCertificate`, DCDN `SSLProtocol`/`SSLPub`; CDN nests
its SM list as `CertList.Cert[]`, DCDN as `CertList[]`), as their SDK response models read them.

`cas_region` is the account's site: CAS certificates live in cn-hangzhou (China site) or ap-southeast-1 (international
site); a `CertRegion` or a `CertIdentifier` suffix naming another region finds no certificate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud


@dataclass
class AcceleratedDomain:
    https: bool = False
    cert_id: int | None = None
    cert_name: str | None = None
    cert_type: str | None = None
    cert_region: str | None = None
    cert_pem: str | None = None
    sm_identifiers: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Flavour:
    version: str
    host_id: str
    describe: str
    describe_sm: str
    set_ssl: str
    set_sm: str


CDN = _Flavour(
    version="2018-05-10",
    host_id="cdn.aliyuncs.com",
    describe="DescribeDomainCertificateInfo",
    describe_sm="DescribeCdnSMCertificateList",
    set_ssl="SetCdnDomainSSLCertificate",
    set_sm="SetCdnDomainSMCertificate",
)
DCDN = _Flavour(
    version="2018-01-15",
    host_id="dcdn.aliyuncs.com",
    describe="DescribeDcdnDomainCertificateInfo",
    describe_sm="DescribeDcdnSMCertificateList",
    set_ssl="SetDcdnDomainSSLCertificate",
    set_sm="SetDcdnDomainSMCertificate",
)


class DomainCertificateCloud(ProductCloud):
    """In-memory domains plus the CAS certificates they can take by id (`cas`: id -> (name, PEM))."""

    def __init__(self, flavour: _Flavour, cas_region: str = "cn-hangzhou") -> None:
        self.flavour = flavour
        self.cas_region = cas_region
        self.domains: dict[str, AcceleratedDomain] = {}
        self.cas: dict[int, tuple[str, str]] = {}
        self._next_cas_id = 90_000
        super().__init__(OpenApiServer(host_id=flavour.host_id, version=flavour.version))
        self.api.rpc(flavour.describe, self._describe)
        self.api.rpc(flavour.describe_sm, self._describe_sm)
        self.api.rpc(flavour.set_ssl, self._set_ssl)
        self.api.rpc(flavour.set_sm, self._set_sm)

    @property
    def write_actions(self) -> tuple[str, str]:
        return self.flavour.set_ssl, self.flavour.set_sm

    def add_cas_certificate(self, cert_id: int, name: str, pem: str) -> None:
        self.cas[cert_id] = (name, pem)

    def _domain(self, call: OpenApiCall) -> AcceleratedDomain:
        name = call.require("DomainName")
        domain = self.domains.get(name)
        if domain is None:
            raise OpenApiError("InvalidDomain.NotFound", f"The domain {name} does not exist.", 404)
        return domain

    def _describe(self, call: OpenApiCall) -> dict[str, Any]:
        domain = self._domain(call)
        if domain.cert_name is None:
            return {"CertInfos": {"CertInfo": []}}
        info: dict[str, Any] = {
            "DomainName": call.require("DomainName"),
            "CertId": str(domain.cert_id) if domain.cert_id is not None else "",
            "CertName": domain.cert_name,
            "CertType": domain.cert_type,
            "CertRegion": domain.cert_region or "",
            "Status": "success",
        }
        if self.flavour is CDN:
            info |= {"ServerCertificateStatus": "on" if domain.https else "off", "ServerCertificate": domain.cert_pem}
        else:
            info |= {"SSLProtocol": "on" if domain.https else "off", "SSLPub": domain.cert_pem}
        return {"CertInfos": {"CertInfo": [info]}}

    def _describe_sm(self, call: OpenApiCall) -> dict[str, Any]:
        domain = self._domain(call)
        certs = [{"CertIdentifier": identifier, "CertName": identifier} for identifier in sorted(domain.sm_identifiers)]
        cert_list: Any = {"Cert": certs} if self.flavour is CDN else certs
        return {"CertificateListModel": {"Count": len(certs), "CertList": cert_list}}

    def _set_ssl(self, call: OpenApiCall) -> dict[str, Any]:
        domain = self._domain(call)
        protocol = call.require("SSLProtocol")
        if protocol == "off":
            domain.https = False
            return {}
        cert_type = call.require("CertType")
        if cert_type == "cas":
            cert_id = int(call.require("CertId"))
            if cert_id not in self.cas or call.require("CertRegion") != self.cas_region:
                raise OpenApiError("InvalidCertificate.NotFound", f"The certificate {cert_id} does not exist.")
            domain.cert_name, domain.cert_pem = self.cas[cert_id]
            domain.cert_id, domain.cert_region = cert_id, call.require("CertRegion")
        elif cert_type == "upload":
            pem, key = call.require("SSLPub"), call.require("SSLPri")
            if "BEGIN CERTIFICATE" not in pem or "PRIVATE KEY" not in key:
                raise OpenApiError("InvalidSSLPub.Malformed", "The certificate or the private key is malformed.")
            self._next_cas_id += 1
            domain.cert_id, domain.cert_region = self._next_cas_id, self.cas_region
            domain.cert_name, domain.cert_pem = call.require("CertName"), pem
            self.cas[domain.cert_id] = (domain.cert_name, pem)
        else:
            raise OpenApiError("InvalidCertType.ValueNotSupported", f"CertType {cert_type} is not supported.")
        domain.cert_type, domain.https = cert_type, True
        return {}

    def _set_sm(self, call: OpenApiCall) -> dict[str, Any]:
        domain = self._domain(call)
        identifier = call.require("CertIdentifier")
        cas_id, _, region = identifier.partition("-")
        if not cas_id.isdigit() or int(cas_id) not in self.cas or region != self.cas_region:
            raise OpenApiError(
                "InvalidCertIdentifier.ValueNotSupported",
                "The specified value of parameter CertIdentifier is not valid.",
            )
        if call.require("SSLProtocol") == "on":
            domain.sm_identifiers.add(identifier)
        else:
            domain.sm_identifiers.discard(identifier)
        return {}
