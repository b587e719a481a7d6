"""Deployment jobs through the official CAS SDK against the local HTTP front: create, preview, submit, run, inspect,
roll back, delete — and the refusals a user meets on the way."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from certdeploy.app.accounts import create_account
from certdeploy.app.certificates import add_certificate
from certdeploy.app.scheduler import tick
from certdeploy.bootstrap.container import Container
from certdeploy.domain.models import CertOrigin
from certdeploy.local.http_server import ApiHttpServer
from tests.certgen import make_cert
from tests.fakes.queue_drain import drain
from tests.functional.api_support import INVENTORY, create_job, job_status, resource_ids, sdk_client, upload, workers
from tests.functional.conftest import ManualClock, load_inventory
from tests.rpc_calls import raw_call, refused


@pytest.fixture
def client(client: CasClient, inventory: None) -> CasClient:
    """The account's client, with the demo inventory as its cloud resources."""
    return client


@pytest.fixture
def world(client: CasClient) -> dict[str, int]:
    return {"cert": upload(client, "wild"), **resource_ids(client)}


def _all_resources(world: dict[str, int]) -> list[int]:
    return [world[p] for p in ("CDN", "ALB", "NLB", "OSS", "WAF")]


def _submit(client: CasClient, job_id: int, status: str = "scheduling") -> None:
    client.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status=status))


def test_the_preview_counts_workers_cost_and_says_why_resources_are_left_out(
    client: CasClient, world: dict[str, int]
) -> None:
    job_id = create_job(client, [world["cert"]], _all_resources(world))

    preview = raw_call(client, "DescribeDeploymentJobStatus", {"JobId": job_id})
    typed = client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=job_id)).body

    assert typed.worker_count == typed.match_worker_count == 3
    assert (typed.cert_count, typed.cost_count, typed.buy_count, typed.use_count) == (1, 3, 10, 0)
    assert typed.resource_count == 5
    assert {(p.product_name, p.count) for p in typed.product_worker_count} == {("ALB", 1), ("CDN", 1), ("NLB", 1)}
    assert {(e["ResourceId"], e["CloudProduct"], e["Reason"]) for e in preview["ExcludedResources"]} == {
        (world["OSS"], "OSS", "https_disabled"),
        (world["WAF"], "WAF", "no_match"),
    }
    assert all(e["ReasonText"] for e in preview["ExcludedResources"])
    matched = client.list_cloud_resources(cas.ListCloudResourcesRequest(cert_ids=[world["cert"]])).body
    assert {r.cloud_product for r in matched.data} == {"CDN", "ALB", "NLB"} and matched.total == 3


def test_a_submitted_job_deploys_reports_each_resource_and_refunds_the_failure(
    client: CasClient, world: dict[str, int], container: Container
) -> None:
    job_id = create_job(client, [world["cert"]], _all_resources(world))

    _submit(client, job_id)
    drain(container)

    job = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body
    assert (job.status, job.cert_type, job.job_type, job.product_name) == ("error", "upload", "user", "ALB,CDN,NLB")
    assert job.start_time.isdigit() and job.end_time.isdigit() and len(job.gmt_create) == 13
    by_product = workers(client, job_id)
    assert {p: w["Status"] for p, w in by_product.items()} == {"CDN": "success", "ALB": "success", "NLB": "error"}
    assert by_product["NLB"]["ErrorMessage"] and by_product["NLB"]["ErrorCode"]
    assert by_product["CDN"]["ResourceDomain"] == "www.example.com"
    assert by_product["ALB"]["Port"] == 443 and by_product["ALB"]["DefaultResource"] is True
    progress = client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=job_id)).body
    assert (progress.success_count, progress.failed_count, progress.cost_count, progress.use_count) == (2, 1, 2, 2)
    listed = client.list_deployment_job(cas.ListDeploymentJobRequest(status="error")).body
    assert [j.id for j in listed.data] == [job_id] and listed.total == 1 and listed.show_size == 50
    bound = {r.cloud_product: r for r in client.list_cloud_resources(cas.ListCloudResourcesRequest()).body.data}
    assert (bound["CDN"].cert_id, bound["CDN"].cert_name) == (world["cert"], "wild")


