"""Anti-DDoS Proxy (ddoscoo 2020-01-01) test server: website rules and the certificates they can take, with the
response shapes the SDK models read (`WebRules[]` with `CertName`/`CertRegion`/`GmCert`, `Certs[]` with `Id` and
`DomainRelated`).
`DescribeWebRules` pages its answer (`PageNumber` from 1, `PageSize`) and gives the `TotalCount` of all matches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud


@dataclass
class WebRule:
    cert_id: int | None = None
    cert_name: str | None = None
    cert_region: str | None = None
    gm_cert_id: str | None = None


class DdosCloud(ProductCloud):
    """`rules`: domain -> its rule; `certs`: CAS id -> (name, PEM). Uploaded PEM certificates get a new id."""

    def __init__(self) -> None:
        self.rules: dict[str, WebRule] = {}
        self.certs: dict[int, tuple[str, str]] = {}
        self._next_id = 50_000
        super().__init__(OpenApiServer(host_id="ddoscoo.cn-hangzhou.aliyuncs.com", version="2020-01-01"))
        self.api.rpc("DescribeWebRules", self._describe_rules)
        self.api.rpc("DescribeCerts", self._describe_certs)
        self.api.rpc("AssociateWebCert", self._associate)

    def _rule(self, call: OpenApiCall) -> WebRule:
        domain = call.require("Domain")
        rule = self.rules.get(domain)
        if rule is None:
            raise OpenApiError("Domain.NotFound", f"The domain {domain} has no website rule.")
        return rule

    def _describe_rules(self, call: OpenApiCall) -> dict[str, Any]:
        size, number = int(call.require("PageSize")), int(call.get("PageNumber") or 1)
        wanted = call.get("Domain") or ""
        rules = []
        for domain, rule in sorted(self.rules.items()):
            if wanted in domain:  # the API matches Domain loosely; the deployer must pick its own rule
                gm = {"CertId": rule.gm_cert_id or "", "GmEnable": 1 if rule.gm_cert_id else 0, "GmOnly": 0}
                rules.append(
                    {
                        "Domain": domain,
                        "CertName": rule.cert_name or "",
                        "CertRegion": rule.cert_region or "",
                        "GmCert": gm,
                    }
                )
        page = rules[(number - 1) * size : number * size]
        return {"WebRules": page, "TotalCount": len(rules)}

    def _describe_certs(self, call: OpenApiCall) -> dict[str, Any]:
        rule = self._rule(call)
        return {
            "Certs": [
                {
                    "Id": cert_id,
                    "Name": name,
                    "Common": call.require("Domain"),
                    "DomainRelated": cert_id == rule.cert_id,
                }
                for cert_id, (name, _) in sorted(self.certs.items())
            ]
        }

    def _associate(self, call: OpenApiCall) -> dict[str, Any]:
        rule = self._rule(call)
        if call.get("CertId"):
            cert_id = int(call.require("CertId"))
            if cert_id not in self.certs:
                raise OpenApiError("Cert.NotFound", f"The certificate {cert_id} does not exist.")
            rule.cert_id, rule.cert_name = cert_id, self.certs[cert_id][0]
            rule.cert_region = call.get("CertRegion") or "cn-hangzhou"
            return {}
        name, pem, key = call.require("CertName"), call.require("Cert"), call.require("Key")
        if "BEGIN CERTIFICATE" not in pem or "PRIVATE KEY" not in key:
            raise OpenApiError("Cert.Invalid", "The certificate or its private key is invalid.")
        self._next_id += 1
        self.certs[self._next_id] = (name, pem)
        rule.cert_id, rule.cert_name, rule.cert_region = self._next_id, name, "cn-hangzhou"
        return {}
