"""Certificate replies: UploadUserCertificate, ListUserCertificateOrder, GetUserCertificateDetail."""

from __future__ import annotations

from certdeploy.api.replies import WireModel


class CertificateUploaded(WireModel):
    """UploadUserCertificate: `ResourceId` is the certificate's InstanceId (`cas-upload-12`)."""

    cert_id: int
    resource_id: str


class SubjectFields(WireModel):
    """The subject's organisation and place, when the certificate names them."""

    org_name: str | None = None
    country: str | None = None
    province: str | None = None
    city: str | None = None


class CertificateOrder(SubjectFields):
    """One entry of ListUserCertificateOrder's `CertificateOrderList`; dates are `YYYY-MM-DD`."""

    certificate_id: int
    name: str
    common_name: str
    sans: str
    issuer: str
    fingerprint: str
    serial_no: str
    sha2: str
    resource_group_id: str = ""
    start_date: str
    end_date: str
    expired: bool
    upload: bool
    instance_id: str


class CertificateOrderPage(WireModel):
    """ListUserCertificateOrder."""

    total_count: int
    current_page: int
    show_size: int
    certificate_order_list: list[CertificateOrder]


class ChainMember(WireModel):
    """One certificate of the chain; `NotBefore`/`NotAfter` are Unix milliseconds as ints."""

    common_name: str
    issuer_common_name: str
    not_before: int
    not_after: int
    remain_day: int


class Tag(WireModel):
    tag_key: str
    tag_value: str


class PemFields(WireModel):
    """The PEM texts: `Cert`/`Key`, or for SM2 `SignCert`/`SignPrivateKey` and the encryption pair."""

    cert: str | None = None
    key: str | None = None
    sign_cert: str | None = None
    sign_private_key: str | None = None
    encrypt_cert: str | None = None
    encrypt_private_key: str | None = None


class CertificateDetail(SubjectFields, PemFields):
    """GetUserCertificateDetail: `NotBefore`/`NotAfter` are Unix milliseconds as ints, dates `YYYY-MM-DD`."""

    id: int
    name: str
    common: str
    sans: str
    algorithm: str
    issuer: str
    fingerprint: str
    serial_no: str
    sha2: str
    cert_sha2: str
    instance_id: str
    resource_group_id: str = ""
    start_date: str
    end_date: str
    not_before: int
    not_after: int
    expired: bool
    buy_in_aliyun: bool
    cert_identifier: str
    cert_chain: list[ChainMember]
    tags: list[Tag]