def test_a_failed_worker_is_filtered_and_rolled_back_on_request(
    client: CasClient, world: dict[str, int], container: Container
) -> None:
    job_id = create_job(client, [world["cert"]], [world["CDN"], world["ALB"]])
    _submit(client, job_id)
    drain(container)
    cdn_worker = workers(client, job_id)["CDN"]["Id"]

    other_status = refused(
        lambda: client.update_worker_resource_status(
            cas.UpdateWorkerResourceStatusRequest(job_id=job_id, worker_id=cdn_worker, status="pending")
        )
    )
    client.update_worker_resource_status(
        cas.UpdateWorkerResourceStatusRequest(job_id=job_id, worker_id=cdn_worker, status="rollback")
    )
    drain(container)

    assert other_status.code == "InvalidParameter.Status" and "rollback" in other_status.message
    assert workers(client, job_id)["CDN"]["Status"] == "rollback_success"
    job = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body
    assert (job.status, job.rollback) == ("rolled_back", 1)
    cdn = [r for r in client.list_cloud_resources(cas.ListCloudResourcesRequest()).body.data if r.id == world["CDN"]]
    assert cdn[0].cert_name == "legacy-www" and cdn[0].cert_id is None
    again = refused(
        lambda: client.create_rollback_task(cas.CreateRollbackTaskRequest(job_id=job_id, worker_id=cdn_worker))
    )
    assert again.code == "InvalidStatus" and again.status_code == 400


def test_rollback_is_refused_before_the_job_has_run(client: CasClient, world: dict[str, int]) -> None:
    job_id = create_job(client, [world["cert"]], [world["CDN"]])
    worker_id = workers(client, job_id)["CDN"]["Id"]

    error = refused(
        lambda: client.create_rollback_task(cas.CreateRollbackTaskRequest(job_id=job_id, worker_id=worker_id))
    )

    assert error.code == "InvalidStatus"
    assert workers(client, job_id)["CDN"]["Status"] == "editing"


def test_an_editing_job_is_changed_and_loses_a_worker_but_a_submitted_one_cannot_be_edited(
    client: CasClient, world: dict[str, int], container: Container
) -> None:
    job_id = create_job(client, [world["cert"]], [world["CDN"]])
    client.update_deployment_job(
        cas.UpdateDeploymentJobRequest(job_id=job_id, name="renamed", resource_ids=f"{world['CDN']},{world['ALB']}")
    )
    client.delete_worker_resource(
        cas.DeleteWorkerResourceRequest(job_id=job_id, worker_id=workers(client, job_id)["ALB"]["Id"])
    )
    assert set(workers(client, job_id)) == {"CDN"}
    described = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body
    assert described.name == "renamed"
    # Config is JSON text as CAS writes it, spaces and all, with the job's lists as last edited.
    config = {
        "shareCertIds": [],
        "certIds": [world["cert"]],
        "resourceIds": [world["CDN"], world["ALB"]],
        "contactIds": [],
    }
    assert described.config == json.dumps(config)

    _submit(client, job_id)
    drain(container)

    update = refused(
        lambda: client.update_deployment_job(cas.UpdateDeploymentJobRequest(job_id=job_id, name="too late"))
    )
    status = refused(lambda: _submit(client, job_id, "pending"))
    assert (update.code, status.code) == ("InvalidStatus", "InvalidStatus")
    assert client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body.name == "renamed"


def test_one_certificate_type_per_job(client: CasClient, world: dict[str, int], container: Container, account) -> None:
    official = make_cert(["api.example.com"], common_name="api.example.com")
    bought = add_certificate(
        container.deps,
        account.account.id,
        name="bought",
        origin=CertOrigin.BUY,
        cert_pem=official.cert_pem,
        key_pem=official.key_pem,
    )

    error = refused(lambda: create_job(client, [world["cert"], bought.id], [world["ALB"]]))

    assert error.code == "InvalidParameter.CertIds" and "one type" in error.message
    assert client.list_deployment_job(cas.ListDeploymentJobRequest()).body.total == 0
    official_job = create_job(client, [bought.id], [world["ALB"]])
    assert client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=official_job)).body.cert_type == "buy"


