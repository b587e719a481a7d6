"""Certificate resource plans ("packages"), the certificate orders made from them, the console's notice switches and
the asset counts: actions the SDK offers around deployment. certdeploy sells no plan and issues no certificate from
one, so each answers as CAS does for an account that bought none; the asset counts are the account's own. Each
decision is listed in the README ("CAS actions beyond deployment jobs") and docs/protocol.md#certificate-packages."""

from __future__ import annotations

from certdeploy.api.actions_common import ActionContext, paging
from certdeploy.api.errors import missing_parameter
from certdeploy.api.replies import Empty
from certdeploy.api.replies.packages import AssetCount, AssetCountDay, AssetCountPage, CertificatePackageCount
from certdeploy.api.rpc import RpcParameters
from certdeploy.app.resources import count_assets
from certdeploy.domain.errors import NotFound, QuotaExceeded, Thing
from certdeploy.domain.models import CertOrigin

DEFAULT_SHOW_SIZE = 20


def get_certificate_package_count(ctx: ActionContext, params: RpcParameters) -> CertificatePackageCount:
    return CertificatePackageCount()


def apply_from_package(ctx: ActionContext, params: RpcParameters) -> Empty:
    """CreateCertificateForPackageRequest, CreateCertificateRequest, CreateCertificateWithCsrRequest: an application
    spends a plan's quota, and an account here has none."""
    raise QuotaExceeded(
        "No certificate resource plan is left to apply from: certdeploy sells none. Upload the certificate "
        "(UploadUserCertificate) or issue one with the admin CLI instead."
    )


def order_not_found(ctx: ActionContext, params: RpcParameters) -> Empty:
    """DescribeCertificateState, CancelCertificateForPackageRequest, RenewCertificateOrderForPackageRequest,
    CancelOrderRequest, DeleteCertificateRequest: there is no application order to read or change."""
    raise NotFound.of(Thing.ORDER, params.integer("OrderId"))


def batch_update_notice_status(ctx: ActionContext, params: RpcParameters) -> Empty:
    """The console's per-notice switches have no counterpart: job notices go to the job's contacts. `Ids` is a list
    the SDK sends as `Ids.1`, `Ids.2`, … (or one `Ids` text)."""
    keys = sorted(name for name in params.names() if name == "Ids" or name.startswith("Ids."))
    if not keys:
        raise missing_parameter("Ids")
    raise NotFound.of(Thing.NOTICE, ", ".join(params.text(key) for key in keys))


def get_asset_count(ctx: ActionContext, params: RpcParameters) -> AssetCount:
    counts = count_assets(ctx.deps, ctx.account_id)
    return AssetCount(
        aliyun_asset_count=counts.resources,
        domain_asset_count=counts.domains,
        upload_certificate_count=counts.certificates[CertOrigin.UPLOAD],
        buy_certificate_count=counts.certificates[CertOrigin.BUY],
        free_certificate_count=counts.certificates[CertOrigin.FREE],
    )


def list_asset_count(ctx: ActionContext, params: RpcParameters) -> AssetCountPage:
    """No daily history is kept: one entry, the counts now (`StartDate`/`EndDate` are accepted and not used)."""
    page, size = paging(params, DEFAULT_SHOW_SIZE)
    counts = count_assets(ctx.deps, ctx.account_id)
    today = AssetCountDay(
        count_date=int(ctx.deps.clock.now().timestamp() * 1000),
        aliyun_asset_count=counts.resources,
        certificate_count=sum(counts.certificates.values()),
        domain_asset_count=counts.domains,
    )
    return AssetCountPage(
        total_count=1, current_page=page, show_size=size, asset_count_list=[today] if page == 1 else []
    )
