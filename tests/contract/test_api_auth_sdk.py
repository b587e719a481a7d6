"""The official CAS SDK (`alibabacloud-cas20200407` 3.9.4 on `alibabacloud-tea-openapi` 0.4.6) against our request
authentication and parsing, over real HTTP on the loopback interface."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from alibabacloud_cas20200407 import models as cas_models
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config, GlobalParameters, OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

from certdeploy.api.auth import AccessKeySecret, Caller
from certdeploy.api.errors import invalid_api
from certdeploy.api.rpc import RpcRequest
from tests.fakes.auth import InMemoryAccessKeys, InMemoryNonceRegistry
from tests.rpc_calls import rpc_params
from tests.servers.cas_stub import MAX_REQUEST_LINE, CasStubServer, ShiftedClock

ACCESS_KEY_ID = "LTAI-test-key"
SECRET = "s3cret/with+odd=chars"
ACCOUNT_ID = 1001
PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
V1 = {"signature_algorithm": "v2"}
V3: dict[str, str] = {}


def answer(request: RpcRequest, caller: Caller) -> dict[str, Any]:
    """A CAS-shaped reply that also echoes, under `Parsed`, what the typed parameter reads made of the request."""
    params = request.parameters()
    if request.action == "DescribeDeploymentJob":
        job_id = params.integer("JobId")
        return {"Id": job_id, "Name": "echo", "Status": "editing", "Parsed": {"JobId": job_id}}
    if request.action == "CreateDeploymentJob":
        parsed = {
            "Name": params.text("Name"),
            "JobType": params.text("JobType"),
            "CertIds": params.integer_list("CertIds"),
            "ResourceIds": params.integer_list("ResourceIds"),
            "ContactIds": params.integer_list("ContactIds"),
            "ScheduleTime": params.optional_integer("ScheduleTime"),
        }
        return {"JobId": 7001, "Parsed": parsed}
    if request.action == "UploadUserCertificate":
        parsed = {
            "Name": params.text("Name"),
            "Cert": params.text("Cert"),
            "Key": params.text("Key"),
            "Tags": params.object_list("Tags", ("Key", "Value")),
        }
        return {"CertId": 9001, "ResourceId": "cas-upload-9001", "Parsed": parsed}
    if request.action == "ListCloudResources":
        parsed = {"CertIds": params.optional_integer_list("CertIds"), "ShowSize": params.optional_integer("ShowSize")}
        return {"Total": 0, "CurrentPage": 1, "ShowSize": 20, "Data": [], "Parsed": parsed}
    if request.action == "GetUserCertificateDetail":
        return {"Id": params.integer("CertId"), "Parsed": {"CertFilter": params.optional_boolean("CertFilter")}}
    raise invalid_api(request.action or "", request.version or "")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[CasStubServer]:
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    clock = ShiftedClock()
    keys = InMemoryAccessKeys({ACCESS_KEY_ID: AccessKeySecret(ACCOUNT_ID, SECRET)})
    with CasStubServer(keys, InMemoryNonceRegistry(clock), clock, answer) as stub:
        yield stub
        assert stub.failures == []


def cas_client(server: CasStubServer, **config: Any) -> CasClient:
    settings = {"access_key_id": ACCESS_KEY_ID, "access_key_secret": SECRET, **config}
    return CasClient(Config(endpoint=server.endpoint, protocol="http", read_timeout=10_000, **settings))


def parsed(server: CasStubServer) -> dict[str, Any]:
    return server.calls[-1].reply["Parsed"]


def pem_like(size: int) -> str:
    """Certificate-shaped text of about `size` bytes: base64 alphabet (`+`, `/`, `=`) in 64-column lines."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    lines = [(alphabet * 2)[i % 64 : i % 64 + 64] for i in range(size // 65)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n=\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("signing", [V3, V1], ids=["acs3-hmac-sha256", "hmac-sha1"])
def test_describe_deployment_job_is_authenticated_and_its_job_id_read(
    server: CasStubServer, signing: dict[str, str]
) -> None:
    response = cas_client(server, **signing).describe_deployment_job(
        cas_models.DescribeDeploymentJobRequest(job_id=1234)
    )

    assert response.status_code == 200
    assert response.body.id == 1234
    assert parsed(server) == {"JobId": 1234}
    expected_method = "HMAC-SHA1" if signing else "ACS3-HMAC-SHA256"
    assert server.calls[-1].caller == Caller(ACCOUNT_ID, ACCESS_KEY_ID, expected_method)


@pytest.mark.parametrize("signing", [V3, V1], ids=["acs3-hmac-sha256", "hmac-sha1"])
def test_create_deployment_job_reads_comma_lists_and_a_name_with_plus_spaces_and_symbols(
    server: CasStubServer, signing: dict[str, str]
) -> None:
    name = "job a+b  c=d/e*f~g&h%20 ü 证书"

    response = cas_client(server, **signing).create_deployment_job(
        cas_models.CreateDeploymentJobRequest(
            name=name,
            job_type="user",
            cert_ids="1,2",
            resource_ids="3,4",
            contact_ids="5",
            schedule_time=1706613560008,
        )
    )

    assert response.body.job_id == 7001
    assert parsed(server) == {
        "Name": name,
        "JobType": "user",
        "CertIds": [1, 2],
        "ResourceIds": [3, 4],
        "ContactIds": [5],
        "ScheduleTime": 1706613560008,
    }


