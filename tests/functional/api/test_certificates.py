"""Certificates through the official CAS SDK: upload (RSA/ECC and SM2 pairs, PEM in a long query string, tags), list
by order type and state, detail with and without PEM, delete — and the refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from certdeploy.app.accounts import Credentials, create_account
from certdeploy.bootstrap.container import Container
from certdeploy.domain.certificates import parse_certificate
from certdeploy.domain.models import CertOrigin
from certdeploy.local.http_server import ApiHttpServer
from tests.certgen import make_ca, make_cert
from tests.functional.api_support import INVENTORY, create_job, resource_ids, sdk_client, upload
from tests.functional.conftest import load_inventory
from tests.rpc_calls import refused

SM2_DIR = Path(__file__).parents[2] / "fixtures" / "sm2"


def _orders(client: CasClient, **filters: object) -> cas.ListUserCertificateOrderResponseBody:
    return client.list_user_certificate_order(cas.ListUserCertificateOrderRequest(**filters)).body


def test_an_uploaded_chain_is_listed_and_detailed_with_its_key(client: CasClient) -> None:
    root = make_ca("Test Root")
    site = make_cert(["www.example.com", "example.com"], common_name="www.example.com", issuer=root, key="rsa")

    response = client.upload_user_certificate(
        cas.UploadUserCertificateRequest(
            name="site",
            cert=site.chain_pem,
            key=site.key_pem,
            tags=[
                cas.UploadUserCertificateRequestTags(key="env", value="prod"),
                cas.UploadUserCertificateRequestTags(key="Cost Center", value="R&D 42"),
                cas.UploadUserCertificateRequestTags(key="empty"),
            ],
        )
    )
    cert_id = response.body.cert_id
    detail = client.get_user_certificate_detail(cas.GetUserCertificateDetailRequest(cert_id=cert_id)).body
    filtered = client.get_user_certificate_detail(
        cas.GetUserCertificateDetailRequest(cert_id=cert_id, cert_filter=True)
    ).body

    assert response.body.resource_id == f"cas-upload-{cert_id}"
    assert (detail.name, detail.common, detail.sans, detail.algorithm) == (
        "site",
        "www.example.com",
        "www.example.com,example.com",
        "RSA",
    )
    assert detail.cert == site.chain_pem and detail.key == site.key_pem
    assert (detail.issuer, detail.cert_identifier, detail.expired, detail.buy_in_aliyun) == (
        "Test Root",
        f"{cert_id}-cn-hangzhou",
        False,
        False,
    )
    assert [link.common_name for link in detail.cert_chain] == ["www.example.com", "Test Root"]
    assert (detail.start_date, detail.end_date, detail.not_after) == ("2020-01-01", "2120-01-01", 4733510400000)
    assert filtered.cert is None and filtered.key is None and filtered.name == "site"
    assert [(tag.tag_key, tag.tag_value) for tag in detail.tags] == [
        ("env", "prod"),
        ("Cost Center", "R&D 42"),
        ("empty", ""),
    ]
    assert [(tag.tag_key, tag.tag_value) for tag in filtered.tags] == [(t.tag_key, t.tag_value) for t in detail.tags]
    listed = _orders(client, order_type="CERT")
    assert listed.total_count == 1 and listed.show_size == 50
    entry = listed.certificate_order_list[0]
    assert (entry.certificate_id, entry.upload, entry.instance_id, entry.sans) == (
        cert_id,
        True,
        f"cas-upload-{cert_id}",
        "www.example.com,example.com",
    )


def test_a_pem_of_more_than_64_kilobytes_travels_in_the_query_string(client: CasClient) -> None:
    # A leaf of 3,000 names (~25 bytes each) and its CA; percent-encoding makes the query larger still.
    names = ["big.example.com", *(f"host-{index}.big.example.com" for index in range(2999))]
    chain = make_cert(names, common_name="big.example.com", issuer=make_ca("Root", key="rsa"), key="rsa")
    cert_id = upload_pem(client, "big", chain.chain_pem, chain.key_pem)

    detail = client.get_user_certificate_detail(cas.GetUserCertificateDetailRequest(cert_id=cert_id)).body

    assert len(chain.chain_pem) > 64 * 1024
    assert detail.common == "big.example.com" and len(detail.cert_chain) == 2


def upload_pem(client: CasClient, name: str, cert_pem: str, key_pem: str) -> int:
    request = cas.UploadUserCertificateRequest(name=name, cert=cert_pem, key=key_pem)
    return client.upload_user_certificate(request).body.cert_id


def _sm2(name: str) -> str:
    return (SM2_DIR / name).read_text()


def test_both_sm2_pairs_are_kept_and_answered_to_their_owner_only(
    client: CasClient, server: ApiHttpServer, container: Container
) -> None:
    stranger = sdk_client(server, create_account(container.store, "stranger", quota=10))

    cert_id = client.upload_user_certificate(
        cas.UploadUserCertificateRequest(
            name="sm",
            sign_cert=_sm2("sm2.pem"),
            sign_private_key=_sm2("sm2.key"),
            encrypt_cert=_sm2("sm2-encrypt.pem"),
            encrypt_private_key=_sm2("sm2-encrypt.key"),
        )
    ).body.cert_id
    detail = client.get_user_certificate_detail(cas.GetUserCertificateDetailRequest(cert_id=cert_id)).body
    filtered = client.get_user_certificate_detail(
        cas.GetUserCertificateDetailRequest(cert_id=cert_id, cert_filter=True)
    ).body
    hidden = refused(lambda: stranger.get_user_certificate_detail(cas.GetUserCertificateDetailRequest(cert_id=cert_id)))

    assert (detail.algorithm, detail.cert, detail.key) == ("SM2", None, None)
    assert (detail.sign_cert, detail.sign_private_key) == (_sm2("sm2.pem"), _sm2("sm2.key"))
    assert (detail.encrypt_cert, detail.encrypt_private_key) == (_sm2("sm2-encrypt.pem"), _sm2("sm2-encrypt.key"))
    assert (filtered.common, filtered.sign_cert, filtered.sign_private_key) == ("sm.example.com", None, None)
    assert (filtered.encrypt_cert, filtered.encrypt_private_key) == (None, None)
    assert (hidden.code, hidden.status_code) == ("InvalidCertId.NotFound", 404)


def test_an_sm2_signing_pair_alone_is_answered_without_an_encryption_pair(client: CasClient) -> None:
    cert_id = client.upload_user_certificate(
        cas.UploadUserCertificateRequest(name="sm", sign_cert=_sm2("sm2.pem"), sign_private_key=_sm2("sm2.key"))
    ).body.cert_id

    detail = client.get_user_certificate_detail(cas.GetUserCertificateDetailRequest(cert_id=cert_id)).body

    assert (detail.sign_cert, detail.sign_private_key) == (_sm2("sm2.pem"), _sm2("sm2.key"))
    assert (detail.encrypt_cert, detail.encrypt_private_key) == (None, None)


def test_sm2_pairs_that_do_not_fit_are_refused(client: CasClient) -> None:
    rsa = make_cert(["rsa.example.com"], key="rsa")
    sign = {"sign_cert": _sm2("sm2.pem"), "sign_private_key": _sm2("sm2.key")}
    cases = [
        ("KeyNotMatchCert", {**sign, "sign_private_key": _sm2("other.key")}),
        ("KeyNotMatchCert", {**sign, "encrypt_cert": _sm2("sm2-encrypt.pem"), "encrypt_private_key": _sm2("sm2.key")}),
        ("InvalidParameter.EncryptCert", {**sign, "encrypt_cert": _sm2("sm2-encrypt.pem")}),
        ("InvalidParameter.EncryptCert", {**sign, "encrypt_cert": rsa.cert_pem, "encrypt_private_key": rsa.key_pem}),
        (
            "InvalidParameter.EncryptCert",
            {
                "sign_cert": rsa.cert_pem,
                "sign_private_key": rsa.key_pem,
                "encrypt_cert": _sm2("sm2-encrypt.pem"),
                "encrypt_private_key": _sm2("sm2-encrypt.key"),
            },
        ),
        (
            "InvalidParameter.Cert",
            {**sign, "encrypt_cert": "not a certificate", "encrypt_private_key": _sm2("sm2.key")},
        ),
    ]
    for code, fields in cases:
        error = refused(
            lambda fields=fields: client.upload_user_certificate(cas.UploadUserCertificateRequest(name="sm", **fields))
        )
        assert (error.code, error.status_code) == (code, 400), fields
    assert _orders(client, order_type="CERT").total_count == 0


def test_upload_refusals_change_nothing(client: CasClient) -> None:
    good = make_cert(["a.example.com"])
    other = make_cert(["b.example.com"])
    upload_pem(client, "taken", good.cert_pem, good.key_pem)
    cases = [
        ("NameAlreadyExist", {"name": "taken", "cert": other.cert_pem, "key": other.key_pem}),
        ("KeyNotMatchCert", {"name": "n1", "cert": good.cert_pem, "key": other.key_pem}),
        ("InvalidParameter.Cert", {"name": "n2", "cert": "not a certificate", "key": good.key_pem}),
        ("InvalidParameter.Cert", {"name": "n3"}),
        ("InvalidParameter.Name", {"name": "x" * 64, "cert": other.cert_pem, "key": other.key_pem}),
        ("MissingParameter", {"cert": other.cert_pem, "key": other.key_pem}),
    ]
    for code, fields in cases:
        error = refused(
            lambda fields=fields: client.upload_user_certificate(cas.UploadUserCertificateRequest(**fields))
        )
        assert (error.code, error.status_code) == (code, 400), fields.get("name")
    too_many_tags = [cas.UploadUserCertificateRequestTags(key=f"k{i}", value="v") for i in range(21)]
    tags = refused(
        lambda: client.upload_user_certificate(
            cas.UploadUserCertificateRequest(name="tags", cert=other.cert_pem, key=other.key_pem, tags=too_many_tags)
        )
    )
    assert tags.code == "InvalidParameter.Tags"
    assert _orders(client, order_type="CERT").total_count == 1


def test_listing_by_order_type_state_and_keyword(client: CasClient, container: Container, account: Credentials) -> None:
    now = container.deps.clock.now()
    soon = make_cert(["soon.example.com"], not_after=now + timedelta(days=10))
    later = make_cert(["later.example.org"])
    soon_id = upload_pem(client, "soon", soon.cert_pem, soon.key_pem)
    later_id = upload_pem(client, "later", later.cert_pem, later.key_pem)
    # An expired certificate cannot be uploaded any more; the store may still hold one uploaded earlier.
    old = make_cert(["old.example.com"], not_after=now - timedelta(days=1))
    old_id = container.store.certificates.add(
        account.account.id,
        name="old",
        origin=CertOrigin.UPLOAD,
        info=parse_certificate(old.cert_pem),
        cert_pem=old.cert_pem,
        private_key_pem=old.key_pem,
    ).id

    def ids(**filters: object) -> list[int]:
        return [entry.certificate_id for entry in _orders(client, **filters).certificate_order_list]

    assert ids(order_type="CERT") == [later_id, soon_id]
    assert ids(order_type="UPLOAD", status="WILLEXPIRED") == [soon_id]
    assert ids(order_type="UPLOAD", status="ISSUED") == [later_id]
    assert ids(order_type="CERT", status="EXPIRED") == [old_id]
    assert ids(order_type="CERT", keyword="example.org") == [later_id]
    assert ids(order_type="CERT", keyword=f"cas-upload-{soon_id}") == [soon_id]
    assert ids(order_type="CERT", show_size=1, current_page=2) == [soon_id]
    assert ids(order_type="CERT", status="REVOKED") == []
    cpack = _orders(client)
    assert (cpack.total_count, cpack.certificate_order_list) == (0, [])
    bad = refused(lambda: _orders(client, order_type="CERT", status="SHINY"))
    assert bad.code == "InvalidParameter.Status"


def test_delete_is_refused_while_a_job_would_deploy_the_certificate(
    client: CasClient, container: Container, account: Credentials, tmp_path: Path
) -> None:
    load_inventory(container, account.account.id, INVENTORY, tmp_path)
    cert_id = upload(client, "wild")
    spare = upload(client, "spare", make_cert(["spare.example.com"]))
    create_job(client, [cert_id], [resource_ids(client)["CDN"]])

    in_use = refused(lambda: client.delete_user_certificate(cas.DeleteUserCertificateRequest(cert_id=cert_id)))
    client.delete_user_certificate(cas.DeleteUserCertificateRequest(cert_id=spare))

    assert in_use.code == "InvalidStatus"
    missing = refused(lambda: client.get_user_certificate_detail(cas.GetUserCertificateDetailRequest(cert_id=spare)))
    assert (missing.code, missing.status_code) == ("InvalidCertId.NotFound", 404)
    assert [e.certificate_id for e in _orders(client, order_type="CERT").certificate_order_list] == [cert_id]
