"""Certificates and resources as Certificate Management Service (CAS 2020-04-07) knows them, read with
`alibabacloud-cas20200407` for the account whose credentials it is given, in the CAS region of the account's site
(`ApiTarget.cas_region`: cn-hangzhou on the China site, ap-southeast-1 on the international site).

- `list_certificates()`: official and uploaded certificates, `ListUserCertificateOrder` with `OrderType=CERT` (issued
  and uploaded certificates; no `Status` means the valid ones), every page. Validity: `CertStartTime`/`CertEndTime`
  (milliseconds) when CAS gives them, else the `StartDate`/`EndDate` days whole (see `_CAS_DAY_ZONE`).
- `certificate(cas_cert_id)`: content and key from `GetUserCertificateDetail`, fetched only when a deploy needs it and
  then cached with the names `parse_certificate` reads from it. SM certificates come as `SignCert`/`SignPrivateKey`
  when `Cert`/`Key` are empty.
- `discover(account_id)`: the `Inventory` port. `ListCloudResources` with `CloudName=aliyun`, every page, kept when
  `CloudProduct` is one of the twelve products (case-insensitively: the SDK says `DDOS`, a doc `DDoS`,
  docs/protocol.md#product-codes).
  The source is one account's credentials, so `account_id` only labels the call. `bound_cas_cert_id`/`bound_cert_name`
  are CAS's `CertId`/`CertName` of what the resource serves (the resource sync maps the CAS id to ours).

Failures are `TransientDeployFailure` / `PermanentDeployFailure` with CAS's code and message (`common.sdk_errors`).
Fields and paging: docs/protocol.md#actions and the SDK models.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from threading import Lock
from typing import Any

from pydantic import SecretStr

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, sdk_errors, tea_config
from certdeploy.domain.certificates import parse_certificate
from certdeploy.domain.deployment import PermanentDeployFailure
from certdeploy.domain.errors import InvalidPem
from certdeploy.domain.models import CertAlgorithm, Product
from certdeploy.ports.cloud import SourceCertificate, SourceCertificateContent
from certdeploy.ports.store.resources import ResourceSpec

CERTIFICATE_PAGE_SIZE = 50  # ListUserCertificateOrder's default ShowSize
RESOURCE_PAGE_SIZE = 50
_PRODUCTS_BY_CODE = {product.value.lower(): product for product in Product}
_ALGORITHMS = {algorithm.value: algorithm for algorithm in CertAlgorithm}
# CAS states a certificate's validity as dates (`StartDate`/`EndDate`, YYYY-MM-DD) in China Standard Time, the
# console's zone; without the exact times (`CertStartTime`/`CertEndTime`) a certificate counts as valid through the
# whole of both days. The exact facts replace these once the content is fetched.
_CAS_DAY_ZONE = timezone(timedelta(hours=8))


class CasSource:
    """CAS as the source of official/uploaded certificates and of the account's cloud resources."""

    def __init__(
        self,
        credentials: CloudCredentials,
        target: ApiTarget | None = None,
        *,
        certificate_page_size: int = CERTIFICATE_PAGE_SIZE,
        resource_page_size: int = RESOURCE_PAGE_SIZE,
    ) -> None:
        self._credentials = credentials
        self._target = target or ApiTarget()
        self._certificate_page_size = certificate_page_size
        self._resource_page_size = resource_page_size
        self._client: Any = None
        self._contents: dict[int, SourceCertificateContent] = {}
        self._lock = Lock()

    def list_certificates(self) -> list[SourceCertificate]:
        from alibabacloud_cas20200407 import models

        found: list[SourceCertificate] = []
        page = 1
        while True:
            request = models.ListUserCertificateOrderRequest(
                order_type="CERT", current_page=page, show_size=self._certificate_page_size
            )
            with sdk_errors("listing CAS certificates"):
                body = self._sdk().list_user_certificate_order(request).body
            rows = body.certificate_order_list or []
            found.extend(_summary(row) for row in rows if row.certificate_id is not None)
            if not rows or page * self._certificate_page_size >= (body.total_count or 0):
                return found
            page += 1

    def certificate(self, cas_cert_id: int) -> SourceCertificateContent:
        """The certificate's content, fetched once per process and then served from the cache."""
        with self._lock:
            cached = self._contents.get(cas_cert_id)
        if cached is not None:
            return cached
        from alibabacloud_cas20200407 import models

        with sdk_errors(f"reading CAS certificate {cas_cert_id}"):
            detail = (
                self._sdk()
                .get_user_certificate_detail(models.GetUserCertificateDetailRequest(cert_id=cas_cert_id))
                .body
            )
        content = _content(cas_cert_id, detail)
        with self._lock:
            self._contents[cas_cert_id] = content
        return content

    def discover(self, account_id: int) -> Iterator[ResourceSpec]:
        """A page of `ListCloudResources` at a time, as the sync consumes them."""
        from alibabacloud_cas20200407 import models

        page = 1
        while True:
            request = models.ListCloudResourcesRequest(
                cloud_name="aliyun", current_page=page, show_size=self._resource_page_size
            )
            with sdk_errors(f"listing the cloud resources of account {account_id}"):
                body = self._sdk().list_cloud_resources(request).body
            rows = body.data or []
            yield from (spec for spec in (_resource(row) for row in rows) if spec is not None)
            if not rows or page * self._resource_page_size >= (body.total or 0):
                return
            page += 1

    def _sdk(self) -> Any:
        with self._lock:
            if self._client is None:
                from alibabacloud_cas20200407.client import Client

                self._client = Client(tea_config(self._credentials, self._target.cas_region, self._target))
            return self._client


