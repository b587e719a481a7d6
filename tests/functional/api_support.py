"""What the API tests share: the official CAS SDK client pointed at our local HTTP front, and a world of resources.

The container's clock starts at the real time: the SDK signs with the system clock and the server refuses signatures
more than 15 minutes off its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.utils_models import Config

from certdeploy.app.accounts import Credentials
from certdeploy.bootstrap.container import Container
from certdeploy.local.http_server import ApiHttpServer, serving
from tests.certgen import GeneratedCert, make_cert
from tests.functional.conftest import ManualClock
from tests.rpc_calls import raw_call

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")

# One resource of each kind the scenarios need: a CDN with a certificate bound by someone else, two listeners (one
# whose deploys fail), a bucket with HTTPS off and a WAF site no certificate covers.
INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com, cert: legacy-www}
  - {product: ALB, region: cn-shanghai, instance: alb-1, domain: api.example.com, port: 443}
  - {product: NLB, region: cn-shanghai, instance: nlb-1, domain: tcp.example.com, port: 8443, fail: listener is locked}
  - {product: OSS, region: cn-beijing, instance: bucket-a, domain: static.example.com, https: false}
  - {product: WAF, region: cn-hangzhou, instance: waf-1, domain: shop.example.org}
"""


def real_time_clock() -> ManualClock:
    return ManualClock(datetime.now(timezone.utc))


@contextmanager
def api_server(container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHttpServer]:
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    with serving(ApiHttpServer(container)) as server:
        yield server


def sdk_client(server: ApiHttpServer, credentials: Credentials, **config: Any) -> CasClient:
    return sdk_client_at(server.endpoint, credentials, **config)


def sdk_client_at(endpoint: str, credentials: Credentials, **config: Any) -> CasClient:
    """The SDK client of `credentials` for the front at `endpoint` (`host:port`)."""
    return CasClient(
        Config(
            endpoint=endpoint,
            protocol="http",
            access_key_id=credentials.access_key_id,
            access_key_secret=credentials.access_key_secret,
            read_timeout=20_000,
            **config,
        )
    )


def upload(client: CasClient, name: str, generated: GeneratedCert | None = None) -> int:
    generated = generated or make_cert(["*.example.com"], common_name="*.example.com")
    response = client.upload_user_certificate(
        cas.UploadUserCertificateRequest(name=name, cert=generated.cert_pem, key=generated.key_pem)
    )
    return response.body.cert_id


def resource_ids(client: CasClient) -> dict[str, int]:
    """Product code → resource Id of the INVENTORY world."""
    data = client.list_cloud_resources(cas.ListCloudResourcesRequest(show_size=100)).body.data
    return {item.cloud_product: item.id for item in data}


def create_job(client: CasClient, cert_ids: list[int], resources: list[int], **extra: Any) -> int:
    request = cas.CreateDeploymentJobRequest(
        name=extra.pop("name", "rollout"),
        job_type=extra.pop("job_type", "user"),
        cert_ids=",".join(map(str, cert_ids)),
        resource_ids=",".join(map(str, resources)),
        **extra,
    )
    return client.create_deployment_job(request).body.job_id


def job_status(client: CasClient, job_id: int) -> str:
    return client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body.status


def workers(client: CasClient, job_id: int) -> dict[str, dict[str, Any]]:
    """Product code → the raw Worker object (ErrorCode/ErrorMessage included)."""
    body = raw_call(client, "ListWorkerResource", {"JobId": job_id})
    return {item["CloudProduct"]: item for item in body["Data"]}


def webhooks_text(*urls: str) -> str:
    return json.dumps(list(urls))


def cli_api_flags(server: ApiHttpServer, credentials: Credentials) -> list[str]:
    """The `certdeploy jobs …` flags that point the CLI at `server` as `credentials`' account."""
    return [
        "--endpoint",
        f"http://{server.endpoint}",
        "--access-key-id",
        credentials.access_key_id,
        "--access-key-secret",
        credentials.access_key_secret,
    ]
