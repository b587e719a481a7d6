"""Function Compute custom domains of one region, served through the FC 3.0 API (2023-03-30, `alibabacloud-fc20230330`,
ROA with the ACS3 signature, verified by `tests.servers.openapi`) and, on the same port, through the FC 2.0 API
(2016-08-15, `aliyun-fc2`, answered by `tests.servers.fc2_server`): FC keeps one set of custom domains per region, and
a deployer given one endpoint reaches both APIs there.

What the real FC 3.0 API does that a deployer relies on (FC 3.0 API reference, GetCustomDomain, UpdateCustomDomain,
UpdateCustomDomainInput, TLSConfig; FC error codes page):
- `GET /2023-03-30/custom-domains/{domainName}` answers the domain: `apiVersion` (the API it was created with),
  `protocol`, `certConfig` (never the private key, as the 2.0 API), `routeConfig`, `tlsConfig`, `wafConfig`,
  `authConfig`. An unknown domain is 404 `DomainNameNotFound`.
- `PUT /2023-03-30/custom-domains/{domainName}` with an UpdateCustomDomainInput changes the blocks its body carries and
  keeps the others (terraform-provider-alicloud `alicloud/resource_alicloud_fcv3_custom_domain.go` sends only the blocks
  that changed); a block that is sent replaces the domain's block whole. `protocol` is `HTTP`, `HTTPS` or
  `HTTP,HTTPS`; HTTPS needs a certificate; a `certConfig` needs a name, a PEM certificate and its private key; a
  `tlsConfig` needs `minVersion` and `cipherSuites` (the SDK's TLSConfig marks both required). Errors answer
  `{"Code", "Message", "RequestId"}` (400 `InvalidArgument`).

`cloud.api` is the 3.0 API (`calls_of("UpdateCustomDomain")`, `fail_next(...)`), `cloud.fc2` the 2.0 API; both accept
the same AccessKey. `add_domain` adds an FC 3.0 domain (`api_version=FC2_API_VERSION` for one of FC 2.0).
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

from tests.servers import fc2_server
from tests.servers.fc2_server import Fc2TestServer, cert_config_problem
from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiRequestHandler, OpenApiServer, ProductCloud

FC3_API_VERSION = "2023-03-30"
FC2_API_VERSION = fc2_server.API_VERSION
GET_CUSTOM_DOMAIN = "GetCustomDomain"
UPDATE_CUSTOM_DOMAIN = "UpdateCustomDomain"
_BLOCKS = frozenset({"authConfig", "certConfig", "corsConfig", "protocol", "routeConfig", "tlsConfig", "wafConfig"})
_PROTOCOLS = ("HTTP", "HTTPS", "HTTP,HTTPS")


class _Handler(OpenApiRequestHandler):
    def serve(self) -> None:
        gateway: _FcGateway = self.server.test_server
        if self.path.startswith(f"/{FC2_API_VERSION}/"):
            fc2_server.reply(self, gateway.fc2)
        else:
            super().serve()


class _FcGateway(OpenApiServer):
    handler_class = _Handler
    thread_name = "fc-test-server"

    def __init__(self, fc2: Fc2TestServer, **settings: Any) -> None:
        super().__init__(**settings)
        self.fc2 = fc2


class FcCloud(ProductCloud):
    """FC custom domains through both APIs; `domain(name)` is what GetCustomDomain answers."""

    def __init__(self, *, security_token: str | None = None) -> None:
        self.fc2 = Fc2TestServer(security_token=security_token)
        super().__init__(
            _FcGateway(
                self.fc2,
                access_key_id=self.fc2.access_key_id,
                access_key_secret=self.fc2.access_key_secret,
                security_token=security_token,
                host_id="fcv3.cn-hangzhou.aliyuncs.com",
                version=FC3_API_VERSION,
            )
        )
        domain_path = f"/{FC3_API_VERSION}/custom-domains/{{domainName}}"
        self.api.roa("GET", domain_path, self._get, action=GET_CUSTOM_DOMAIN)
        self.api.roa("PUT", domain_path, self._update, action=UPDATE_CUSTOM_DOMAIN)

    def add_domain(
        self,
        domain_name: str,
        *,
        protocol: str = "HTTP,HTTPS",
        routes: list[dict[str, Any]] | None = None,
        certificate: tuple[str, str, str] | None = None,
        api_version: str = FC3_API_VERSION,
        **settings: Any,
    ) -> None:
        """A custom domain (FC 3.0 unless `api_version` says otherwise); `settings`: tlsConfig, wafConfig, …"""
        self.fc2.add_domain(
            domain_name,
            protocol=protocol,
            routes=routes,
            certificate=certificate,
            api_version=api_version,
            settings=settings,
        )

    def domain(self, domain_name: str) -> dict[str, Any]:
        return self.fc2.domain(domain_name)

    def private_key(self, domain_name: str) -> str | None:
        return self.fc2.private_key(domain_name)

    def _get(self, call: OpenApiCall) -> dict[str, Any]:
        name = call.require("domainName")
        with self.fc2.state() as (domains, _):
            return copy.deepcopy(_existing(domains, name))

    def _update(self, call: OpenApiCall) -> dict[str, Any]:
        name = call.require("domainName")
        changes = call.body if isinstance(call.body, dict) else {}
        unknown = set(changes) - _BLOCKS
        if unknown:
            raise OpenApiError("InvalidArgument", f"unknown fields {sorted(unknown)}")
        with self.fc2.state() as (domains, private_keys):
            domain = _existing(domains, name)
            protocol = changes.get("protocol", domain["protocol"])
            if protocol not in _PROTOCOLS:
                raise OpenApiError("InvalidArgument", f"protocol '{protocol}' is not HTTP, HTTPS or HTTP,HTTPS")
            cert_config = changes.get("certConfig")
            problem = None if cert_config is None else cert_config_problem(cert_config)
            if problem is not None:
                raise OpenApiError("InvalidArgument", problem)
            tls_config = changes.get("tlsConfig")
            if tls_config is not None and not (tls_config.get("minVersion") and tls_config.get("cipherSuites")):
                raise OpenApiError("InvalidArgument", "tlsConfig needs minVersion and cipherSuites")
            if "HTTPS" in protocol and cert_config is None and "certConfig" not in domain:
                raise OpenApiError("InvalidArgument", "an HTTPS custom domain needs a certConfig")
            for block, value in changes.items():
                domain[block] = copy.deepcopy(value)
            if cert_config is not None:
                domain["certConfig"] = {"certName": cert_config["certName"], "certificate": cert_config["certificate"]}
                private_keys[name] = cert_config["privateKey"]
            domain["lastModifiedTime"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            return copy.deepcopy(domain)


def _existing(domains: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    domain = domains.get(name)
    if domain is None:
        raise OpenApiError("DomainNameNotFound", f"domain name '{name}' does not exist", 404)
    return domain