@pytest.mark.parametrize("signing", [V3, V1], ids=["acs3-hmac-sha256", "hmac-sha1"])
def test_upload_user_certificate_carries_multi_kb_pem_and_tags_in_the_query(
    server: CasStubServer, signing: dict[str, str]
) -> None:
    cert = pem_like(6_000)
    key = "-----BEGIN PRIVATE KEY-----\nMIIB+/=\n\r\n-----END PRIVATE KEY-----\n"
    tags = [
        cas_models.UploadUserCertificateRequestTags(key="env", value="prod"),
        cas_models.UploadUserCertificateRequestTags(key="t2", value="v 2+x"),
    ]

    response = cas_client(server, **signing).upload_user_certificate(
        cas_models.UploadUserCertificateRequest(name="site cert", cert=cert, key=key, tags=tags)
    )

    assert response.body.cert_id == 9001
    assert parsed(server) == {
        "Name": "site cert",
        "Cert": cert,
        "Key": key,
        "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "t2", "Value": "v 2+x"}],
    }


def test_list_cloud_resources_reads_cert_ids_sent_as_a_json_array(server: CasStubServer) -> None:
    cas_client(server).list_cloud_resources(cas_models.ListCloudResourcesRequest(cert_ids=[1, 2], show_size=5))

    assert server.calls[-1].request.query_value("CertIds") == "[1,2]"
    assert parsed(server) == {"CertIds": [1, 2], "ShowSize": 5}


def test_boolean_parameters_arrive_as_python_true(server: CasStubServer) -> None:
    cas_client(server).get_user_certificate_detail(
        cas_models.GetUserCertificateDetailRequest(cert_id=5, cert_filter=True)
    )

    assert server.calls[-1].request.query_value("CertFilter") == "True"
    assert parsed(server) == {"CertFilter": True}


@pytest.mark.parametrize("signing", [V3, V1], ids=["acs3-hmac-sha256", "hmac-sha1"])
def test_query_over_100_kb_is_accepted(server: CasStubServer, signing: dict[str, str]) -> None:
    cert = pem_like(110_000)

    cas_client(server, **signing).upload_user_certificate(
        cas_models.UploadUserCertificateRequest(name="big", cert=cert, key="k")
    )

    assert len(server.received[-1].target) > 100_000
    assert parsed(server)["Cert"] == cert


def test_request_line_over_the_raised_limit_is_refused_with_414(server: CasStubServer) -> None:
    line = b"POST /?Cert=" + b"A" * MAX_REQUEST_LINE + b" HTTP/1.1\r\n\r\n"

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(line)
        status_line = connection.makefile("rb").readline()

    assert status_line.split()[1] == b"414"
    assert server.received == []


def raises_client_error(call: Any) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("signing", [V3, V1], ids=["acs3-hmac-sha256", "hmac-sha1"])
def test_wrong_secret_is_signature_does_not_match(server: CasStubServer, signing: dict[str, str]) -> None:
    client = cas_client(server, access_key_secret="not-the-secret", **signing)

    error = raises_client_error(
        lambda: client.describe_deployment_job(cas_models.DescribeDeploymentJobRequest(job_id=1))
    )

    assert (error.status_code, error.code) == (400, "SignatureDoesNotMatch")
    assert server.calls == []


@pytest.mark.parametrize("signing", [V3, V1], ids=["acs3-hmac-sha256", "hmac-sha1"])
def test_unknown_access_key_is_not_found(server: CasStubServer, signing: dict[str, str]) -> None:
    client = cas_client(server, access_key_id="LTAI-nobody", **signing)

    error = raises_client_error(
        lambda: client.describe_deployment_job(cas_models.DescribeDeploymentJobRequest(job_id=1))
    )

    assert (error.status_code, error.code) == (404, "InvalidAccessKeyId.NotFound")


@pytest.mark.parametrize("signing", [V3, V1], ids=["acs3-hmac-sha256", "hmac-sha1"])
def test_replaying_a_request_byte_for_byte_is_refused_as_nonce_used(
    server: CasStubServer, signing: dict[str, str]
) -> None:
    cas_client(server, **signing).describe_deployment_job(cas_models.DescribeDeploymentJobRequest(job_id=1))
    original = server.received[-1]

    connection = http.client.HTTPConnection(server.endpoint, timeout=10)
    connection.putrequest("POST", original.target, skip_host=True, skip_accept_encoding=True)
    for name, value in original.headers:
        connection.putheader(name, value)
    connection.endheaders(original.body)
    reply = connection.getresponse()
    body = reply.read()
    connection.close()

    assert reply.status == 400
    assert b'"Code": "SignatureNonceUsed"' in body
    assert len(server.calls) == 1


