"""What every action handler shares: its context, typed reads beyond `RpcParameters`, and the wire values of times
and the objects several actions return (CloudResource, docs/protocol.md#actions). The reply shapes themselves are
declared in `certdeploy.api.replies`.

Wire quirks reproduced here (docs/protocol.md#wire-quirks): times of Job, Worker and CloudResource are Unix
milliseconds as strings; listener fields appear only for listener products. A value we do not have is left out,
never invented.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from certdeploy.api.errors import invalid_parameter
from certdeploy.api.replies import WireModel
from certdeploy.api.replies.resources import CloudResource, ResourceTag
from certdeploy.api.rpc import RpcParameters
from certdeploy.api.throttle import RateLimiter
from certdeploy.app.contacts import WebhookCheck
from certdeploy.app.deps import Deps
from certdeploy.domain.models import LISTENER_PRODUCTS, Certificate, Job, Product, Resource
from certdeploy.domain.text_enum import TextEnum

_Model = TypeVar("_Model", bound=BaseModel)
_Enum = TypeVar("_Enum", bound=TextEnum)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_SHOW_SIZE = 1000
# Far beyond any real listing and small enough that (page - 1) * size stays a 64-bit SQL offset.
MAX_CURRENT_PAGE = 10_000_000
CLOUD_NAME = "aliyun"
# The one region CAS's certificate identifier names (`CertIdentifier`, docs/protocol.md#wire-quirks).
CERT_REGION = "cn-hangzhou"
# Product codes as other CAS documents spell them (docs/protocol.md#product-codes: `DDoS` in the ListCloudResources
# doc).
_PRODUCT_ALIASES = {product.value.lower(): product for product in Product}


@dataclass(frozen=True)
class ApiDeps:
    """What the API needs besides the use cases' ports: how a contact's webhook URL is checked (the webhook notifier's
    rule, handed in by the composition root so the API never reaches into an adapter), and the per-account rate limit
    (`certdeploy.api.throttle`; none: unlimited)."""

    deps: Deps
    webhook_check: WebhookCheck
    rate_limit: RateLimiter | None = None


@dataclass(frozen=True)
class ActionContext:
    """One authenticated call: whose it is and what the use cases need."""

    api: ApiDeps
    account_id: int
    request_id: str

    @property
    def deps(self) -> Deps:
        return self.api.deps

    def now(self) -> datetime:
        return self.deps.clock.now()


Handler = Callable[[ActionContext, RpcParameters], WireModel]


# ---------------------------------------------------------------------------------------------------- reading


def parse_choice(enum: type[_Enum], name: str, value: str) -> _Enum:
    """A value of `enum`, exactly as the wire spells it."""
    try:
        return enum(value)
    except ValueError as error:
        allowed = ", ".join(member.value for member in enum)
        raise invalid_parameter(name, f"{value!r} is not one of {allowed}") from error


def parse_product(name: str, value: str) -> Product:
    """A `CloudProduct` code, case-insensitively (`DDOS` and `DDoS` both name Anti-DDoS)."""
    product = _PRODUCT_ALIASES.get(value.lower())
    if product is None:
        raise invalid_parameter(name, f"{value!r} is not one of {', '.join(p.value for p in Product)}")
    return product


def schedule_time(params: RpcParameters, name: str = "ScheduleTime") -> datetime | None:
    """Unix time in milliseconds (13 digits, as the CAS examples) or seconds (10 digits)."""
    value = params.optional_integer(name)
    if value is None:
        return None
    digits = len(str(value))
    if value < 0 or digits not in (10, 13):
        raise invalid_parameter(name, f"{value} is neither Unix milliseconds (13 digits) nor seconds (10 digits)")
    return EPOCH + (timedelta(milliseconds=value) if digits == 13 else timedelta(seconds=value))


def paging(params: RpcParameters, default_size: int, max_size: int = MAX_SHOW_SIZE) -> tuple[int, int]:
    """`CurrentPage` (from 1) and `ShowSize` (1 to `max_size`)."""
    page = params.optional_integer("CurrentPage")
    size = params.optional_integer("ShowSize")
    page = 1 if page is None else page
    size = default_size if size is None else size
    if not 1 <= page <= MAX_CURRENT_PAGE:
        raise invalid_parameter("CurrentPage", f"it must be from 1 to {MAX_CURRENT_PAGE}, not {page}")
    if not 1 <= size <= max_size:
        raise invalid_parameter("ShowSize", f"it must be from 1 to {max_size}, not {size}")
    return page, size


def page_slice(items: Sequence[Any], page: int, size: int) -> list[Any]:
    start = (page - 1) * size
    return list(items[start : start + size])


def build(model: type[_Model], parameter_of: Mapping[str, str], **values: Any) -> _Model:
    """Validate a use-case input model; its first complaint becomes `InvalidParameter.<Parameter>`."""
    try:
        return model(**values)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        raise invalid_parameter(parameter_of.get(field, field or "Request"), first["msg"]) from error


# ---------------------------------------------------------------------------------------------------- writing


def millis(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def millis_text(moment: datetime | None) -> str | None:
    """A Job/Worker/CloudResource time: Unix milliseconds as a string."""
    return None if moment is None else str(millis(moment))


def day(moment: datetime) -> str:
    """`StartDate`/`EndDate`: `YYYY-MM-DD` (UTC)."""
    return moment.strftime("%Y-%m-%d")


def cert_instance_id(cert: Certificate) -> str:
    """The certificate's `InstanceId` / UploadUserCertificate `ResourceId`, e.g. `cas-upload-12`."""
    return f"cas-{cert.origin}-{cert.id}"


