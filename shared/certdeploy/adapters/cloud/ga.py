"""Global Accelerator deployer: the default certificate of an HTTPS listener, through `alibabacloud-ga20191120`.

A resource is one listener: `instance_id` is the accelerator, `listener_id` the listener as CAS reports it (the part
before `@` is GA's `lsr-…` id), `port` a port the listener serves (used to find it when CAS gave no listener id:
ListListeners of the accelerator, the HTTPS listener whose port ranges include it).

GA is a global service managed from one region: its reference says of every `RegionId` "Set the value to
cn-hangzhou", so the client and `RegionId` always use cn-hangzhou, whatever region the resource lists.

How each call maps to GA:
- read: `DescribeListener` (or the matching `ListListeners` entry, which has the same fields). `Certificates` holds
  the default server certificate (additional certificates are a separate API); `State` other than `active`
  (`configuring`, `init`, `updating`, `deleting`) defers a write (transient failure).
- bind / restore: `UpdateListener` with `ListenerId`, `RegionId`, `Certificates.1.Id` = the CAS identifier
  (`<cas id>-cn-hangzhou`), and `XForwardedForConfig` and `ProxyProtocol` sent back as read: those two default to
  false ("false (default)" in the UpdateListener reference and the SDK's `UpdateListenerRequest`), and
  terraform-provider-alicloud alicloud/resource_alicloud_ga_listener.go resends them on every update, so an update
  without them could drop the GA-ID, GA-AP and X-Real-IP headers. The other parameters are left out, so ports,
  protocol, timeouts and the rest stay as they are. GA applies it in the background; accepted counts as done (see
  `cas_bound`).
- Retried besides the common codes: `NotActive.Listener` and `StateError.Accelerator`, as the provider retries its
  UpdateListener (alicloud/resource_alicloud_ga_listener.go).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    from alibabacloud_ga20191120.client import Client

GA_REGION = "cn-hangzhou"
_TLS_PROTOCOL = "https"
_SETTLED = "active"
_PAGE_SIZE = 50
# GA's busy codes beyond the common ones (see the module docstring).
_TRANSIENT_CODES = frozenset({"NotActive.Listener", "StateError.Accelerator"})


class GaDeployer(CasBoundDeployer["Client", Any]):
    """The `Deployer` of GA listeners; the state's target is the listener as GA described it."""

    product_name = "GA"

    def _client_for(self, region: str) -> Client:
        from alibabacloud_ga20191120.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _client(self, resource: Resource) -> Client:
        return self._clients.for_region(GA_REGION)

    def _read(self, resource: Resource) -> BoundState[Any]:
        listener = self._describe(resource)
        listener_id = str(listener.listener_id)
        if listener.accelerator_id and listener.accelerator_id != resource.instance_id:
            raise PermanentDeployFailure(
                "ResourceNotFound.Listener",
                f"Listener {listener_id} belongs to accelerator {listener.accelerator_id}, "
                f"not to {describe(resource)}.",
            )
        if (listener.protocol or "").lower() != _TLS_PROTOCOL:
            raise PermanentDeployFailure(
                "HttpsDisabled",
                f"GA listener {listener_id} of {describe(resource)} is {listener.protocol}: "
                "only HTTPS listeners serve a certificate.",
            )
        default = first(listener.certificates, lambda certificate: bool(certificate.id))
        busy = None
        if listener.state and listener.state != _SETTLED:
            busy = TransientDeployFailure(
                "StateError.Listener",
                f"GA listener {listener_id} is {listener.state}; it can be changed once it is active.",
            )
        return BoundState(target=listener, identifier=default.id if default else None, busy=busy)

    def _write(self, resource: Resource, state: BoundState[Any], identifier: str) -> None:
        from alibabacloud_ga20191120 import models

        listener = state.target
        forwarded_for = listener.xforwarded_for_config
        request = models.UpdateListenerRequest(
            listener_id=str(listener.listener_id),
            region_id=GA_REGION,
            certificates=[models.UpdateListenerRequestCertificates(id=identifier)],
            xforwarded_for_config=(
                models.UpdateListenerRequestXForwardedForConfig().from_map(forwarded_for.to_map())
                if forwarded_for is not None
                else None
            ),
            proxy_protocol=listener.proxy_protocol,
        )
        with product_call("GA UpdateListener", _TRANSIENT_CODES):
            self._client(resource).update_listener(request)

    def _describe(self, resource: Resource) -> Any:
        from alibabacloud_ga20191120 import models

        listener_id = listener_id_of(resource)
        if listener_id is not None:
            request = models.DescribeListenerRequest(listener_id=listener_id, region_id=GA_REGION)
            with product_call("GA DescribeListener", _TRANSIENT_CODES):
                return self._client(resource).describe_listener(request).body
        port = resource.port
        if port is not None:
            found = first(self._listeners(resource), lambda listener: _serves_https_on(listener, port))
            if found is not None:
                return found
        raise PermanentDeployFailure(
            "ResourceNotFound.Listener", f"GA accelerator {describe(resource)} has no HTTPS listener there."
        )

    def _listeners(self, resource: Resource) -> list[Any]:
        from alibabacloud_ga20191120 import models

        listeners: list[Any] = []
        page_number = 1
        while True:
            request = models.ListListenersRequest(
                accelerator_id=resource.instance_id, region_id=GA_REGION, page_number=page_number, page_size=_PAGE_SIZE
            )
            with product_call("GA ListListeners", _TRANSIENT_CODES):
                page = self._client(resource).list_listeners(request).body
            listeners.extend(page.listeners or [])
            if not page.listeners or len(listeners) >= (page.total_count or 0):
                return listeners
            page_number += 1


def _serves_https_on(listener: Any, port: int) -> bool:
    if (listener.protocol or "").lower() != _TLS_PROTOCOL:
        return False
    return any(
        (ports.from_port or 0) <= port <= (ports.to_port or ports.from_port or 0)
        for ports in listener.port_ranges or []
    )
