"""CAS (2020-04-07) as a certificate and resource source: ListUserCertificateOrder, GetUserCertificateDetail and
ListCloudResources with CAS's paging (`CurrentPage`/`ShowSize`, totals `TotalCount`/`Total`), over the generic
OpenAPI server. Rows are kept as the wire dicts the SDK models read (docs/protocol.md#actions)."""

from __future__ import annotations

from typing import Any

from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud


class CasCloud(ProductCloud):
    """`certificates`: ListUserCertificateOrder rows; `details`: CertId -> GetUserCertificateDetail body (its
    `CertIdentifier` is `<id>-<cas_region>` unless the body gives one); `resources`: ListCloudResources rows;
    `cas_region`: where the account's site keeps its certificates (cn-hangzhou, or ap-southeast-1 internationally)."""

    def __init__(self, *, cas_region: str = "cn-hangzhou") -> None:
        self.cas_region = cas_region
        self.certificates: list[dict[str, Any]] = []
        self.details: dict[int, dict[str, Any]] = {}
        self.resources: list[dict[str, Any]] = []
        super().__init__(OpenApiServer(host_id="cas.aliyuncs.com", version="2020-04-07"))
        self.api.rpc("ListUserCertificateOrder", self._list_certificates)
        self.api.rpc("GetUserCertificateDetail", self._detail)
        self.api.rpc("ListCloudResources", self._list_resources)

    def _list_certificates(self, call: OpenApiCall) -> dict[str, Any]:
        if call.get("OrderType") != "CERT":
            raise OpenApiError("InvalidParameter.OrderType", "This test server lists certificates (CERT) only.")
        page, size = _paging(call, default_size=50)
        return {
            "TotalCount": len(self.certificates),
            "CurrentPage": page,
            "ShowSize": size,
            "CertificateOrderList": self.certificates[(page - 1) * size : page * size],
        }

    def _detail(self, call: OpenApiCall) -> dict[str, Any]:
        cert_id = int(call.require("CertId"))
        detail = self.details.get(cert_id)
        if detail is None:
            raise OpenApiError("NotFound", f"The certificate {cert_id} does not exist.", 404)
        return {"Id": cert_id, "CertIdentifier": f"{cert_id}-{self.cas_region}", **detail}

    def _list_resources(self, call: OpenApiCall) -> dict[str, Any]:
        page, size = _paging(call, default_size=20)
        rows = [row for row in self.resources if row.get("CloudName") == (call.get("CloudName") or row["CloudName"])]
        return {
            "Total": len(rows),
            "CurrentPage": page,
            "ShowSize": size,
            "Data": rows[(page - 1) * size : page * size],
        }


def _paging(call: OpenApiCall, *, default_size: int) -> tuple[int, int]:
    page, size = int(call.get("CurrentPage") or 1), int(call.get("ShowSize") or default_size)
    if page < 1 or not 1 <= size <= 100:
        raise OpenApiError("InvalidParameter", "CurrentPage must be at least 1 and ShowSize 1–100.")
    return page, size
