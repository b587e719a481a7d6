"""MSE deployer: the certificate of a cloud-native gateway's domain, through `alibabacloud-mse20190531`.

A resource is one domain of a gateway: `instance_id` is the gateway's unique id (`gw-…`), `domain` the domain name.

How each call maps to MSE:
- read: `ListGatewayDomain` (`GatewayUniqueId`, `DomainName`) finds the domain's numeric `Id` (the name is compared
  case-insensitively), then `GetGatewayDomainDetail` gives everything UpdateGatewayDomain can set: `CertIdentifier`
  (the CAS identifier `<cas id>-cn-hangzhou` bound now), `Protocol`, `MustHttps`, `Http2`, `TlsMin`, `TlsMax`,
  `MtlsEnabled`, `CaCertIdentifier` and the TLS cipher suite configuration. A domain whose protocol is not HTTPS
  fails permanently (`HttpsDisabled`: binding would change what the domain serves); a domain being published or
  unpublished (status 2 or 5 in ListGatewayDomain) defers a write (transient failure).
- bind / restore: `UpdateGatewayDomain` with `CertIdentifier` = the CAS identifier and every other setting sent back
  exactly as read, because the reference does not say that an omitted setting is left alone.
MSE answers some failures in the body (`Success: false` with `Code` and `HttpStatusCode`) instead of an HTTP error:
those become deploy failures too (transient for a 5xx status, permanent otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from certdeploy.adapters.cloud.cas_bound import BoundState, CasBoundDeployer, describe, first, product_call
from certdeploy.adapters.cloud.common import is_transient_code, tea_config
from certdeploy.domain.deployment import PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import Resource

if TYPE_CHECKING:
    from alibabacloud_mse20190531.client import Client

_HTTPS = "HTTPS"
# ListGatewayDomain `Status`: 2 publishing, 5 unpublishing (the SDK model's documentation).
_CHANGING_STATUSES = frozenset({2, 5})


class _GatewayDomain(NamedTuple):
    id: int
    detail: Any  # GetGatewayDomainDetail's Data: the settings to send back unchanged


class MseDeployer(CasBoundDeployer["Client", _GatewayDomain]):
    """The `Deployer` of MSE gateway domains."""

    product_name = "MSE"

    def _client_for(self, region: str) -> Client:
        from alibabacloud_mse20190531.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _read(self, resource: Resource) -> BoundState[_GatewayDomain]:
        from alibabacloud_mse20190531 import models

        client = self._client(resource)
        listing = models.ListGatewayDomainRequest(gateway_unique_id=resource.instance_id, domain_name=resource.domain)
        with product_call("MSE ListGatewayDomain"):
            domains = _checked(client.list_gateway_domain(listing).body, "MSE ListGatewayDomain").data
        wanted = resource.domain.lower()
        entry = first(domains, lambda domain: (domain.name or "").lower() == wanted)
        if entry is None:
            raise PermanentDeployFailure(
                "ResourceNotFound.Domain", f"MSE gateway {describe(resource)} has no domain {resource.domain}."
            )
        request = models.GetGatewayDomainDetailRequest(gateway_unique_id=resource.instance_id, id=entry.id)
        with product_call("MSE GetGatewayDomainDetail"):
            detail = _checked(client.get_gateway_domain_detail(request).body, "MSE GetGatewayDomainDetail").data
        if detail is None or (detail.protocol or "").upper() != _HTTPS:
            protocol = detail.protocol if detail is not None else "unknown"
            raise PermanentDeployFailure(
                "HttpsDisabled",
                f"MSE domain {resource.domain} of gateway {describe(resource)} serves {protocol}, not HTTPS.",
            )
        busy = None
        if entry.status in _CHANGING_STATUSES:
            busy = TransientDeployFailure(
                "IncorrectStatus.Domain",
                f"MSE domain {resource.domain} is being published or unpublished (status {entry.status}).",
            )
        return BoundState(target=_GatewayDomain(entry.id, detail), identifier=detail.cert_identifier or None, busy=busy)

    def _write(self, resource: Resource, state: BoundState[_GatewayDomain], identifier: str) -> None:
        from alibabacloud_mse20190531 import models

        detail = state.target.detail
        ciphers = detail.tls_cipher_suites_config
        request = models.UpdateGatewayDomainRequest(
            gateway_unique_id=resource.instance_id,
            id=state.target.id,
            cert_identifier=identifier,
            protocol=detail.protocol,
            must_https=detail.must_https,
            http_2=detail.http_2,
            tls_min=detail.tls_min,
            tls_max=detail.tls_max,
            mtls_enabled=detail.mtls_enabled,
            ca_cert_identifier=detail.ca_cert_identifier,
            tls_cipher_suites_config_json=(
                models.UpdateGatewayDomainRequestTlsCipherSuitesConfigJSON(
                    config_type=ciphers.config_type, tls_cipher_suites=ciphers.tls_cipher_suites
                )
                if ciphers is not None
                else None
            ),
        )
        with product_call("MSE UpdateGatewayDomain"):
            _checked(self._client(resource).update_gateway_domain(request).body, "MSE UpdateGatewayDomain")


def _checked(body: Any, what: str) -> Any:
    """`body`, unless MSE reported a failure inside a 200 answer."""
    if body.success is not False:
        return body
    code = str(body.code or "UnknownError")
    status = body.http_status_code if isinstance(body.http_status_code, int) else 0
    message = f"{what}: {body.message or 'failed'}" + (f" (RequestId {body.request_id})" if body.request_id else "")
    if status >= 500 or status == 429 or is_transient_code(code):
        raise TransientDeployFailure(code, message)
    raise PermanentDeployFailure(code, message)
