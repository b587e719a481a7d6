"""Certificate actions: UploadUserCertificate, ListUserCertificateOrder, GetUserCertificateDetail,
DeleteUserCertificate (docs/protocol.md#certificates).

Decisions:
- Tags (at most 20, keys 1–128 characters and unique, values up to 128) are kept as given, in their order, and
  answered by GetUserCertificateDetail as `Tags` [{TagKey, TagValue}]. ListUserCertificateOrder has no tag field and
  no tag filter in CAS (docs/protocol.md#certificates), so it shows none and filters by none.
- `ClientToken` and `ResourceGroupId` are accepted and not used: a repeated upload is already refused by the unique
  name (`NameAlreadyExist`), and there are no resource groups here.
- Quota orders (OrderType `CPACK`, the default, and `BUY`) do not exist here: they list nothing.
- Certificate states: `EXPIRED` past NotAfter, `WILLEXPIRED` within 30 days of it, `ISSUED` otherwise; no Status
  means the valid ones (`ISSUED` and `WILLEXPIRED`), as CAS does; the order states (`PAYED`, `CHECKING`, …) match
  nothing.
- SM2 certificates answer their PEM as `SignCert`/`SignPrivateKey`, and, when uploaded with one, their encryption
  pair as `EncryptCert`/`EncryptPrivateKey` (its key encrypted at rest like the signing key, shown only to the owner).
- A certificate mirrored from CAS (cloud backend) is listed and described from the facts CAS lists; its PEM fields
  are absent until a deployment has fetched its content (content is read from CAS only when a deploy needs it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from certdeploy.api.actions_common import (
    CERT_REGION,
    ActionContext,
    build,
    cert_instance_id,
    day,
    millis,
    page_slice,
    paging,
)
from certdeploy.api.errors import invalid_parameter
from certdeploy.api.replies import Empty
from certdeploy.api.replies.certificates import (
    CertificateDetail,
    CertificateOrder,
    CertificateOrderPage,
    CertificateUploaded,
    ChainMember,
    PemFields,
    SubjectFields,
    Tag,
)
from certdeploy.api.rpc import RpcParameters
from certdeploy.app.certificates import CertificateUpload, delete_certificate, upload_certificate
from certdeploy.domain.models import (
    MAX_CERTIFICATE_TAGS,
    MAX_TAG_LENGTH,
    CertAlgorithm,
    Certificate,
    CertificateTag,
    CertOrigin,
)
from certdeploy.domain.text_enum import TextEnum

DEFAULT_SHOW_SIZE = 50
WILL_EXPIRE_WITHIN = timedelta(days=30)
_LISTING_PAGE = 500
# CAS order states that certificates held here never have.
_ORDER_ONLY_STATES = frozenset({"PAYED", "CHECKING", "CHECKED_FAIL", "NOTACTIVATED", "REVOKED"})


class OrderType(TextEnum):
    CPACK = "CPACK"
    BUY = "BUY"
    UPLOAD = "UPLOAD"
    CERT = "CERT"


class CertState(TextEnum):
    ISSUED = "ISSUED"
    WILLEXPIRED = "WILLEXPIRED"
    EXPIRED = "EXPIRED"


def cert_state(cert: Certificate, now: datetime) -> CertState:
    if now > cert.not_after:
        return CertState.EXPIRED
    if cert.not_after - now <= WILL_EXPIRE_WITHIN:
        return CertState.WILLEXPIRED
    return CertState.ISSUED


def _issuer(cert: Certificate) -> str:
    return cert.issuer_common_name or cert.issuer


def _subject_fields(cert: Certificate) -> SubjectFields:
    """OrgName/Country/Province/City of the subject, when the certificate names them."""
    # X.509 parsing is imported by the actions that read a certificate, not with the API: other calls' cold starts.
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        leaf = x509.load_pem_x509_certificates(cert.cert_pem.encode("ascii"))[0]
    except ValueError:
        return SubjectFields()
    wanted = {
        "org_name": NameOID.ORGANIZATION_NAME,
        "country": NameOID.COUNTRY_NAME,
        "province": NameOID.STATE_OR_PROVINCE_NAME,
        "city": NameOID.LOCALITY_NAME,
    }
    fields: dict[str, str] = {}
    for key, oid in wanted.items():
        attributes = leaf.subject.get_attributes_for_oid(oid)
        if attributes:
            fields[key] = str(attributes[0].value)
    return SubjectFields(**fields)


def certificate_domains(cert: Certificate) -> list[str]:
    """The names as written in the certificate: the CN first, then the other SANs."""
    first = [cert.common_name] if cert.common_name else []
    return [*first, *(name for name in cert.sans if name != cert.common_name)]


def _tags(params: RpcParameters) -> tuple[CertificateTag, ...]:
    tags = params.object_list("Tags", ("Key", "Value"))
    if len(tags) > MAX_CERTIFICATE_TAGS:
        raise invalid_parameter("Tags", f"at most {MAX_CERTIFICATE_TAGS} tags, not {len(tags)}")
    checked: dict[str, CertificateTag] = {}
    for tag in tags:
        key, value = tag.get("Key"), tag.get("Value", "")
        if not key or len(key) > MAX_TAG_LENGTH:
            raise invalid_parameter("Tags", f"every tag needs a Key of 1 to {MAX_TAG_LENGTH} characters")
        if len(value) > MAX_TAG_LENGTH:
            raise invalid_parameter("Tags", f"the Value of tag {key!r} is over {MAX_TAG_LENGTH} characters")
        if key in checked:
            raise invalid_parameter("Tags", f"tag {key!r} is given twice")
        checked[key] = CertificateTag(key=key, value=value)
    return tuple(checked.values())


def upload_user_certificate(ctx: ActionContext, params: RpcParameters) -> CertificateUploaded:
    tags = _tags(params)
    upload = build(
        CertificateUpload,
        {
            "name": "Name",
            "cert": "Cert",
            "key": "Key",
            "sign_cert": "SignCert",
            "sign_private_key": "SignPrivateKey",
            "encrypt_cert": "EncryptCert",
            "encrypt_private_key": "EncryptPrivateKey",
            "tags": "Tags",
        },
        name=params.text("Name"),
        cert=params.optional_text("Cert"),
        key=params.optional_text("Key"),
        sign_cert=params.optional_text("SignCert"),
        sign_private_key=params.optional_text("SignPrivateKey"),
        encrypt_cert=params.optional_text("EncryptCert"),
        encrypt_private_key=params.optional_text("EncryptPrivateKey"),
        tags=tags,
    )
    cert = upload_certificate(ctx.deps, ctx.account_id, upload)
    return CertificateUploaded(cert_id=cert.id, resource_id=cert_instance_id(cert))


def _states_wanted(status: str | None) -> frozenset[CertState]:
    if status is None:
        return frozenset({CertState.ISSUED, CertState.WILLEXPIRED})
    if status in _ORDER_ONLY_STATES:
        return frozenset()
    try:
        return frozenset({CertState(status)})
    except ValueError as error:
        allowed = ", ".join([*(s.value for s in CertState), *sorted(_ORDER_ONLY_STATES)])
        raise invalid_parameter("Status", f"{status!r} is not one of {allowed}") from error


def _all_certificates(ctx: ActionContext, origin: CertOrigin | None, keyword: str | None) -> list[Certificate]:
    found: list[Certificate] = []
    page = 1
    while True:
        listed = ctx.deps.store.certificates.search(
            ctx.account_id, origin=origin, keyword=keyword, page=page, page_size=_LISTING_PAGE
        )
        found.extend(listed.items)
        if page * _LISTING_PAGE >= listed.total:
            return found
        page += 1


def _by_keyword(ctx: ActionContext, origin: CertOrigin | None, keyword: str | None) -> list[Certificate]:
    """Keyword matches a name or domain, or is a certificate's InstanceId (`cas-upload-12`)."""
    matches = _all_certificates(ctx, origin, keyword)
    if keyword and keyword.startswith("cas-"):
        number = keyword.rpartition("-")[2]
        if number.isdecimal() and len(number) < 19:
            extra = [
                cert
                for cert in ctx.deps.store.certificates.get_many(ctx.account_id, [int(number)])
                if cert_instance_id(cert) == keyword and (origin is None or cert.origin is origin)
            ]
            matches = sorted({c.id: c for c in [*matches, *extra]}.values(), key=lambda c: c.id, reverse=True)
    return matches


