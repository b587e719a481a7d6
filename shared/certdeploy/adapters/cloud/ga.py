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
- bind / restore: `UpdateListener` with `ListenerId`, `RegionId` and `Certificates.1.Id` = the CAS identifier
  (`<cas id>-cn-hangzhou`) and nothing else, so ports, protocol, timeouts and the rest stay as they are. GA applies
  it in the background; accepted counts as done (see `cas_bound`).
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


class GaDeployer(CasBoundDeployer["Client", str]):
    """The `Deployer` of GA listeners; the state's target is the listener id."""

    product_name = "GA"

    def _client_for(self, region: str) -> Client:
        from alibabacloud_ga20191120.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _client(self, resource: Resource) -> Client:
        return self._clients.for_region(GA_REGION)

    def _read(self, resource: Resource) -> BoundState[str]:
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
        return BoundState(target=listener_id, identifier=default.id if default else None, busy=busy)

    def _write(self, resource: Resource, state: BoundState[str], identifier: str) -> None:
        from alibabacloud_ga20191120 import models

        request = models.UpdateListenerRequest(
            listener_id=state.target,
            region_id=GA_REGION,
            certificates=[models.UpdateListenerRequestCertificates(id=identifier)],
        )
        with product_call("GA UpdateListener"):
            self._client(resource).update_listener(request)

    def _describe(self, resource: Resource) -> Any:
        from alibabacloud_ga20191120 import models

        listener_id = listener_id_of(resource)
        if listener_id is not None:
            request = models.DescribeListenerRequest(listener_id=listener_id, region_id=GA_REGION)
            with product_call("GA DescribeListener"):
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
            with product_call("GA ListListeners"):
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
