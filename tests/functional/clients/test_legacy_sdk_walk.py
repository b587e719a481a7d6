"""The legacy Python SDK (`aliyun-python-sdk-core`'s `AcsClient` and `CommonRequest`, V1 HMAC-SHA1 signatures) walks
every deployment action against `certdeploy serve`, with its parameters sent three ways: GET query, POST query and
POST form. Each reply is checked against the Python CAS SDK's typed model (typed_models.py); each refusal is the
SDK's `ServerException` with the gateway's code and HTTP status."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

from tests.certgen import GeneratedCert
from tests.functional.clients.conftest import SAE_NAMESPACE, ClientAccount, RunningService
from tests.functional.clients.typed_models import reply_problems

pytestmark = pytest.mark.slow

UNKNOWN_ID = 987654321
TRANSPORTS = ["GET", "POST query", "POST form"]


class LegacyClient:
    """CommonRequest calls of one account, parameters placed as `transport` says; every reply model-checked."""

    def __init__(self, endpoint: str, keys: ClientAccount, transport: str, *, secret: str | None = None) -> None:
        self.endpoint = endpoint
        self.transport = transport
        self.client = AcsClient(
            keys.access_key_id, secret or keys.access_key_secret, "cn-hangzhou", auto_retry=False, max_retry_time=0
        )
        self.problems: list[str] = []

    def request(self, action: str, **params: Any) -> CommonRequest:
        request = CommonRequest(domain=self.endpoint, version="2020-04-07", action_name=action)
        request.set_protocol_type("http")
        request.set_method("GET" if self.transport == "GET" else "POST")
        for name, value in params.items():
            if self.transport == "POST form":
                request.add_body_params(name, str(value))
            else:
                request.add_query_param(name, str(value))
        return request

    def __call__(self, action: str, **params: Any) -> dict[str, Any]:
        reply: dict[str, Any] = json.loads(self.client.do_action_with_exception(self.request(action, **params)))
        self.problems += reply_problems(action, reply)
        return reply

    def refusal(self, action: str, **params: Any) -> tuple[int, str]:
        with pytest.raises(ServerException) as caught:
            self.client.do_action_with_exception(self.request(action, **params))
        assert caught.value.get_error_msg() and caught.value.get_request_id()
        return caught.value.get_http_status(), caught.value.get_error_code()


def wait_until(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(params=TRANSPORTS)
def legacy(request: pytest.FixtureRequest, service: RunningService) -> LegacyClient:
    transport: str = request.param
    keys = service.account("legacy-" + transport.lower().replace(" ", "-"))
    return LegacyClient(f"127.0.0.1:{service.process.port}", keys, transport)


def test_the_legacy_sdk_walks_every_action(legacy: LegacyClient, wildcard: GeneratedCert, spare: GeneratedCert) -> None:
    cert_id = legacy("UploadUserCertificate", Name="legacy", Cert=wildcard.chain_pem, Key=wildcard.key_pem)["CertId"]
    spare_id = legacy("UploadUserCertificate", Name="spare", Cert=spare.chain_pem, Key=spare.key_pem)["CertId"]
    assert legacy("GetUserCertificateDetail", CertId=cert_id)["Name"] == "legacy"
    assert legacy("ListUserCertificateOrder", OrderType="UPLOAD")["TotalCount"] == 2

    alice = legacy("CreateContact", Name="alice", Mobile="13800001234", Email="alice@example.com")["ContactId"]
    bob = legacy("CreateContact", Name="bob", Mobile="13800005678")["ContactId"]
    legacy("UpdateContact", ContactId=bob, Name="robert")
    assert legacy("GetContact", ContactId=bob)["Name"] == "robert"
    assert sorted(contact["Name"] for contact in legacy("ListContact")["ContactList"]) == ["alice", "robert"]
    legacy("DeleteContact", ContactId=bob)

    resources = [resource["Id"] for resource in legacy("ListCloudResources", ShowSize=100)["Data"]]
    matched = legacy("GetMatchedResources", CertIds=cert_id, MaxResults=100)["Data"]
    assert len(legacy("ListCloudResources", CertIds=cert_id, ShowSize=100)["Data"]) == len(matched) == len(resources)
    legacy("DescribeCloudResourceStatus")
    legacy("ListCloudAccess")
    legacy("DescribePackageState", ProductCode="digicert-free-1-free")
    legacy("GetCertificatePackageCount")
    assert legacy("GetAssetCount")["AliyunAssetCount"] == len(resources)
    assert legacy("ListAssetCount")["AssetCountList"][0]["CertificateCount"] == 2

    ids = ",".join(map(str, resources))
    job_id = legacy(
        "CreateDeploymentJob", Name="legacy", JobType="user", CertIds=cert_id, ResourceIds=ids, ContactIds=alice
    )["JobId"]
    assert legacy("DescribeDeploymentJobStatus", JobId=job_id)["WorkerCount"] == len(matched)
    later = int(time.time() * 1000) + 3_600_000
    legacy("UpdateDeploymentJob", JobId=job_id, Name="legacy, renamed", ScheduleTime=later)
    legacy("ListDeploymentJobResource", JobId=job_id)
    legacy("ListDeploymentJobCert", JobId=job_id)
    legacy("UpdateDeploymentJobStatus", JobId=job_id, Status="pending")
    legacy("UpdateDeploymentJobStatus", JobId=job_id, Status="editing")
    assert legacy("DescribeDeploymentJob", JobId=job_id)["Status"] == "editing"
    legacy("UpdateDeploymentJobStatus", JobId=job_id, Status="scheduling")
    wait_until(lambda: legacy("DescribeDeploymentJob", JobId=job_id)["Status"] == "success", "the job's success")
    assert legacy("DescribeDeploymentJobStatus", JobId=job_id)["SuccessCount"] == len(matched)
    assert [job["Id"] for job in legacy("ListDeploymentJob")["Data"]] == [job_id]

    listed = legacy("ListWorkerResource", JobId=job_id)["Data"]
    namespaces = {worker["CloudProduct"]: worker.get("NamespaceId") for worker in listed}
    assert namespaces == {"SAE": SAE_NAMESPACE, "CDN": None, "ALB": None}
    first, second = listed[:2]
    legacy("CreateRollbackTask", JobId=job_id, WorkerId=first["Id"])
    legacy("UpdateWorkerResourceStatus", JobId=job_id, WorkerId=second["Id"], Status="rollback")

    def rolled_back() -> bool:
        workers = legacy("ListWorkerResource", JobId=job_id)["Data"]
        return sum(worker["Status"] == "rollback_success" for worker in workers) == 2

    wait_until(rolled_back, "two rollbacks")
    legacy("DeleteDeploymentJob", JobId=job_id)

    draft = legacy("CreateDeploymentJob", Name="draft", JobType="user", CertIds=cert_id, ResourceIds=ids)["JobId"]
    legacy("DeleteWorkerResource", JobId=draft, WorkerId=legacy("ListWorkerResource", JobId=draft)["Data"][0]["Id"])
    legacy("DeleteDeploymentJob", JobId=draft)
    legacy("DeleteUserCertificate", CertId=spare_id)

    assert not legacy.problems, legacy.problems


def test_the_legacy_sdk_reads_every_refusal(legacy: LegacyClient) -> None:
    keys = ClientAccount(legacy.client.get_access_key(), legacy.client.get_access_secret())
    wrong_secret = LegacyClient(legacy.endpoint, keys, legacy.transport, secret="not-the-secret")
    unknown_key = LegacyClient(legacy.endpoint, ClientAccount("LTAI-unknown-key", "x"), legacy.transport)

    assert wrong_secret.refusal("ListContact") == (400, "SignatureDoesNotMatch")
    assert unknown_key.refusal("ListContact") == (404, "InvalidAccessKeyId.NotFound")
    assert legacy.refusal("DescribeDeploymentJob") == (400, "MissingParameter")
    assert legacy.refusal("DescribeDeploymentJob", JobId="seven") == (400, "InvalidParameter.JobId")
    assert legacy.refusal("UpdateDeploymentJobStatus", JobId=1, Status="finished") == (400, "InvalidParameter.Status")
    assert legacy.refusal("DescribeDeploymentJob", JobId=UNKNOWN_ID) == (404, "NotFound")
    assert legacy.refusal("GetUserCertificateDetail", CertId=UNKNOWN_ID) == (404, "InvalidCertId.NotFound")
    assert legacy.refusal("CreateDeploymentJob", Name="x", JobType="user", CertIds=UNKNOWN_ID, ResourceIds=1) == (
        404,
        "InvalidCertId.NotFound",
    )
    assert legacy.refusal("DeleteContact", ContactId=UNKNOWN_ID) == (404, "InvalidContactId.NotFound")
    assert legacy.refusal("CreateCertificateForPackageRequest", ProductCode="x") == (400, "QuotaExceeded")
    assert legacy.refusal("DescribeCertificateState", OrderId=UNKNOWN_ID) == (404, "NotFound")
    assert legacy.refusal("DescribeNothing") == (404, "InvalidApi.NotFound")
