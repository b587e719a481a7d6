"""ALB (2020-06-16) test server: load balancer listeners and their default certificate, over the generic OpenAPI server.

What the real service does that the deployer relies on, as the SDK's models and ALB's reference describe it:
- `GetListenerAttribute` answers the listener with `Certificates[].CertificateId` (the default certificate),
  `ListenerStatus`, `ListenerProtocol`, `LoadBalancerId` and the other settings; an unknown id is
  404 `ResourceNotFound.Listener`.
- `UpdateListenerAttribute` changes only the parameters it carries and answers a `JobId`; the listener is
  "Configuring" until the job ends (here: until it has been read `settle_after_reads` times), then back in the state
  it had. A Running or Stopped listener takes it (both are steady states); one being created or configured refuses it
  with `IncorrectStatus.Listener`, and a load balancer being changed (`busy_load_balancers`) with
  `IncorrectBusinessStatus.LoadBalancer`; an identifier that CAS does not know is `ResourceNotFound.Certificate`.
- `ListListeners` filters by `LoadBalancerIds.N` and pages with `MaxResults`/`NextToken`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud, flat_list, next_token_page

GET_LISTENER = "GetListenerAttribute"
UPDATE_LISTENER = "UpdateListenerAttribute"
LIST_LISTENERS = "ListListeners"
STEADY = frozenset({"Running", "Stopped"})


@dataclass
class AlbListener:
    load_balancer_id: str
    port: int
    protocol: str = "HTTPS"
    certificate_id: str | None = None
    status: str = "Running"
    description: str = "web"
    idle_timeout: int = 15
    http2_enabled: bool = True
    security_policy_id: str = "tls_cipher_policy_1_2"
    reads_until_settled: int = field(default=0, repr=False)
    settles_to: str = field(default="Running", repr=False)


class AlbCloud(ProductCloud):
    """In-memory listeners by id, and the CAS certificate identifiers ALB can take."""

    def __init__(self, *, security_token: str | None = None, settle_after_reads: int = 1) -> None:
        self.listeners: dict[str, AlbListener] = {}
        self.cas_identifiers: set[str] = set()
        self.busy_load_balancers: set[str] = set()
        self.settle_after_reads = settle_after_reads
        super().__init__(OpenApiServer(host_id="alb.aliyuncs.com", version="2020-06-16", security_token=security_token))
        self.api.rpc(GET_LISTENER, self._get)
        self.api.rpc(UPDATE_LISTENER, self._update)
        self.api.rpc(LIST_LISTENERS, self._list)

    def _listener(self, call: OpenApiCall) -> tuple[str, AlbListener]:
        listener_id = call.require("ListenerId")
        listener = self.listeners.get(listener_id)
        if listener is None:
            raise OpenApiError("ResourceNotFound.Listener", f"The specified resource {listener_id} is not found.", 404)
        return listener_id, listener

    def _get(self, call: OpenApiCall) -> dict[str, Any]:
        listener_id, listener = self._listener(call)
        answer = _describe(listener_id, listener)
        if listener.reads_until_settled > 0:
            listener.reads_until_settled -= 1
            if listener.reads_until_settled == 0:
                listener.status = listener.settles_to
        return answer

    def _update(self, call: OpenApiCall) -> dict[str, Any]:
        listener_id, listener = self._listener(call)
        if listener.status not in STEADY:
            raise OpenApiError(
                "IncorrectStatus.Listener", f"The status of listener {listener_id} is {listener.status}.", 400
            )
        if listener.load_balancer_id in self.busy_load_balancers:
            raise OpenApiError(
                "IncorrectBusinessStatus.LoadBalancer",
                f"The business status of load balancer {listener.load_balancer_id} does not allow this operation.",
            )
        certificate_id = call.get("Certificates.1.CertificateId")
        if certificate_id is not None:
            if certificate_id not in self.cas_identifiers:
                raise OpenApiError(
                    "ResourceNotFound.Certificate", f"The specified certificate {certificate_id} is not found.", 404
                )
            listener.certificate_id = certificate_id
        if call.get("ListenerDescription") is not None:
            listener.description = call.require("ListenerDescription")
        if call.get("IdleTimeout") is not None:
            listener.idle_timeout = int(call.require("IdleTimeout"))
        listener.settles_to, listener.status = listener.status, "Configuring"
        listener.reads_until_settled = self.settle_after_reads
        return {"JobId": str(uuid.uuid4())}

    def _list(self, call: OpenApiCall) -> dict[str, Any]:
        wanted = set(flat_list(call.parameters, "LoadBalancerIds"))
        matching = [
            (listener_id, listener)
            for listener_id, listener in sorted(self.listeners.items())
            if not wanted or listener.load_balancer_id in wanted
        ]
        page, paging = next_token_page(call, matching)
        return {
            "Listeners": [_describe(listener_id, listener, certificates=False) for listener_id, listener in page],
            **paging,
        }


def _describe(listener_id: str, listener: AlbListener, *, certificates: bool = True) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "ListenerId": listener_id,
        "LoadBalancerId": listener.load_balancer_id,
        "ListenerPort": listener.port,
        "ListenerProtocol": listener.protocol,
        "ListenerStatus": listener.status,
        "ListenerDescription": listener.description,
        "IdleTimeout": listener.idle_timeout,
        "Http2Enabled": listener.http2_enabled,
        "SecurityPolicyId": listener.security_policy_id,
    }
    if certificates:
        answer["Certificates"] = [{"CertificateId": listener.certificate_id}] if listener.certificate_id else []
    return answer
