"""The preview shows, per resource, the certificate bound now → the one the job will bind (`BindingChanges`, ours
beyond CAS, read from the raw body of DescribeDeploymentJobStatus): the user sees the change before paying quota."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from certdeploy.app.accounts import Credentials
from certdeploy.bootstrap.container import Container
from certdeploy.cli.main import main
from certdeploy.local.http_server import ApiHttpServer
from tests.certgen import make_cert
from tests.fakes.queue_drain import drain
from tests.functional.api_support import cli_api_flags, create_job, resource_ids, upload
from tests.rpc_calls import raw_call

OLD_END = datetime(2027, 3, 1, tzinfo=timezone.utc)
NEW_END = datetime(2028, 3, 1, tzinfo=timezone.utc)


def _millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _changes(client: CasClient, job_id: int) -> dict[str, dict[str, object]]:
    body = raw_call(client, "DescribeDeploymentJobStatus", {"JobId": job_id})
    return {change["CloudProduct"]: change for change in body["BindingChanges"]}


def test_the_preview_lists_each_resources_certificate_now_and_the_one_it_will_get(
    client: CasClient, inventory: None, container: Container
) -> None:
    # GIVEN the ALB serving our certificate "old" (deployed by an earlier job) and the CDN serving "legacy-www",
    # bound by someone else, and the OSS bucket (HTTPS off) left out of any job
    wildcard = ["*.example.com"]
    old = upload(client, "old", make_cert(wildcard, common_name="*.example.com", not_after=OLD_END))
    new = upload(client, "new", make_cert(wildcard, common_name="*.example.com", not_after=NEW_END))
    resources = resource_ids(client)
    earlier = create_job(client, [old], [resources["ALB"]])
    client.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=earlier, status="scheduling"))
    drain(container)

    # WHEN a job for "new" on the CDN, the ALB and the bucket is previewed
    job_id = create_job(client, [new], [resources["CDN"], resources["ALB"], resources["OSS"]])
    changes = _changes(client, job_id)
    typed = client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=job_id)).body

    # THEN each worker's resource shows what it serves now → what it will serve
    assert set(changes) == {"CDN", "ALB"}
    planned = {"CertId": new, "CertName": "new", "CertEndTime": _millis(NEW_END)}
    alb, cdn = changes["ALB"], changes["CDN"]
    assert {key: alb[key] for key in planned} == planned == {key: cdn[key] for key in planned}
    assert (alb["ResourceId"], alb["Domain"]) == (resources["ALB"], "api.example.com")
    assert (alb["CurrentCertId"], alb["CurrentCertName"], alb["CurrentCertEndTime"]) == (old, "old", _millis(OLD_END))
    # a certificate that is not ours is named, its dates unknown
    assert cdn["CurrentCertName"] == "legacy-www"
    assert "CurrentCertId" not in cdn and "CurrentCertEndTime" not in cdn
    assert isinstance(cdn["WorkerId"], int) and cdn["WorkerId"] != alb["WorkerId"]
    # AND the CAS fields keep their meaning: the SDK's typed reply reads as before
    assert (typed.worker_count, typed.cost_count) == (2, 2)

    # WHEN the job is submitted, the diff is no longer a preview
    client.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status="pending"))
    assert _changes(client, job_id) == {}


def test_a_resource_serving_nothing_shows_only_what_it_will_get(client: CasClient, inventory: None) -> None:
    cert = upload(client, "wild")
    job_id = create_job(client, [cert], [resource_ids(client)["ALB"]])

    [alb] = _changes(client, job_id).values()

    assert not {"CurrentCertId", "CurrentCertName", "CurrentCertEndTime"} & set(alb)
    assert (alb["CertId"], alb["CertName"]) == (cert, "wild")


def test_the_cli_preview_shows_the_change_before_submitting(
    client: CasClient,
    inventory: None,
    server: ApiHttpServer,
    account: Credentials,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    cert = upload(client, "new", make_cert(["*.example.com"], not_after=NEW_END))
    keys = cli_api_flags(server, account)

    cdn = str(resource_ids(client)["CDN"])
    code = main(
        ["jobs", "create", *keys, "--name", "n", "--certs", str(cert), "--resources", cdn, "--yes", "--no-wait"]
    )

    out = capsys.readouterr().out
    assert code == 0 and "Certificates now → after the job" in out
    assert "www.example.com" in out and "legacy-www" in out and "new" in out