def _order_entry(cert: Certificate, now: datetime) -> CertificateOrder:
    return CertificateOrder(
        certificate_id=cert.id,
        name=cert.name,
        common_name=cert.common_name or (cert.sans[0] if cert.sans else ""),
        sans=",".join(cert.sans),
        issuer=_issuer(cert),
        fingerprint=cert.fingerprint_sha256,
        serial_no=cert.serial,
        sha2=cert.fingerprint_sha256,
        **_subject_fields(cert).model_dump(),
        start_date=day(cert.not_before),
        end_date=day(cert.not_after),
        expired=now > cert.not_after,
        upload=cert.origin is CertOrigin.UPLOAD,
        instance_id=cert_instance_id(cert),
    )


def list_user_certificate_order(ctx: ActionContext, params: RpcParameters) -> CertificateOrderPage:
    order_type_text = params.optional_text("OrderType") or OrderType.CPACK.value
    try:
        order_type = OrderType(order_type_text.upper())
    except ValueError as error:
        allowed = ", ".join(t.value for t in OrderType)
        raise invalid_parameter("OrderType", f"{order_type_text!r} is not one of {allowed}") from error
    status = params.optional_text("Status")
    keyword = params.optional_keyword("Keyword")
    page, size = paging(params, DEFAULT_SHOW_SIZE)
    if order_type in (OrderType.CPACK, OrderType.BUY):
        return CertificateOrderPage(total_count=0, current_page=page, show_size=size, certificate_order_list=[])
    wanted = _states_wanted(status.upper() if status else None)
    now = ctx.now()
    origin = CertOrigin.UPLOAD if order_type is OrderType.UPLOAD else None
    certs = [c for c in _by_keyword(ctx, origin, keyword) if wanted and cert_state(c, now) in wanted]
    return CertificateOrderPage(
        total_count=len(certs),
        current_page=page,
        show_size=size,
        certificate_order_list=[_order_entry(c, now) for c in page_slice(certs, page, size)],
    )


