"""API Gateway (2016-07-14) test server: custom domains of API groups and their SSL certificate, over the generic
OpenAPI server.

What the real service does that the deployer relies on, as the SDK's models describe it:
- `DescribeDomain` (`GroupId`, `DomainName`) answers `CertificateId`, `CertificateName`, `CertificateBody` and, as the
  model allows, `CertificatePrivateKey`; an unknown group or domain is `NotFoundGroup` / `NotFoundDomain`.
- `SetDomainCertificate` takes `CertificateName`, `CertificateBody` and `CertificatePrivateKey` (all in the query
  string) and gives the certificate a new `CertificateId`; a key that does not belong to the certificate is
  `InvalidCertificate` (checked with certdeploy's own parser).
- `DeleteDomainCertificate` (`CertificateId`) removes it; another id is `NotFoundCertificate`.
- Mutual TLS: `SetDomainCertificate` also takes `CaCertificateBody`, `SslVerifyDepth`, `ClientCertSDnPassThrough`,
  `SslOcspEnable` and `SslOcspCacheEnable` (SDK model `SetDomainCertificateRequest`; the API reference says they are
  for mutual TLS). `DescribeDomain` returns none of them; `DescribeApiGroup` (`GroupId`) lists the group's
  `CustomDomains.DomainItem[]` with all but the CA certificate. Nothing documents that a call without them keeps them,
  so this server sets the whole TLS configuration from each call: one without a CA certificate clears mutual TLS.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from certdeploy.domain.certificates import check_key_matches
from certdeploy.domain.errors import CertificateError
from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud

DESCRIBE_DOMAIN = "DescribeDomain"
SET_DOMAIN_CERTIFICATE = "SetDomainCertificate"
DELETE_DOMAIN_CERTIFICATE = "DeleteDomainCertificate"
DESCRIBE_API_GROUP = "DescribeApiGroup"


@dataclass
class GroupDomain:
    certificate_id: str | None = None
    certificate_name: str | None = None
    certificate_body: str | None = None
    certificate_private_key: str | None = None
    web_socket_status: str = "CLOSE"
    ca_certificate_body: str | None = None
    ssl_verify_depth: int | None = None
    client_cert_sdn_pass_through: bool = False
    ssl_ocsp_enable: bool = False
    ssl_ocsp_cache_enable: bool = False


class ApiGatewayCloud(ProductCloud):
    """In-memory custom domains by (group id, domain name)."""

    def __init__(self) -> None:
        self.domains: dict[tuple[str, str], GroupDomain] = {}
        super().__init__(OpenApiServer(host_id="apigateway.cn-hangzhou.aliyuncs.com", version="2016-07-14"))
        self.api.rpc(DESCRIBE_DOMAIN, self._describe)
        self.api.rpc(SET_DOMAIN_CERTIFICATE, self._set)
        self.api.rpc(DELETE_DOMAIN_CERTIFICATE, self._delete)
        self.api.rpc(DESCRIBE_API_GROUP, self._describe_group)

    def _domain(self, call: OpenApiCall) -> tuple[str, GroupDomain]:
        group_id, name = call.require("GroupId"), call.require("DomainName")
        if not any(group == group_id for group, _ in self.domains):
            raise OpenApiError("NotFoundGroup", f"Cannot find the group {group_id}.", 404)
        domain = self.domains.get((group_id, name))
        if domain is None:
            raise OpenApiError("NotFoundDomain", f"Cannot find the domain {name}.", 404)
        return group_id, domain

    def _describe(self, call: OpenApiCall) -> dict[str, Any]:
        group_id, domain = self._domain(call)
        answer: dict[str, Any] = {
            "GroupId": group_id,
            "DomainName": call.require("DomainName"),
            "DomainBindingStatus": "BINDING",
            "DomainWebSocketStatus": domain.web_socket_status,
        }
        if domain.certificate_id is not None:
            answer |= {
                "CertificateId": domain.certificate_id,
                "CertificateName": domain.certificate_name,
                "CertificateBody": domain.certificate_body,
                "CertificatePrivateKey": domain.certificate_private_key,
            }
        return answer

    def _set(self, call: OpenApiCall) -> dict[str, Any]:
        _, domain = self._domain(call)
        name = call.require("CertificateName")
        body, key = call.require("CertificateBody"), call.require("CertificatePrivateKey")
        try:
            check_key_matches(body, key)
        except CertificateError as error:
            raise OpenApiError("InvalidCertificate", f"The certificate is invalid: {error}") from error
        domain.certificate_id = uuid.uuid4().hex
        domain.certificate_name, domain.certificate_body, domain.certificate_private_key = name, body, key
        depth = call.get("SslVerifyDepth")
        domain.ca_certificate_body = call.get("CaCertificateBody")
        domain.ssl_verify_depth = int(depth) if depth else None
        domain.client_cert_sdn_pass_through = call.get("ClientCertSDnPassThrough") == "true"
        domain.ssl_ocsp_enable = call.get("SslOcspEnable") == "true"
        domain.ssl_ocsp_cache_enable = call.get("SslOcspCacheEnable") == "true"
        return {}

    def _describe_group(self, call: OpenApiCall) -> dict[str, Any]:
        group_id = call.require("GroupId")
        items = [
            {
                "DomainName": name,
                "CertificateId": domain.certificate_id or "",
                "CertificateName": domain.certificate_name or "",
                "ClientCertSDnPassThrough": domain.client_cert_sdn_pass_through,
                "SslOcspEnable": domain.ssl_ocsp_enable,
                "SslOcspCacheEnable": domain.ssl_ocsp_cache_enable,
            }
            | ({"SslVerifyDepth": domain.ssl_verify_depth} if domain.ssl_verify_depth is not None else {})
            for (group, name), domain in sorted(self.domains.items())
            if group == group_id
        ]
        if not items:
            raise OpenApiError("NotFoundGroup", f"Cannot find the group {group_id}.", 404)
        return {"GroupId": group_id, "CustomDomains": {"DomainItem": items}}

    def _delete(self, call: OpenApiCall) -> dict[str, Any]:
        _, domain = self._domain(call)
        certificate_id = call.require("CertificateId")
        if certificate_id != domain.certificate_id:
            raise OpenApiError("NotFoundCertificate", f"Cannot find the certificate {certificate_id}.", 404)
        domain.certificate_id = domain.certificate_name = None
        domain.certificate_body = domain.certificate_private_key = None
        return {}
