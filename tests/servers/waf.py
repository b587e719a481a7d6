"""WAF 3.0 (2021-10-01) test server: CNAME-mode domains with their `Listen` and `Redirect` configuration, shaped as
the SDK's DescribeDomainDetail model reads them.

What the real service does that the deployer relies on, as WAF's API reference and the SDK models describe it:
- `DescribeDomainDetail` answers `Listen`, `Redirect` and `CertDetail`, but not every setting of the domain: it leaves
  out `Redirect.CnameEnabled`, `Redirect.RoutingRules` (hybrid-cloud and disaster-recovery routing) and `AccessType`
  (kept here in `WafDomain.unread`).
- `ModifyDomain` replaces `Listen` and `Redirect` whole: a setting it is not sent is reset, unread ones included.
- `ModifyDomainCert` (InstanceId, Domain, RegionId, CertId; TLSVersion, EnableTLSv3, CipherSuite, CustomCiphers
  optional) changes the certificate (and the TLS settings it carries) only; a domain without an HTTPS port refuses it
  with `Waf.Pullin.MustListenHTTPS`.
- A certificate identifier WAF does not know is `Cert.NotExist`.
- `CreateCerts` adds the certificate to CAS and answers its identifier, `<id>-<CAS region>`: the CAS region of the
  account's site (`cas_region`), not the WAF instance's region.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud, flat_list

# What a domain added without hybrid-cloud or disaster-recovery settings has (the defaults ModifyDomain resets to).
UNREAD_DEFAULTS: dict[str, Any] = {"CnameEnabled": False, "RoutingRules": "", "AccessType": "share"}
_TLS_PARAMETERS = {"TLSVersion": str, "EnableTLSv3": lambda text: text.lower() == "true", "CipherSuite": int}


@dataclass
class WafDomain:
    listen: dict[str, Any]
    redirect: dict[str, Any]
    unread: dict[str, Any] = field(default_factory=lambda: dict(UNREAD_DEFAULTS))


class WafCloud(ProductCloud):
    """`domains`: (instance id, domain) -> configuration; `certs`: identifier -> name; `cas_region`: the CAS region of
    the account's site."""

    def __init__(self, *, cas_region: str = "cn-hangzhou") -> None:
        self.cas_region = cas_region
        self.domains: dict[tuple[str, str], WafDomain] = {}
        self.certs: dict[str, str] = {}
        self._next_id = 70_000
        super().__init__(OpenApiServer(host_id="wafopenapi.cn-hangzhou.aliyuncs.com", version="2021-10-01"))
        self.api.rpc("DescribeDomainDetail", self._describe)
        self.api.rpc("ModifyDomain", self._modify)
        self.api.rpc("ModifyDomainCert", self._modify_cert)
        self.api.rpc("CreateCerts", self._create_certs)

    def _domain(self, call: OpenApiCall) -> WafDomain:
        call.require("RegionId")
        key = (call.require("InstanceId"), call.require("Domain"))
        domain = self.domains.get(key)
        if domain is None:
            raise OpenApiError("Domain.NotExist", f"The domain {key[1]} is not added to instance {key[0]}.")
        return domain

    def _describe(self, call: OpenApiCall) -> dict[str, Any]:
        domain = self._domain(call)
        # The read shape: back-ends as objects (deprecated) and as plain lists.
        redirect = {
            **{name: value for name, value in domain.redirect.items() if name not in {"Backends", "BackupBackends"}},
            "Backends": [{"Backend": address} for address in domain.redirect.get("Backends", [])],
            "BackendList": list(domain.redirect.get("Backends", [])),
            "BackupBackends": [{"Backend": address} for address in domain.redirect.get("BackupBackends", [])],
            "BackUpBackendList": list(domain.redirect.get("BackupBackends", [])),
        }
        reply: dict[str, Any] = {"Domain": call.require("Domain"), "Status": 1, "Listen": domain.listen}
        reply["Redirect"] = redirect
        cert_id = domain.listen.get("CertId")
        if cert_id:
            reply["CertDetail"] = {"Id": cert_id, "Name": self.certs.get(cert_id, "")}
        return reply

    def _modify(self, call: OpenApiCall) -> dict[str, Any]:
        domain = self._domain(call)
        listen, redirect = json.loads(call.require("Listen")), json.loads(call.require("Redirect"))
        if not all(isinstance(address, str) for address in redirect.get("Backends", [])):
            raise OpenApiError("InvalidParameter", "Redirect.Backends must list addresses.")
        self._known(listen.get("CertId"))
        domain.listen, domain.redirect = listen, redirect
        domain.unread = {
            "CnameEnabled": redirect.get("CnameEnabled", UNREAD_DEFAULTS["CnameEnabled"]),
            "RoutingRules": redirect.get("RoutingRules", UNREAD_DEFAULTS["RoutingRules"]),
            "AccessType": call.get("AccessType") or UNREAD_DEFAULTS["AccessType"],
        }
        return {"DomainInfo": {"Domain": call.require("Domain")}}

    def _modify_cert(self, call: OpenApiCall) -> dict[str, Any]:
        domain = self._domain(call)
        if not domain.listen.get("HttpsPorts"):
            raise OpenApiError(
                "Waf.Pullin.MustListenHTTPS",
                f"The domain name must listen to the HTTPS protocol. Domain:{call.require('Domain')}.",
            )
        cert_id = call.require("CertId")
        self._known(cert_id)
        domain.listen["CertId"] = cert_id
        for name, read in _TLS_PARAMETERS.items():
            if call.get(name) is not None:
                domain.listen[name] = read(call.require(name))
        if custom := flat_list(call.parameters, "CustomCiphers"):
            domain.listen["CustomCiphers"] = custom
        return {}

    def _known(self, cert_id: str | None) -> None:
        if cert_id and cert_id not in self.certs:
            raise OpenApiError("Cert.NotExist", f"The certificate {cert_id} does not exist.")

    def _create_certs(self, call: OpenApiCall) -> dict[str, Any]:
        call.require("InstanceId")
        name, pem, key = call.require("CertName"), call.require("CertContent"), call.require("CertKey")
        if "BEGIN CERTIFICATE" not in pem or "PRIVATE KEY" not in key:
            raise OpenApiError("Cert.Invalid", "The certificate or its private key is invalid.")
        self._next_id += 1
        identifier = f"{self._next_id}-{self.cas_region}"
        self.certs[identifier] = name
        return {"CertIdentifier": identifier}