def _chain(cert: Certificate, now: datetime) -> list[ChainMember]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        chain = x509.load_pem_x509_certificates(cert.cert_pem.encode("ascii"))
    except ValueError:
        return []
    entries = []
    for member in chain:
        common_names = member.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        issuer_names = member.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
        not_after = member.not_valid_after_utc
        entries.append(
            ChainMember(
                common_name=str(common_names[-1].value) if common_names else "",
                issuer_common_name=str(issuer_names[-1].value) if issuer_names else "",
                not_before=millis(member.not_valid_before_utc),
                not_after=millis(not_after),
                remain_day=max(0, (not_after - now).days),
            )
        )
    return entries


def _pem_fields(ctx: ActionContext, cert: Certificate) -> PemFields:
    """The PEM texts; the private keys are read only here, for their owner (the account the certificate belongs to).
    A certificate mirrored from CAS has none until a deployment first needs them: the fields are left out then."""
    if not cert.has_pem:
        return PemFields()
    key = ctx.deps.store.certificates.private_key(ctx.account_id, cert.id)
    if cert.algorithm is not CertAlgorithm.SM2:
        return PemFields(cert=cert.cert_pem, key=key)
    encryption = ctx.deps.store.certificates.encryption_pair(ctx.account_id, cert.id)
    return PemFields(
        sign_cert=cert.cert_pem,
        sign_private_key=key,
        encrypt_cert=encryption.cert_pem if encryption is not None else None,
        encrypt_private_key=encryption.private_key_pem if encryption is not None else None,
    )


def get_user_certificate_detail(ctx: ActionContext, params: RpcParameters) -> CertificateDetail:
    cert_id = params.integer("CertId")
    without_pem = params.optional_boolean("CertFilter") or False
    cert = ctx.deps.store.certificates.get(ctx.account_id, cert_id)
    now = ctx.now()
    pem = PemFields() if without_pem else _pem_fields(ctx, cert)
    return CertificateDetail(
        id=cert.id,
        name=cert.name,
        common=cert.common_name or (cert.sans[0] if cert.sans else ""),
        sans=",".join(cert.sans),
        algorithm=str(cert.algorithm),
        issuer=_issuer(cert),
        fingerprint=cert.fingerprint_sha256,
        serial_no=cert.serial,
        sha2=cert.fingerprint_sha256,
        cert_sha2=cert.fingerprint_sha256,
        **_subject_fields(cert).model_dump(),
        instance_id=cert_instance_id(cert),
        start_date=day(cert.not_before),
        end_date=day(cert.not_after),
        not_before=millis(cert.not_before),
        not_after=millis(cert.not_after),
        expired=now > cert.not_after,
        buy_in_aliyun=cert.origin.is_official,
        cert_identifier=f"{cert.id}-{CERT_REGION}",
        **pem.model_dump(),
        cert_chain=_chain(cert, now),
        tags=[Tag(tag_key=tag.key, tag_value=tag.value) for tag in cert.tags],
    )


def delete_user_certificate(ctx: ActionContext, params: RpcParameters) -> Empty:
    cert_id = params.integer("CertId")
    delete_certificate(ctx.deps, ctx.account_id, cert_id)
    return Empty()