def job_instance_id(job: Job) -> str:
    """A job's `InstanceId`, shaped like CAS's `cas-job-user-0gvntn`."""
    return f"cas-job-{job.job_type}-{job.id}"


def certificates_by_id(ctx: ActionContext, cert_ids: Iterable[int]) -> dict[int, Certificate]:
    ids = {cert_id for cert_id in cert_ids}
    return {cert.id: cert for cert in ctx.deps.store.certificates.get_many(ctx.account_id, ids)} if ids else {}


@dataclass(frozen=True)
class Listener:
    """InstanceId, ListenerId and Port, given only for listener products (docs/protocol.md#wire-quirks); callers add
    `DefaultResource` alongside, always set: what we deploy on a listener is its default certificate."""

    instance_id: str
    listener_id: str | None
    port: int | None


def listener_of(resource: Resource) -> Listener | None:
    if resource.product not in LISTENER_PRODUCTS:
        return None
    return Listener(resource.instance_id, resource.listener_id, resource.port)


def cloud_resource(resource: Resource, ours: Mapping[int, Certificate], remark: str | None = None) -> CloudResource:
    """A CloudResource (ListCloudResources, ListDeploymentJobResource, GetMatchedResources)."""
    listener = listener_of(resource)
    bound = ours.get(resource.bound_cert_id) if resource.bound_cert_id is not None else None
    return CloudResource(
        id=resource.id,
        user_id=resource.account_id,
        cloud_name=CLOUD_NAME,
        cloud_product=str(resource.product),
        region_id=resource.region,
        cloud_region=resource.region,
        domain=resource.domain,
        instance_id=listener.instance_id if listener else None,
        listener_id=listener.listener_id if listener else None,
        listener_port=str(listener.port) if listener and listener.port is not None else None,
        default_resource=1 if listener else None,
        enable_https=1 if resource.https_enabled else 0,
        cert_id=bound.id if bound is not None else None,
        cert_name=resource.bound_cert_name or (bound.name if bound is not None else ""),
        cert_start_time=millis_text(bound.not_before) if bound is not None else None,
        cert_end_time=millis_text(bound.not_after) if bound is not None else None,
        status="offline" if resource.gone else "online",
        tags=[ResourceTag(key=key, value=value) for key, value in resource.tags] or None,
        gmt_create=millis_text(resource.created_at),
        gmt_modified=millis_text(resource.modified_at),
        remark=remark,
    )


def cloud_resources(
    ctx: ActionContext, resources: Collection[Resource], remark: Callable[[Resource], str] | None = None
) -> list[CloudResource]:
    ours = certificates_by_id(ctx, (r.bound_cert_id for r in resources if r.bound_cert_id is not None))
    return [cloud_resource(r, ours, remark(r) if remark is not None else None) for r in resources]
