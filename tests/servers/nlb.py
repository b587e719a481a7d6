"""NLB (2022-04-30) test server: load balancer listeners and their server certificate, over the generic OpenAPI server.

What the real service does that the deployer relies on, as the SDK's models and NLB's reference describe it:
- `ListListeners` filters by `LoadBalancerIds.N`, pages with `MaxResults`/`NextToken`, and answers each listener's
  `CertificateIds`, `ListenerStatus`, `ListenerProtocol` (TCP, UDP, TCPSSL) and other settings.
- `UpdateListenerAttribute` (a form body) changes only the parameters it carries and answers a `JobId`; the listener
  is "Configuring" until the job ends (here: until it has been listed `settle_after_lists` times), then back in the
  state it had. A Running or Stopped listener takes it (both are steady states); one in another state refuses it with
  `IncorrectStatus.Listener`, and a load balancer being changed (`busy_load_balancers`) with
  `OperationFailed.ResourceIsConfiguring`; an unknown listener is `ResourceNotFound.Listener`; an identifier that CAS
  does not know is `ResourceNotFound.Certificate`.
Listener ids are kept as given, so a test can use either form NLB's reference shows (`lsn-…` or `lsn-…@443`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud, flat_list, next_token_page

UPDATE_LISTENER = "UpdateListenerAttribute"
LIST_LISTENERS = "ListListeners"
STEADY = frozenset({"Running", "Stopped"})


@dataclass
class NlbListener:
    load_balancer_id: str
    port: int
    protocol: str = "TCPSSL"
    certificate_ids: tuple[str, ...] = ()
    status: str = "Running"
    description: str = "tls"
    idle_timeout: int = 900
    security_policy_id: str = "tls_cipher_policy_1_0"
    lists_until_settled: int = field(default=0, repr=False)
    settles_to: str = field(default="Running", repr=False)


class NlbCloud(ProductCloud):
    """In-memory listeners by id, and the CAS certificate identifiers NLB can take."""

    def __init__(self, *, settle_after_lists: int = 1) -> None:
        self.settle_after_lists = settle_after_lists
        self.listeners: dict[str, NlbListener] = {}
        self.cas_identifiers: set[str] = set()
        self.busy_load_balancers: set[str] = set()
        super().__init__(OpenApiServer(host_id="nlb.cn-hangzhou.aliyuncs.com", version="2022-04-30"))
        self.api.rpc(UPDATE_LISTENER, self._update)
        self.api.rpc(LIST_LISTENERS, self._list)

    def _update(self, call: OpenApiCall) -> dict[str, Any]:
        listener_id = call.require("ListenerId")
        listener = self.listeners.get(listener_id)
        if listener is None:
            raise OpenApiError("ResourceNotFound.Listener", f"The specified resource {listener_id} is not found.", 404)
        if listener.status not in STEADY:
            raise OpenApiError(
                "IncorrectStatus.Listener", f"The status of listener {listener_id} is {listener.status}.", 400
            )
        if listener.load_balancer_id in self.busy_load_balancers:
            raise OpenApiError(
                "OperationFailed.ResourceIsConfiguring",
                f"The load balancer {listener.load_balancer_id} is being configured.",
            )
        certificate_ids = flat_list(call.parameters, "CertificateIds")
        if certificate_ids:
            unknown = [identifier for identifier in certificate_ids if identifier not in self.cas_identifiers]
            if unknown:
                raise OpenApiError(
                    "ResourceNotFound.Certificate", f"The specified certificate {unknown[0]} is not found.", 404
                )
            listener.certificate_ids = tuple(certificate_ids)
        if call.get("IdleTimeout") is not None:
            listener.idle_timeout = int(call.require("IdleTimeout"))
        listener.settles_to, listener.status = listener.status, "Configuring"
        listener.lists_until_settled = self.settle_after_lists
        return {"JobId": str(uuid.uuid4())}

    def _list(self, call: OpenApiCall) -> dict[str, Any]:
        wanted = set(flat_list(call.parameters, "LoadBalancerIds"))
        matching = [
            (listener_id, listener)
            for listener_id, listener in sorted(self.listeners.items())
            if not wanted or listener.load_balancer_id in wanted
        ]
        page, paging = next_token_page(call, matching)
        answer = {"Listeners": [_describe(listener_id, listener) for listener_id, listener in page], **paging}
        for _, listener in page:
            if listener.lists_until_settled > 0:
                listener.lists_until_settled -= 1
                if listener.lists_until_settled == 0:
                    listener.status = listener.settles_to
        return answer


def _describe(listener_id: str, listener: NlbListener) -> dict[str, Any]:
    return {
        "ListenerId": listener_id,
        "LoadBalancerId": listener.load_balancer_id,
        "ListenerPort": listener.port,
        "ListenerProtocol": listener.protocol,
        "ListenerStatus": listener.status,
        "ListenerDescription": listener.description,
        "IdleTimeout": listener.idle_timeout,
        "SecurityPolicyId": listener.security_policy_id,
        "CertificateIds": list(listener.certificate_ids),
    }