def _summary(row: Any) -> SourceCertificate:
    return SourceCertificate(
        cas_cert_id=int(row.certificate_id),
        name=row.name or str(row.certificate_id),
        common_name=row.common_name or None,
        sans=tuple(name.strip() for name in (row.sans or "").split(",") if name.strip()),
        not_before=_moment(row.cert_start_time) or _day(row.start_date, time.min),
        not_after=_moment(row.cert_end_time) or _day(row.end_date, time.max),
        uploaded=bool(row.upload),
        expired=bool(row.expired),
        free=(row.cert_type or "").upper() == "FREE",
        issuer=row.issuer or None,
        serial=(row.serial_no or "").lower() or None,
        fingerprint_sha256=(row.sha_2 or "").lower() or None,
        algorithm=_ALGORITHMS.get((row.algorithm or "").upper()),
    )


def _moment(milliseconds: Any) -> datetime | None:
    if not isinstance(milliseconds, int) or milliseconds <= 0:
        return None
    return datetime.fromtimestamp(milliseconds / 1000, timezone.utc)


def _day(text: str | None, at: time) -> datetime | None:
    try:
        day = date.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return datetime.combine(day, at, _CAS_DAY_ZONE).astimezone(timezone.utc)


def _content(cas_cert_id: int, detail: Any) -> SourceCertificateContent:
    cert_pem = detail.cert or detail.sign_cert
    key_pem = detail.key or detail.sign_private_key
    if not cert_pem:
        raise PermanentDeployFailure(
            "CertificateContentMissing", f"CAS returned no certificate content for certificate {cas_cert_id}."
        )
    try:
        info = parse_certificate(cert_pem)
    except InvalidPem as error:
        raise PermanentDeployFailure(
            "InvalidCertificate", f"CAS certificate {cas_cert_id} cannot be read: {error}"
        ) from None
    return SourceCertificateContent(
        cas_cert_id=cas_cert_id,
        name=detail.name or str(cas_cert_id),
        cert_pem=cert_pem,
        key_pem=SecretStr(key_pem) if key_pem else None,
        info=info,
        identifier=detail.cert_identifier or None,
    )


def _resource(row: Any) -> ResourceSpec | None:
    product = _PRODUCTS_BY_CODE.get((row.cloud_product or "").lower())
    if product is None or not row.domain:
        return None
    port = str(row.listener_port or "").strip()
    return ResourceSpec(
        product=product,
        region=row.region_id or row.cloud_region or "",
        instance_id=row.instance_id or row.domain,
        domain=row.domain,
        port=int(port) if port.isdigit() and 1 <= int(port) <= 65535 else None,
        listener_id=row.listener_id or None,
        https_enabled=row.enable_https == 1,
        bound_cert_name=row.cert_name or None,
        bound_cas_cert_id=row.cert_id or None,
    )
