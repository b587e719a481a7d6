"""FC 3.0 custom domains (FC API 2023-03-30) through `alibabacloud-fc20230330`, for `FcDeployer`.

The client reaches `fcv3.<region>.aliyuncs.com` (the SDK's endpoint map; no account id needed) with the ACS3 signature.

- `GetCustomDomain` (`GET /2023-03-30/custom-domains/<domain>`, RAM `fc:GetCustomDomain`) answers the domain with its
  `apiVersion`: `2023-03-30` for a domain of FC 3.0, `2016-08-15` for one created through the 2.0 API. A domain the
  3.0 API does not know answers 404 `DomainNameNotFound` (FC error codes page): `get_domain` returns None for it.
- `UpdateCustomDomain` (`PUT /2023-03-30/custom-domains/<domain>`, RAM `fc:UpdateCustomDomain`) changes the blocks its
  body carries and keeps the others: terraform-provider-alicloud `alicloud/resource_alicloud_fcv3_custom_domain.go`
  sends only the blocks that changed. A block that is sent replaces the domain's block whole, so the `tlsConfig` read
  (minimum and maximum version, cipher suites) is sent back as read with the new `certConfig`; routes, `wafConfig`,
  `authConfig` and `corsConfig` are not sent, so they stay as they are. The protocol may be `HTTPS` alone on FC 3.0
  (UpdateCustomDomainInput reference:
  https://www.alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-updatecustomdomaininput).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, RegionalClients, sdk_errors, tea_config
from certdeploy.domain.deployment import PermanentDeployFailure
from certdeploy.domain.models import Resource

FC3_API_VERSION = "2023-03-30"
DOMAIN_NOT_FOUND = "DomainNameNotFound"
# FC codes that mean "try again later" besides 5xx (FC error codes page: 409 ConcurrentUpdateError "update them one
# after another", 429 ResourceExhausted, 499 ClientClosedRequest, 503 ResourceThrottled); both API versions answer them.
TRANSIENT_FC_CODES = frozenset(
    {"ConcurrentUpdateError", "ResourceExhausted", "ClientClosedRequest", "ResourceThrottled"}
)


class Fc3CustomDomains:
    """Reads and updates custom domains through the FC 3.0 API."""

    def __init__(self, credentials: CloudCredentials, target: ApiTarget) -> None:
        self._credentials = credentials
        self._target = target
        self._clients: RegionalClients[Any] = RegionalClients(self._new_client)

    def get_domain(self, resource: Resource) -> dict[str, Any] | None:
        """The domain as GetCustomDomain answers it (camelCase keys), or None when the 3.0 API does not know it."""
        client = self._clients.for_region(resource.region)
        try:
            with sdk_errors(f"reading FC custom domain {resource.domain}", TRANSIENT_FC_CODES):
                body = client.get_custom_domain(resource.domain).body
        except PermanentDeployFailure as failure:
            if failure.code == DOMAIN_NOT_FOUND:
                return None
            raise
        return dict(body.to_map()) if body is not None else {}

    def update_domain(
        self, resource: Resource, read: Mapping[str, Any], *, protocol: str, cert_config: dict[str, str] | None
    ) -> None:
        """UpdateCustomDomain with `protocol`, `cert_config` (None: not sent) and the `tlsConfig` of `read`."""
        from alibabacloud_fc20230330 import models

        tls_config = read.get("tlsConfig")
        body = models.UpdateCustomDomainInput(
            protocol=protocol,
            cert_config=models.CertConfig().from_map(cert_config) if cert_config else None,
            tls_config=models.TLSConfig().from_map(dict(tls_config)) if isinstance(tls_config, Mapping) else None,
        )
        client = self._clients.for_region(resource.region)
        with sdk_errors(f"updating FC custom domain {resource.domain}", TRANSIENT_FC_CODES):
            client.update_custom_domain(resource.domain, models.UpdateCustomDomainRequest(body=body))

    def _new_client(self, region: str) -> Any:
        from alibabacloud_fc20230330.client import Client

        return Client(tea_config(self._credentials, region, self._target))
