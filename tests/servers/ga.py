"""Global Accelerator (2019-11-20) test server: accelerator listeners and their default certificate, over the generic
OpenAPI server.

What the real service does that the deployer relies on, as the SDK's models and GA's reference describe it:
- Every call needs `RegionId` = cn-hangzhou (GA is managed from that region), else `InvalidRegionId`.
- `DescribeListener` answers `Certificates[].Id`/`Type`, `State`, `Protocol`, `PortRanges`, `AcceleratorId` and the
  other settings; an unknown listener is `NotExist.Listener`.
- `ListListeners` filters by `AcceleratorId` and pages with `PageNumber`/`PageSize`.
- `UpdateListener` changes the parameters it carries, except `XForwardedForConfig` and `ProxyProtocol`: an update
  without them sets them to their default, false (the reference gives "false (default)" for each, and
  terraform-provider-alicloud alicloud/resource_alicloud_ga_listener.go resends them on every update), so the GA-ID,
  GA-AP and X-Real-IP headers are dropped. The listener is "updating" until the change is applied (here: until it has
  been read once). A listener that is not active refuses it with `NotActive.Listener` (the code the provider retries
  there); an identifier that CAS does not know is `NotExist.Certificate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud

GA_REGION = "cn-hangzhou"
DESCRIBE_LISTENER = "DescribeListener"
UPDATE_LISTENER = "UpdateListener"
LIST_LISTENERS = "ListListeners"
FORWARDED_FOR_HEADERS = (
    "XForwardedForGaIdEnabled",
    "XForwardedForGaApEnabled",
    "XForwardedForProtoEnabled",
    "XForwardedForPortEnabled",
    "XRealIpEnabled",
)


@dataclass
class GaListener:
    accelerator_id: str
    port_ranges: tuple[tuple[int, int], ...]
    protocol: str = "https"
    certificate_id: str | None = None
    state: str = "active"
    name: str = "web"
    request_timeout: int = 60
    forwarded_for: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(FORWARDED_FOR_HEADERS, False))
    proxy_protocol: bool = False
    reads_until_settled: int = field(default=0, repr=False)


class GaCloud(ProductCloud):
    """In-memory listeners by id, and the CAS certificate identifiers GA can take."""

    def __init__(self) -> None:
        self.listeners: dict[str, GaListener] = {}
        self.cas_identifiers: set[str] = set()
        super().__init__(OpenApiServer(host_id="ga.cn-hangzhou.aliyuncs.com", version="2019-11-20"))
        self.api.rpc(DESCRIBE_LISTENER, self._describe)
        self.api.rpc(UPDATE_LISTENER, self._update)
        self.api.rpc(LIST_LISTENERS, self._list)

    def _listener(self, call: OpenApiCall) -> tuple[str, GaListener]:
        if call.require("RegionId") != GA_REGION:
            raise OpenApiError("InvalidRegionId", f"The RegionId must be {GA_REGION}.")
        listener_id = call.require("ListenerId")
        listener = self.listeners.get(listener_id)
        if listener is None:
            raise OpenApiError("NotExist.Listener", f"The listener {listener_id} does not exist.", 404)
        return listener_id, listener

    def _describe(self, call: OpenApiCall) -> dict[str, Any]:
        listener_id, listener = self._listener(call)
        answer = _describe(listener_id, listener)
        if listener.reads_until_settled > 0:
            listener.reads_until_settled -= 1
            if listener.reads_until_settled == 0:
                listener.state = "active"
        return answer

    def _update(self, call: OpenApiCall) -> dict[str, Any]:
        listener_id, listener = self._listener(call)
        if listener.state != "active":
            raise OpenApiError("NotActive.Listener", f"The state of listener {listener_id} is {listener.state}.")
        certificate_id = call.get("Certificates.1.Id")
        if certificate_id is not None:
            if certificate_id not in self.cas_identifiers:
                raise OpenApiError("NotExist.Certificate", f"The certificate {certificate_id} does not exist.", 404)
            listener.certificate_id = certificate_id
        if call.get("Name") is not None:
            listener.name = call.require("Name")
        listener.forwarded_for = {
            header: _true(call.get(f"XForwardedForConfig.{header}")) for header in FORWARDED_FOR_HEADERS
        }
        listener.proxy_protocol = _true(call.get("ProxyProtocol"))
        listener.state = "updating"
        listener.reads_until_settled = 1
        return {}

    def _list(self, call: OpenApiCall) -> dict[str, Any]:
        if call.require("RegionId") != GA_REGION:
            raise OpenApiError("InvalidRegionId", f"The RegionId must be {GA_REGION}.")
        accelerator_id = call.require("AcceleratorId")
        matching = [
            (listener_id, listener)
            for listener_id, listener in sorted(self.listeners.items())
            if listener.accelerator_id == accelerator_id
        ]
        number = int(call.get("PageNumber") or 1)
        size = int(call.get("PageSize") or 10)
        page = matching[(number - 1) * size : number * size]
        return {
            "Listeners": [_describe(listener_id, listener) for listener_id, listener in page],
            "PageNumber": number,
            "PageSize": size,
            "TotalCount": len(matching),
        }


def _describe(listener_id: str, listener: GaListener) -> dict[str, Any]:
    return {
        "ListenerId": listener_id,
        "AcceleratorId": listener.accelerator_id,
        "Protocol": listener.protocol,
        "State": listener.state,
        "Name": listener.name,
        "RequestTimeout": listener.request_timeout,
        "PortRanges": [{"FromPort": low, "ToPort": high} for low, high in listener.port_ranges],
        "Certificates": [{"Id": listener.certificate_id, "Type": "Server"}] if listener.certificate_id else [],
        "XForwardedForConfig": dict(listener.forwarded_for),
        "ProxyProtocol": listener.proxy_protocol,
    }


def _true(value: str | None) -> bool:
    return (value or "").lower() == "true"
