"""Replies of the certificate-package and asset-count actions (README, "CAS actions beyond deployment jobs")."""

from __future__ import annotations

from certdeploy.api.replies import WireModel

# CAS writes these quota details as Java map text, not JSON (the GetCertificatePackageCount example in
# help.aliyun.com/zh/ssl-certificate/developer-reference/api-cas-2020-04-07-getcertificatepackagecount): all zero
# here, where no plan is sold.
NO_DOMAIN_QUOTA = "{TotalCount=0, RemainCount=0, FreeQuota=0, UsedCount=0}"
NO_NOTICE_QUOTA = "{TotalCount=0, RemainCount=0, UsedCount=0}"
NO_PROXY_QUOTA = "{TotalCount=0, RemainCount=0, AutoPay=0, AutoPayCount=0, UsedCount=0}"
NO_TRUSTEE_QUOTA = "{TotalCount=0, ValidCount=0, RemainCount=0, UsedCount=0}"


class CertificatePackageCount(WireModel):
    """GetCertificatePackageCount for an account that bought no certificate resource plan."""

    product_count_list: str = "[]"
    total_count_detail: str = NO_DOMAIN_QUOTA
    notice_count_detail: str = NO_NOTICE_QUOTA
    proxy_count_detail: str = NO_PROXY_QUOTA
    trustee_count_detail: str = NO_TRUSTEE_QUOTA


class AssetCount(WireModel):
    """GetAssetCount: the account's resources and certificates now. The health score (`Point`, …) is not computed
    here and is left out; other clouds' resources are never managed, so their counts are 0."""

    aliyun_asset_count: int
    domain_asset_count: int
    upload_certificate_count: int
    buy_certificate_count: int
    free_certificate_count: int
    aws_asset_count: int = 0
    huawei_asset_count: int = 0
    tencent_asset_count: int = 0


class AssetCountDay(WireModel):
    """One entry of ListAssetCount: the counts on `CountDate` (Unix milliseconds)."""

    count_date: int
    aliyun_asset_count: int
    certificate_count: int
    domain_asset_count: int
    multi_cloud_asset_count: int = 0


class AssetCountPage(WireModel):
    """ListAssetCount."""

    total_count: int
    current_page: int
    show_size: int
    asset_count_list: list[AssetCountDay]
