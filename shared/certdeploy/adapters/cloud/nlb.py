"""NLB deployer: the server certificate of a TCPSSL listener, through `alibabacloud-nlb20220430`.

A resource is one listener: `instance_id` is the load balancer, `listener_id` the listener as CAS reports it
(`lsn-xxxx@<port>`), `port` its port. NLB's own reference shows listener ids both ways (`lsn-…@443` in
GetListenerAttribute/UpdateListenerAttribute, `lsn-…` in ListListeners), so the listener is found in ListListeners
of the load balancer: the one whose id is CAS's id or the part of it before `@`, else (no listener id) the TCPSSL
listener on `port`. ListListeners carries everything the deployer reads, so no GetListenerAttribute is needed.

How each call maps to NLB:
- read: `ListListeners` (`LoadBalancerIds.1`; only a TCPSSL listener serves a certificate). `CertificateIds` holds
  the one server certificate NLB allows. `ListenerStatus` `Provisioning`, `Configuring`, `Starting`, `Stopping` or
  `Deleting` defers a write (transient failure); `Running` and `Stopped` are steady states that take the update (the
  SDK's `ListListenersResponseBodyListeners` lists the states; terraform-provider-alicloud
  alicloud/resource_alicloud_nlb_listener.go stops a listener, then updates it).
- bind / restore: `UpdateListenerAttribute` with `ListenerId` and `CertificateIds.1` = the CAS identifier
  (`<cas id>-cn-hangzhou`, e.g. `8697931-cn-hangzhou` in the Terraform provider's NLB example) and nothing else, so
  the other listener settings stay as they are. Asynchronous (JobId); accepted counts as done (see `cas_bound`).
- Retried besides the common codes: `OperationFailed.ResourceIsConfiguring` and `Conflict.Lock` (the load balancer is
  being changed), as the provider retries NLB writes (alicloud/resource_alicloud_nlb_server_group_server_attachment.go,
  alicloud/resource_alicloud_nlb_load_balancer_security_group_attachment.go).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from certdeploy.adapters.cloud.cas_bound import BoundState, CasBoundDeployer, describe, first, product_call
from certdeploy.adapters.cloud.common import tea_config
from certdeploy.domain.deployment import PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import Resource

if TYPE_CHECKING:
    from alibabacloud_nlb20220430.client import Client

_TLS_PROTOCOL = "TCPSSL"
_SETTLED = frozenset({"Running", "Stopped"})
_PAGE_SIZE = 100
# NLB's busy codes beyond the common ones (see the module docstring).
_TRANSIENT_CODES = frozenset({"OperationFailed.ResourceIsConfiguring", "Conflict.Lock"})


class NlbDeployer(CasBoundDeployer["Client", str]):
    """The `Deployer` of NLB listeners; the state's target is the listener id as NLB lists it."""

    product_name = "NLB"

    def _client_for(self, region: str) -> Client:
        from alibabacloud_nlb20220430.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _read(self, resource: Resource) -> BoundState[str]:
        listener = self._find_listener(resource)
        listener_id = str(listener.listener_id)
        busy = None
        if listener.listener_status and listener.listener_status not in _SETTLED:
            busy = TransientDeployFailure(
                "IncorrectStatus.Listener",
                f"NLB listener {listener_id} is {listener.listener_status}; it can be changed once it is Running or "
                "Stopped.",
            )
        identifier = first(listener.certificate_ids, bool)
        return BoundState(target=listener_id, identifier=identifier, busy=busy)

    def _write(self, resource: Resource, state: BoundState[str], identifier: str) -> None:
        from alibabacloud_nlb20220430 import models

        request = models.UpdateListenerAttributeRequest(
            listener_id=state.target, certificate_ids=[identifier], region_id=resource.region
        )
        with product_call("NLB UpdateListenerAttribute", _TRANSIENT_CODES):
            self._client(resource).update_listener_attribute(request)

    def _find_listener(self, resource: Resource) -> Any:
        listeners = self._listeners(resource)
        if resource.listener_id:
            wanted_ids = {resource.listener_id, resource.listener_id.split("@", 1)[0]}
            found = first(listeners, lambda listener: listener.listener_id in wanted_ids)
        elif (port := resource.port) is not None:
            found = first(
                listeners,
                lambda listener: listener.listener_port == port and listener.listener_protocol == _TLS_PROTOCOL,
            )
        else:
            found = None
        if found is None:
            raise PermanentDeployFailure(
                "ResourceNotFound.Listener",
                f"NLB load balancer {describe(resource)} has no listener {resource.listener_id or 'on that port'}.",
            )
        if found.listener_protocol != _TLS_PROTOCOL:
            raise PermanentDeployFailure(
                "HttpsDisabled",
                f"NLB listener {found.listener_id} of {describe(resource)} is {found.listener_protocol}: "
                "only TCPSSL listeners serve a certificate.",
            )
        return found

    def _listeners(self, resource: Resource) -> list[Any]:
        from alibabacloud_nlb20220430 import models

        client = self._client(resource)
        listeners: list[Any] = []
        next_token: str | None = None
        while True:
            request = models.ListListenersRequest(
                load_balancer_ids=[resource.instance_id],
                max_results=_PAGE_SIZE,
                next_token=next_token,
                region_id=resource.region,
            )
            with product_call("NLB ListListeners", _TRANSIENT_CODES):
                page = client.list_listeners(request).body
            listeners.extend(page.listeners or [])
            next_token = page.next_token
            if not next_token:
                return listeners
