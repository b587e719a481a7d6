"""Verification through the CAS SDK: the `VerifyMismatch` job option and each worker's verification in
ListWorkerResource (extra fields the typed models drop; read from the raw body)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from certdeploy.app.accounts import Credentials
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from tests.certgen import make_ca, make_cert
from tests.fakes.queue_drain import drain
from tests.functional.api_support import INVENTORY, resource_ids, upload, workers
from tests.functional.conftest import ManualClock, load_inventory
from tests.rpc_calls import raw_call, refused


@pytest.fixture
def container(tmp_path: Path, clock: ManualClock) -> Iterator[Container]:
    """The functional container with the local cloud serving TLS (so verification is on)."""
    built = build_container(Settings(data=tmp_path / "data", local_tls_port=0), clock=clock)
    yield built
    built.close()


@pytest.fixture
def alb_job(client: CasClient, container: Container, account: Credentials, tmp_path: Path) -> dict[str, int]:
    load_inventory(container, account.account.id, INVENTORY, tmp_path)
    issued = make_cert(["*.example.com"], common_name="*.example.com", issuer=make_ca("API Verify Root"))
    cert_id = upload(client, "verified", issued)
    return {"cert": cert_id, "alb": resource_ids(client)["ALB"]}


def _create(client: CasClient, world: dict[str, int], mismatch: str) -> int:
    body = raw_call(
        client,
        "CreateDeploymentJob",
        {
            "Name": "verified",
            "JobType": "user",
            "CertIds": world["cert"],
            "ResourceIds": world["alb"],
            "VerifyMismatch": mismatch,
        },
    )
    return int(body["JobId"])


def test_a_worker_lists_its_verification(client: CasClient, container: Container, alb_job: dict[str, int]) -> None:
    job_id = _create(client, alb_job, "fail")
    client.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status="scheduling"))
    drain(container)
    alb = workers(client, job_id)["ALB"]
    assert alb["Status"] == "success"
    assert (alb["VerifyStatus"], alb["VerifyServerName"], alb["VerifyChecks"]) == ("verified", "api.example.com", 1)
    assert alb["VerifyCheckedAt"].isdigit() and "ServedFingerprint" not in alb


def test_an_unknown_mismatch_option_is_an_invalid_parameter(client: CasClient, alb_job: dict[str, int]) -> None:
    error = refused(lambda: _create(client, alb_job, "ignore"))
    assert (error.status_code, error.code) == (400, "InvalidParameter.VerifyMismatch")