def test_more_than_ten_contacts_are_refused(client: CasClient, world: dict[str, int]) -> None:
    contact_ids = [
        client.create_contact(cas.CreateContactRequest(name=f"c{i}", mobile=f"1380000{i:04d}")).body.contact_id
        for i in range(11)
    ]

    error = refused(
        lambda: create_job(client, [world["cert"]], [world["CDN"]], contact_ids=",".join(map(str, contact_ids)))
    )
    ten = create_job(client, [world["cert"]], [world["CDN"]], contact_ids=",".join(map(str, contact_ids[:10])))

    assert error.code == "InvalidParameter.ContactIds"
    contacts = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=ten)).body.cas_contacts
    assert [c.id for c in contacts] == [str(i) for i in contact_ids[:10]]


def test_quota_exceeded_leaves_the_job_editing_and_charges_nothing(
    container: Container, server: ApiHttpServer, tmp_path: Path
) -> None:
    poor = create_account(container.store, "poor", quota=1)
    load_inventory(container, poor.account.id, INVENTORY, tmp_path)
    client = sdk_client(server, poor)
    cert = upload(client, "wild")
    ids = resource_ids(client)
    job_id = create_job(client, [cert], [ids["CDN"], ids["ALB"]])

    error = refused(lambda: _submit(client, job_id))

    assert (error.code, error.status_code) == ("QuotaExceeded", 400)
    assert job_status(client, job_id) == "editing"
    status = client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=job_id)).body
    assert (status.buy_count, status.use_count, status.cost_count) == (1, 0, 2)


def test_a_job_matching_nothing_ends_in_error_when_submitted(client: CasClient, world: dict[str, int]) -> None:
    job_id = create_job(client, [world["cert"]], [world["OSS"], world["WAF"]])

    _submit(client, job_id, "pending")

    assert job_status(client, job_id) == "error"
    status = client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=job_id)).body
    assert (status.worker_count, status.use_count) == (0, 0)


def test_a_scheduled_job_waits_for_its_time_given_in_seconds(
    client: CasClient, world: dict[str, int], container: Container, clock: ManualClock
) -> None:
    at = clock.now() + timedelta(seconds=90)
    job_id = create_job(client, [world["cert"]], [world["ALB"]], schedule_time=int(at.timestamp()))
    _submit(client, job_id, "pending")
    tick(container.deps)
    assert job_status(client, job_id) == "pending"

    clock.advance(120)
    tick(container.deps)
    drain(container)

    job = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body
    assert job.status == "success" and job.schedule_time == str(int(at.timestamp()) * 1000)


def test_scheduling_starts_a_pending_job_before_its_time(
    client: CasClient, world: dict[str, int], container: Container, clock: ManualClock
) -> None:
    later = clock.now() + timedelta(hours=1)
    job_id = create_job(client, [world["cert"]], [world["ALB"]], schedule_time=int(later.timestamp() * 1000))
    _submit(client, job_id, "pending")

    _submit(client, job_id, "scheduling")
    drain(container)

    job = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body
    assert job.status == "success" and int(job.start_time) < int(later.timestamp() * 1000)


