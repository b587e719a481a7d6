"""ALB deployer: the default (server) certificate of an HTTPS or QUIC listener, through `alibabacloud-alb20200616`.

A resource is one listener: `instance_id` is the load balancer, `listener_id` the listener as CAS reports it
(`lsn-xxxx@<port>`: ALB names it by the part before `@`), `port` its port (used to find the listener when CAS gave no
listener id: ListListeners of the load balancer, the HTTPS/QUIC listener on that port).

How each call maps to ALB:
- read: `GetListenerAttribute`. Its `Certificates` is the listener's default certificate (additional certificates
  are listed by ListListenerCertificates and are not what CAS deploys to). `ListenerStatus` `Provisioning` or
  `Configuring` means the listener is being changed, so a write is deferred (transient failure); `Running` and
  `Stopped` are steady states that take the update (the SDK's `GetListenerAttributeResponseBody` lists the four;
  terraform-provider-alicloud alicloud/resource_alicloud_alb_listener.go stops a listener, then updates it).
- bind / restore: `UpdateListenerAttribute` with `ListenerId` and `Certificates.1.CertificateId` = the CAS identifier
  (`<cas id>-cn-hangzhou`) and nothing else, so every other listener setting stays as it is (every other parameter of
  UpdateListenerAttribute is optional). The call is asynchronous (it answers a JobId, the listener goes
  "Configuring"); accepted counts as done (see `cas_bound`).
- Retried besides the common codes: what the provider retries on UpdateListenerAttribute
  (alicloud/resource_alicloud_alb_listener.go): `IncorrectBusinessStatus.LoadBalancer`, `IdempotenceProcessing`,
  `IncorrectStatus.Listener`, `VipStatusNotSupport`, `-22001`, `SystemBusy`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from certdeploy.adapters.cloud.cas_bound import (
    BoundState,
    CasBoundDeployer,
    describe,
    first,
    listener_id_of,
    product_call,
)
from certdeploy.adapters.cloud.common import tea_config
from certdeploy.domain.deployment import PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import Resource

if TYPE_CHECKING:
    from alibabacloud_alb20200616.client import Client

_TLS_PROTOCOLS = frozenset({"HTTPS", "QUIC"})
_SETTLED = frozenset({"Running", "Stopped"})
_PAGE_SIZE = 100
# ALB's busy codes beyond the common ones (see the module docstring).
_TRANSIENT_CODES = frozenset(
    {
        "IncorrectBusinessStatus.LoadBalancer",
        "IdempotenceProcessing",
        "IncorrectStatus.Listener",
        "VipStatusNotSupport",
        "-22001",
    }
)


class AlbDeployer(CasBoundDeployer["Client", str]):
    """The `Deployer` of ALB listeners; the state's target is the listener id."""

    product_name = "ALB"

    def _client_for(self, region: str) -> Client:
        from alibabacloud_alb20200616.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _read(self, resource: Resource) -> BoundState[str]:
        from alibabacloud_alb20200616 import models

        listener_id = listener_id_of(resource) or self._listener_on_port(resource)
        with product_call("ALB GetListenerAttribute", _TRANSIENT_CODES):
            listener = (
                self._client(resource)
                .get_listener_attribute(models.GetListenerAttributeRequest(listener_id=listener_id))
                .body
            )
        if listener.load_balancer_id and listener.load_balancer_id != resource.instance_id:
            raise PermanentDeployFailure(
                "ResourceNotFound.Listener",
                f"Listener {listener_id} belongs to load balancer {listener.load_balancer_id}, "
                f"not to {describe(resource)}.",
            )
        if (listener.listener_protocol or "").upper() not in _TLS_PROTOCOLS:
            raise PermanentDeployFailure(
                "HttpsDisabled",
                f"ALB listener {listener_id} of {describe(resource)} is {listener.listener_protocol}: "
                "only HTTPS and QUIC listeners serve a certificate.",
            )
        default = first(listener.certificates, lambda certificate: bool(certificate.certificate_id))
        busy = None
        if listener.listener_status and listener.listener_status not in _SETTLED:
            busy = TransientDeployFailure(
                "IncorrectStatus.Listener",
                f"ALB listener {listener_id} is {listener.listener_status}; it can be changed once it is Running or "
                "Stopped.",
            )
        return BoundState(target=listener_id, identifier=default.certificate_id if default else None, busy=busy)

    def _write(self, resource: Resource, state: BoundState[str], identifier: str) -> None:
        from alibabacloud_alb20200616 import models

        request = models.UpdateListenerAttributeRequest(
            listener_id=state.target,
            certificates=[models.UpdateListenerAttributeRequestCertificates(certificate_id=identifier)],
        )
        with product_call("ALB UpdateListenerAttribute", _TRANSIENT_CODES):
            self._client(resource).update_listener_attribute(request)

    def _listener_on_port(self, resource: Resource) -> str:
        from alibabacloud_alb20200616 import models

        if resource.port is not None:
            client = self._client(resource)
            next_token: str | None = None
            while True:
                request = models.ListListenersRequest(
                    load_balancer_ids=[resource.instance_id], max_results=_PAGE_SIZE, next_token=next_token
                )
                with product_call("ALB ListListeners", _TRANSIENT_CODES):
                    page = client.list_listeners(request).body
                found = first(
                    page.listeners,
                    lambda listener: (
                        listener.listener_port == resource.port
                        and (listener.listener_protocol or "").upper() in _TLS_PROTOCOLS
                    ),
                )
                if found is not None:
                    return str(found.listener_id)
                next_token = page.next_token
                if not next_token:
                    break
        raise PermanentDeployFailure(
            "ResourceNotFound.Listener", f"ALB load balancer {describe(resource)} has no HTTPS or QUIC listener there."
        )
