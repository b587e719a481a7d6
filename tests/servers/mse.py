"""MSE (2019-05-31) test server: cloud-native gateway domains and their certificate, over the generic OpenAPI server.

What the real service does that the deployer relies on, as the SDK's models and MSE's reference describe it:
- Answers wrap their result: `{"Success", "Code", "HttpStatusCode", "Message", "Data"}`.
- `ListGatewayDomain` (`GatewayUniqueId`, optional `DomainName`) lists domains with `Id`, `Name`, `Protocol`,
  `CertIdentifier`, `MustHttps`, `Http2`, `TlsMin`, `TlsMax`, `Status`; `GetGatewayDomainDetail` (`Id`) adds
  `MtlsEnabled`, `CaCertIdentifier` and `TlsCipherSuitesConfig`. An unknown gateway or domain id is `NotFound`.
- `UpdateGatewayDomain` sets what it carries. The reference does not say that an omitted setting is kept, so this
  server takes the pessimistic reading: whatever is omitted goes back to its default (a deployer that does not send a
  domain's settings back would visibly change them). An identifier that CAS does not know is `InvalidParameter`.
- `fail_in_body_next(action, …)` makes the next call answer HTTP 200 with `Success: false`, as MSE does for some
  failures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud

LIST_DOMAINS = "ListGatewayDomain"
GET_DOMAIN = "GetGatewayDomainDetail"
UPDATE_DOMAIN = "UpdateGatewayDomain"


@dataclass
class GatewayDomain:
    gateway_unique_id: str
    name: str
    protocol: str = "HTTPS"
    cert_identifier: str | None = None
    must_https: bool = False
    http2: str = "globalConfig"
    tls_min: str | None = None
    tls_max: str | None = None
    mtls_enabled: bool = False
    ca_cert_identifier: str | None = None
    cipher_suites: dict[str, Any] | None = None
    status: int = 3


@dataclass
class _BodyFault:
    code: int
    status: int
    message: str


class MseCloud(ProductCloud):
    """In-memory gateway domains by id, and the CAS certificate identifiers MSE can take."""

    def __init__(self) -> None:
        self.domains: dict[int, GatewayDomain] = {}
        self.cas_identifiers: set[str] = set()
        self._body_faults: dict[str, list[_BodyFault]] = {}
        super().__init__(OpenApiServer(host_id="mse.cn-hangzhou.aliyuncs.com", version="2019-05-31"))
        self.api.rpc(LIST_DOMAINS, self._answering(LIST_DOMAINS, self._list))
        self.api.rpc(GET_DOMAIN, self._answering(GET_DOMAIN, self._get))
        self.api.rpc(UPDATE_DOMAIN, self._answering(UPDATE_DOMAIN, self._update))

    def fail_in_body_next(self, action: str, *, code: int, status: int, message: str) -> None:
        self._body_faults.setdefault(action, []).append(_BodyFault(code, status, message))

    def _answering(self, action: str, handler: Any) -> Any:
        def answer(call: OpenApiCall) -> dict[str, Any]:
            faults = self._body_faults.get(action)
            if faults:
                fault = faults.pop(0)
                return {"Success": False, "Code": fault.code, "HttpStatusCode": fault.status, "Message": fault.message}
            return {"Success": True, "Code": 200, "HttpStatusCode": 200, "Message": "OK", "Data": handler(call)}

        return answer

    def _domain(self, call: OpenApiCall) -> tuple[int, GatewayDomain]:
        gateway = call.require("GatewayUniqueId")
        domain_id = int(call.require("Id"))
        domain = self.domains.get(domain_id)
        if domain is None or domain.gateway_unique_id != gateway:
            raise OpenApiError("NotFound", f"Not found: domain {domain_id} of gateway {gateway}", 404)
        return domain_id, domain

    def _list(self, call: OpenApiCall) -> list[dict[str, Any]]:
        gateway = call.require("GatewayUniqueId")
        if not any(domain.gateway_unique_id == gateway for domain in self.domains.values()):
            raise OpenApiError("NotFound", f"Not found: gateway {gateway}", 404)
        # DomainName filters by substring, as a console search box would.
        wanted = (call.get("DomainName") or "").lower()
        return [
            _summary(domain_id, domain)
            for domain_id, domain in sorted(self.domains.items())
            if domain.gateway_unique_id == gateway and wanted in domain.name.lower()
        ]

    def _get(self, call: OpenApiCall) -> dict[str, Any]:
        domain_id, domain = self._domain(call)
        return _summary(domain_id, domain) | {
            "GatewayUniqueId": domain.gateway_unique_id,
            "MtlsEnabled": domain.mtls_enabled,
            "CaCertIdentifier": domain.ca_cert_identifier,
            "TlsCipherSuitesConfig": domain.cipher_suites,
        }

    def _update(self, call: OpenApiCall) -> int:
        domain_id, domain = self._domain(call)
        identifier = call.get("CertIdentifier")
        if identifier is not None and identifier not in self.cas_identifiers:
            raise OpenApiError("InvalidParameter", f"Parameter error: certificate {identifier} does not exist", 400)
        ciphers = call.get("TlsCipherSuitesConfigJSON")
        domain.cert_identifier = identifier
        domain.protocol = call.get("Protocol") or "HTTP"
        domain.must_https = call.get("MustHttps") == "True"
        domain.http2 = call.get("Http2") or "globalConfig"
        domain.tls_min, domain.tls_max = call.get("TlsMin"), call.get("TlsMax")
        domain.mtls_enabled = call.get("MtlsEnabled") == "True"
        domain.ca_cert_identifier = call.get("CaCertIdentifier")
        domain.cipher_suites = json.loads(ciphers) if ciphers else None
        return domain_id


def _summary(domain_id: int, domain: GatewayDomain) -> dict[str, Any]:
    return {
        "Id": domain_id,
        "Name": domain.name,
        "Protocol": domain.protocol,
        "CertIdentifier": domain.cert_identifier,
        "MustHttps": domain.must_https,
        "Http2": domain.http2,
        "TlsMin": domain.tls_min,
        "TlsMax": domain.tls_max,
        "Status": domain.status,
        "Type": "Op",
    }