def test_bad_job_parameters_are_refused_and_create_nothing(client: CasClient, world: dict[str, int]) -> None:
    cases = {
        "InvalidParameter.JobType": {"job_type": "USER"},
        "InvalidParameter.ScheduleTime": {"schedule_time": 12345},
        "InvalidParameter.Name": {"name": "n" * 64},
        "InvalidCertId.NotFound": {"cert_ids": [999]},
        "InvalidResourceId.NotFound": {"resources": [999]},
        "InvalidParameter.CertIds": {"cert_ids_text": "1,,2"},
    }
    for code, change in cases.items():
        cert_ids = change.pop("cert_ids", [world["cert"]])
        resources = change.pop("resources", [world["CDN"]])
        text = change.pop("cert_ids_text", None)
        request = cas.CreateDeploymentJobRequest(
            name=change.get("name", "job"),
            job_type=change.get("job_type", "user"),
            cert_ids=text or ",".join(map(str, cert_ids)),
            resource_ids=",".join(map(str, resources)),
            schedule_time=change.get("schedule_time"),
        )
        error = refused(lambda request=request: client.create_deployment_job(request))
        assert (error.code, error.status_code) == (code, 404 if code.endswith("NotFound") else 400), code
        assert error.request_id
    missing = refused(lambda: client.create_deployment_job(cas.CreateDeploymentJobRequest(name="x", job_type="user")))
    assert missing.code == "MissingParameter"
    assert client.list_deployment_job(cas.ListDeploymentJobRequest()).body.total == 0


def test_delete_rules_and_the_release_of_a_pending_job(
    client: CasClient, world: dict[str, int], container: Container, clock: ManualClock
) -> None:
    later = clock.now() + timedelta(hours=1)
    pending = create_job(client, [world["cert"]], [world["ALB"]], schedule_time=int(later.timestamp() * 1000))
    _submit(client, pending, "pending")
    assert (
        client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=pending)).body.use_count
        == 1
    )

    client.delete_deployment_job(cas.DeleteDeploymentJobRequest(job_id=pending))

    gone = refused(lambda: client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=pending)))
    assert (gone.code, gone.status_code) == ("NotFound", 404)
    editing = create_job(client, [world["cert"]], [world["CDN"]])
    status = client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=editing)).body
    assert status.use_count == 0
    running = create_job(client, [world["cert"]], [world["CDN"]], name="running")
    _submit(client, running)
    busy = refused(lambda: client.delete_deployment_job(cas.DeleteDeploymentJobRequest(job_id=running)))
    assert busy.code == "InvalidStatus" and job_status(client, running) == "processing"
    drain(container)
    client.delete_deployment_job(cas.DeleteDeploymentJobRequest(job_id=running))
    assert [j.id for j in client.list_deployment_job(cas.ListDeploymentJobRequest()).body.data] == [editing]


def test_job_certificates_and_resources_are_listed(client: CasClient, world: dict[str, int]) -> None:
    job_id = create_job(client, [world["cert"]], [world["CDN"], world["OSS"]])

    certs = client.list_deployment_job_cert(cas.ListDeploymentJobCertRequest(job_id=job_id)).body.data
    resources = raw_call(client, "ListDeploymentJobResource", {"JobId": job_id})["Data"]
    by_cert = client.list_deployment_job(cas.ListDeploymentJobRequest(cert_id=world["cert"])).body
    by_instance = client.list_deployment_job(cas.ListDeploymentJobRequest(instance_id=f"cas-job-user-{job_id}")).body

    assert [(c.cert_id, c.cert_name, c.sans, c.status_code) for c in certs] == [
        (world["cert"], "wild", ["*.example.com"], "upload")
    ]
    assert certs[0].not_after_time == 4733510400  # 2120-01-01, in seconds as this operation documents
    remarks = {r["CloudProduct"]: r["Remark"] for r in resources}
    assert remarks["CDN"].startswith("worker") and "HTTPS is disabled" in remarks["OSS"]
    assert [j.id for j in by_cert.data] == [job_id] == [j.id for j in by_instance.data]


def test_a_pending_job_goes_back_to_editing_with_its_charge_released(
    client: CasClient, world: dict[str, int], clock: ManualClock
) -> None:
    later = clock.now() + timedelta(hours=1)
    job_id = create_job(client, [world["cert"]], [world["ALB"]], schedule_time=int(later.timestamp() * 1000))
    _submit(client, job_id, "pending")

    _submit(client, job_id, "editing")

    status = client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=job_id)).body
    assert (job_status(client, job_id), status.worker_count, status.use_count) == ("editing", 1, 0)
    assert [w["Status"] for w in workers(client, job_id).values()] == ["editing"]
