"""The SAE deployer, driven through the real `alibabacloud-sae20190506` client (ROA, V3 signature) against the generic
OpenAPI test server serving SAE's DescribeIngress and UpdateIngress."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from certdeploy.adapters.cloud.sae import SaeDeployer
from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud

INGRESS_PATH = "/pop/v1/sam/ingress/Ingress"
DESCRIBE = "DescribeIngress"
UPDATE = "UpdateIngress"
ALB_INGRESS = 87
CLB_INGRESS = 88
HTTP_INGRESS = 89
SLB_CERT_ID = "1880770869023421_176993d6f1d_181437421_108724"
RULES = [
    {"AppId": "395b60e4-0550-458d-9c54-a265d036aaaa", "ContainerPort": 8080, "Domain": "shop.example.com", "Path": "/"},
    {"AppId": "666403ce-d25b-47cf-87fe-497565d2bbbb", "ContainerPort": 8080, "Domain": "api.example.com", "Path": "/"},
]


class SaeCloud(ProductCloud):
    """Ingresses by id, as DescribeIngress shows them; `cas_identifiers` are the certificates ALB can load."""

    def __init__(self) -> None:
        super().__init__(OpenApiServer(host_id="sae.cn-hangzhou.aliyuncs.com", version="2019-05-06"))
        self.api.roa("GET", INGRESS_PATH, self._describe)
        self.api.roa("PUT", INGRESS_PATH, self._update)
        self.cas_identifiers = {"1001-cn-hangzhou", "1002-cn-hangzhou", "2001-cn-hangzhou"}
        self.refusal_in_body: tuple[str, str] | None = None
        self.ingresses: dict[int, dict[str, Any]] = {
            ALB_INGRESS: _ingress(ALB_INGRESS, "alb", CertIds="1001-cn-hangzhou,1002-cn-hangzhou"),
            CLB_INGRESS: _ingress(CLB_INGRESS, "clb", CertId=SLB_CERT_ID),
            HTTP_INGRESS: _ingress(HTTP_INGRESS, "alb", ListenerProtocol="HTTP", ListenerPort=80),
        }

    def _existing(self, call: OpenApiCall) -> dict[str, Any]:
        ingress = self.ingresses.get(int(call.require("IngressId")))
        if ingress is None:
            raise OpenApiError("InvalidParameter.NotFound", "The specified Ingress does not exist.", 404)
        return ingress

    def _describe(self, call: OpenApiCall) -> dict[str, Any]:
        return _success(copy.deepcopy(self._existing(call)))

    def _update(self, call: OpenApiCall) -> dict[str, Any]:
        ingress = self._existing(call)
        if self.refusal_in_body is not None:
            code, message = self.refusal_in_body
            self.refusal_in_body = None
            return {"Code": "400", "ErrorCode": code, "Message": message, "Success": False}
        cert_ids, cert_id = call.get("CertIds"), call.get("CertId")
        if cert_ids is not None:
            if ingress["LoadBalanceType"] != "alb":
                raise OpenApiError("InvalidParameter", "CertIds is for ALB Ingresses.")
            unknown = [identifier for identifier in cert_ids.split(",") if identifier not in self.cas_identifiers]
            if unknown:
                raise OpenApiError("Cert.NotExist", f"The certificate {unknown[0]} does not exist.")
            ingress["CertIds"] = cert_ids
        if cert_id is not None:
            if ingress["LoadBalanceType"] != "clb":
                raise OpenApiError("InvalidParameter", "CertId is for CLB Ingresses.")
            ingress["CertId"] = cert_id
        return _success({"IngressId": ingress["Id"]})


def _ingress(ingress_id: int, load_balance_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "Id": ingress_id,
        "Name": f"ingress-{ingress_id}",
        "NamespaceId": "cn-hangzhou:shop",
        "LoadBalanceType": load_balance_type,
        "ListenerPort": 443,
        "ListenerProtocol": "HTTPS",
        "SlbId": f"{load_balance_type}-0001",
        "Rules": copy.deepcopy(RULES),
        "DefaultRule": {"AppId": RULES[0]["AppId"], "ContainerPort": 8080},
        **fields,
    }


def _success(data: dict[str, Any]) -> dict[str, Any]:
    return {"Code": "200", "Message": "success", "Success": True, "TraceId": "0a98a02315955564772843261e", "Data": data}


@pytest.fixture
def cloud() -> Iterator[SaeCloud]:
    cloud = SaeCloud()
    yield from cloud.serving()


@pytest.fixture
def deployer(cloud: SaeCloud) -> SaeDeployer:
    return SaeDeployer(cloud.api.credentials(), cloud.api.target())


def _resource(ingress_id: int | str = ALB_INGRESS) -> Resource:
    return Resource(
        id=5,
        account_id=7,
        product=Product.SAE,
        region="cn-hangzhou",
        instance_id=str(ingress_id),
        domain="shop.example.com",
    )


def _certificate(cas_cert_id: int | None = 2001) -> DeployableCertificate:
    return DeployableCertificate(
        cert_id=41,
        name="shop-2026",
        algorithm=CertAlgorithm.RSA,
        cert_pem="-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
        key_pem=SecretStr("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"),
        cas_cert_id=cas_cert_id,
    )


def test_reads_the_default_certificate_of_an_alb_ingress(deployer: SaeDeployer) -> None:
    binding = deployer.current_binding(_resource())

    assert binding.cas_cert_id == 1001
    assert binding.cert_name == "1001-cn-hangzhou"
    assert binding.domain == "shop.example.com"


def test_bind_replaces_the_default_certificate_and_changes_nothing_else(cloud: SaeCloud, deployer: SaeDeployer) -> None:
    before = copy.deepcopy(cloud.ingresses[ALB_INGRESS])

    deployer.bind(_resource(), _certificate())

    after = cloud.ingresses[ALB_INGRESS]
    assert after["CertIds"] == "2001-cn-hangzhou,1002-cn-hangzhou"
    assert {**after, "CertIds": before["CertIds"]} == before
    (update,) = cloud.api.calls_of(UPDATE)
    assert update.method == "PUT"
    assert update.parameters == {"IngressId": str(ALB_INGRESS), "CertIds": "2001-cn-hangzhou,1002-cn-hangzhou"}
    assert deployer.current_binding(_resource()).cas_cert_id == 2001


def test_binding_what_is_already_served_makes_no_write(cloud: SaeCloud, deployer: SaeDeployer) -> None:
    deployer.bind(_resource(), _certificate())
    deployer.bind(_resource(), _certificate())

    assert len(cloud.api.calls_of(UPDATE)) == 1


def test_restore_puts_the_previous_certificates_back(cloud: SaeCloud, deployer: SaeDeployer) -> None:
    before = deployer.current_binding(_resource())
    deployer.bind(_resource(), _certificate())

    deployer.restore(_resource(), before)

    assert cloud.ingresses[ALB_INGRESS]["CertIds"] == "1001-cn-hangzhou,1002-cn-hangzhou"
    deployer.restore(_resource(), before)
    assert len(cloud.api.calls_of(UPDATE)) == 2


def test_a_certificate_without_a_cas_id_is_refused_without_a_write(cloud: SaeCloud, deployer: SaeDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=None))

    assert failure.value.code == "CertificateNotInCas"
    assert cloud.api.calls_of(UPDATE) == []


def test_a_clb_ingress_takes_no_cas_certificate_but_its_slb_certificate_is_restored(
    cloud: SaeCloud, deployer: SaeDeployer
) -> None:
    before = deployer.current_binding(_resource(CLB_INGRESS))
    assert before.cert_name == SLB_CERT_ID and before.cas_cert_id is None

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(CLB_INGRESS), _certificate())
    assert failure.value.code == "CertificateNotSupported"
    assert cloud.api.calls_of(UPDATE) == []

    cloud.ingresses[CLB_INGRESS]["CertId"] = "1880770869023421_1769999999_181437421_999999"
    deployer.restore(_resource(CLB_INGRESS), before)

    assert cloud.ingresses[CLB_INGRESS]["CertId"] == SLB_CERT_ID
    assert cloud.api.calls_of(UPDATE)[0].parameters == {"IngressId": str(CLB_INGRESS), "CertId": SLB_CERT_ID}


@pytest.mark.parametrize("retry_after_seconds", [None, 1])
def test_throttling_is_transient_and_the_retry_succeeds(
    cloud: SaeCloud, deployer: SaeDeployer, retry_after_seconds: int | None
) -> None:
    cloud.api.fail_next(UPDATE, retry_after_seconds=retry_after_seconds)

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == "Throttling.User"
    assert cloud.ingresses[ALB_INGRESS]["CertIds"] == "1001-cn-hangzhou,1002-cn-hangzhou"
    deployer.bind(_resource(), _certificate())
    assert cloud.ingresses[ALB_INGRESS]["CertIds"] == "2001-cn-hangzhou,1002-cn-hangzhou"


def test_a_server_error_is_transient(cloud: SaeCloud, deployer: SaeDeployer) -> None:
    cloud.api.fail_next(DESCRIBE, code="ServiceUnavailable", message="The service is unavailable.", status=503)

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.current_binding(_resource())

    assert failure.value.code == "ServiceUnavailable"


def test_errors_of_sae_are_permanent_with_its_code_and_message(cloud: SaeCloud, deployer: SaeDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as missing:
        deployer.current_binding(_resource(404))
    cloud.cas_identifiers.discard("2001-cn-hangzhou")
    with pytest.raises(PermanentDeployFailure) as refused:
        deployer.bind(_resource(), _certificate())

    assert missing.value.code == "InvalidParameter.NotFound"
    assert "The specified Ingress does not exist." in missing.value.message
    assert refused.value.code == "Cert.NotExist"
    assert "2001-cn-hangzhou does not exist" in refused.value.message


def test_a_refusal_in_a_successful_answer_is_reported(cloud: SaeCloud, deployer: SaeDeployer) -> None:
    cloud.refusal_in_body = ("Ingress.Locked", "The Ingress is locked by another change.")

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert (failure.value.code, failure.value.message) == ("Ingress.Locked", "The Ingress is locked by another change.")


def test_an_http_ingress_or_a_malformed_id_is_refused(deployer: SaeDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as http:
        deployer.bind(_resource(HTTP_INGRESS), _certificate())
    with pytest.raises(PermanentDeployFailure) as malformed:
        deployer.current_binding(_resource("ing-87"))

    assert http.value.code == "HttpsDisabled"
    assert malformed.value.code == "InvalidIngressId"
