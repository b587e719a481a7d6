"""WAF 3.0 (2021-10-01) test server: CNAME-mode domains with their `Listen` and `Redirect` configuration, shaped as
the SDK's DescribeDomainDetail model reads them, and ModifyDomain replacing both objects as the real action does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud


@dataclass
class WafDomain:
    listen: dict[str, Any]
    redirect: dict[str, Any]


class WafCloud(ProductCloud):
    """`domains`: (instance id, domain) -> configuration; `certs`: identifier -> name."""

    def __init__(self) -> None:
        self.domains: dict[tuple[str, str], WafDomain] = {}
        self.certs: dict[str, str] = {}
        self.modified: list[dict[str, Any]] = []
        self._next_id = 70_000
        super().__init__(OpenApiServer(host_id="wafopenapi.cn-hangzhou.aliyuncs.com", version="2021-10-01"))
        self.api.rpc("DescribeDomainDetail", self._describe)
        self.api.rpc("ModifyDomain", self._modify)
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
        if listen.get("CertId") and listen["CertId"] not in self.certs:
            raise OpenApiError("Cert.NotExist", f"The certificate {listen['CertId']} does not exist.")
        self.modified.append({"Listen": listen, "Redirect": redirect})
        domain.listen, domain.redirect = listen, redirect
        return {"DomainInfo": {"Domain": call.require("Domain")}}

    def _create_certs(self, call: OpenApiCall) -> dict[str, Any]:
        call.require("InstanceId")
        name, pem, key = call.require("CertName"), call.require("CertContent"), call.require("CertKey")
        if "BEGIN CERTIFICATE" not in pem or "PRIVATE KEY" not in key:
            raise OpenApiError("Cert.Invalid", "The certificate or its private key is invalid.")
        self._next_id += 1
        identifier = f"{self._next_id}-cn-hangzhou"
        self.certs[identifier] = name
        return {"CertIdentifier": identifier}