@pytest.mark.parametrize("signing", [V3, V1], ids=["acs3-hmac-sha256", "hmac-sha1"])
@pytest.mark.parametrize("server_ahead_minutes", [16, -16], ids=["signed-too-long-ago", "signed-in-the-future"])
def test_request_signed_more_than_15_minutes_off_is_expired(
    server: CasStubServer, signing: dict[str, str], server_ahead_minutes: int
) -> None:
    server.clock.offset = timedelta(minutes=server_ahead_minutes)

    error = raises_client_error(
        lambda: cas_client(server, **signing).describe_deployment_job(cas_models.DescribeDeploymentJobRequest(job_id=1))
    )

    assert (error.status_code, error.code) == (400, "InvalidTimeStamp.Expired")


def test_request_signed_14_minutes_before_the_server_time_is_still_accepted(server: CasStubServer) -> None:
    server.clock.offset = timedelta(minutes=14)

    response = cas_client(server).describe_deployment_job(cas_models.DescribeDeploymentJobRequest(job_id=3))

    assert response.body.id == 3


def call_anonymously(server: CasStubServer, headers: dict[str, str]) -> ClientException:
    """An unsigned RPC call (the SDK's `Anonymous` auth type) carrying extra `headers`."""
    client = cas_client(server, global_parameters=GlobalParameters(headers=headers))
    params = Params(
        action="DescribeDeploymentJob",
        version="2020-04-07",
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="Anonymous",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    return raises_client_error(lambda: client.call_api(params, OpenApiRequest(query={"JobId": "1"}), RuntimeOptions()))


def test_request_without_authorization_is_incomplete_signature(server: CasStubServer) -> None:
    error = call_anonymously(server, {})

    assert (error.status_code, error.code) == (400, "IncompleteSignature")


@pytest.mark.parametrize(
    "authorization",
    [
        "ACS3-HMAC-SHA256 garbage",
        "ACS3-HMAC-SHA256 Credential=LTAI-test-key,SignedHeaders=host,Signature=zz",
        "ACS3-HMAC-SM3 Credential=LTAI-test-key,SignedHeaders=host,Signature=" + "0" * 64,
        "Basic dXNlcjpwYXNz",
    ],
    ids=["no-parts", "signature-not-hex", "unsupported-algorithm", "other-scheme"],
)
def test_garbled_authorization_is_incomplete_signature(server: CasStubServer, authorization: str) -> None:
    error = call_anonymously(server, {"Authorization": authorization})

    assert (error.status_code, error.code) == (400, "IncompleteSignature")


@pytest.mark.parametrize("signing", [V3, V1], ids=["acs3-hmac-sha256", "hmac-sha1"])
def test_sts_security_token_is_refused_even_with_a_valid_signature(
    server: CasStubServer, signing: dict[str, str]
) -> None:
    client = cas_client(server, security_token="CAIS-sts-token", **signing)

    error = raises_client_error(
        lambda: client.describe_deployment_job(cas_models.DescribeDeploymentJobRequest(job_id=1))
    )

    assert (error.status_code, error.code) == (400, "InvalidSecurityToken")
    assert "STS" in error.message


@pytest.mark.parametrize("signing", [V3, V1], ids=["acs3-hmac-sha256", "hmac-sha1"])
def test_bearer_token_is_refused(server: CasStubServer, signing: dict[str, str]) -> None:
    client = CasClient(Config(endpoint=server.endpoint, protocol="http", bearer_token="bearer-token", **signing))

    error = raises_client_error(
        lambda: client.describe_deployment_job(cas_models.DescribeDeploymentJobRequest(job_id=1))
    )

    assert (error.status_code, error.code) == (400, "UnsupportedSignatureType")


def test_missing_required_parameter_reaches_the_sdk_as_missing_parameter(server: CasStubServer) -> None:
    error = raises_client_error(
        lambda: cas_client(server).describe_deployment_job(cas_models.DescribeDeploymentJobRequest())
    )

    assert (error.status_code, error.code) == (400, "MissingParameter")
    assert "JobId" in error.message


def test_malformed_integer_reaches_the_sdk_as_invalid_parameter_of_that_name(server: CasStubServer) -> None:
    error = raises_client_error(
        lambda: cas_client(server).create_deployment_job(
            cas_models.CreateDeploymentJobRequest(
                name="n", job_type="user", cert_ids="1,x", resource_ids="3", contact_ids="5"
            )
        )
    )

    assert (error.status_code, error.code) == (400, "InvalidParameter.CertIds")


def test_unknown_action_is_invalid_api_not_found_with_status_404(server: CasStubServer) -> None:
    params = rpc_params("NoSuchAction")

    error = raises_client_error(lambda: cas_client(server).call_api(params, OpenApiRequest(query={}), RuntimeOptions()))

    assert (error.status_code, error.code) == (404, "InvalidApi.NotFound")
