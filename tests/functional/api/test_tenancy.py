"""Who may call what: another account's AccessKey finds nothing of the first account, and requests that are not
correctly signed are refused before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from certdeploy.app.accounts import Credentials, create_account
from certdeploy.bootstrap.container import Container
from certdeploy.local.http_server import ApiHttpServer
from tests.fakes.queue_drain import drain
from tests.functional.api_support import create_job, resource_ids, sdk_client, upload, workers
from tests.rpc_calls import raw_call, refused


@pytest.fixture
def owner(client: CasClient, inventory: None) -> CasClient:
    return client


@pytest.fixture
def stranger(server: ApiHttpServer, container: Container) -> CasClient:
    return sdk_client(server, create_account(container.store, "stranger", quota=10))


def test_another_account_finds_nothing_of_the_first_and_changes_nothing(
    owner: CasClient, stranger: CasClient, container: Container
) -> None:
    cert_id = upload(owner, "wild")
    resources = resource_ids(owner)
    contact_id = owner.create_contact(cas.CreateContactRequest(name="Ops", mobile="13800000000")).body.contact_id
    ran = create_job(owner, [cert_id], [resources["CDN"]], contact_ids=str(contact_id))
    owner.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=ran, status="scheduling"))
    drain(container)
    editing = create_job(owner, [cert_id], [resources["ALB"]], name="editing")
    worker_id = workers(owner, ran)["CDN"]["Id"]
    editing_worker = workers(owner, editing)["ALB"]["Id"]

    calls: dict[str, Callable[[], Any]] = {
        "DescribeDeploymentJob": lambda: stranger.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=ran)),
        "DescribeDeploymentJobStatus": lambda: stranger.describe_deployment_job_status(
            cas.DescribeDeploymentJobStatusRequest(job_id=editing)
        ),
        "UpdateDeploymentJob": lambda: stranger.update_deployment_job(
            cas.UpdateDeploymentJobRequest(job_id=editing, name="mine")
        ),
        "UpdateDeploymentJobStatus": lambda: stranger.update_deployment_job_status(
            cas.UpdateDeploymentJobStatusRequest(job_id=editing, status="scheduling")
        ),
        "ListDeploymentJobCert": lambda: stranger.list_deployment_job_cert(
            cas.ListDeploymentJobCertRequest(job_id=ran)
        ),
        "ListDeploymentJobResource": lambda: stranger.list_deployment_job_resource(
            cas.ListDeploymentJobResourceRequest(job_id=ran)
        ),
        "ListWorkerResource": lambda: stranger.list_worker_resource(cas.ListWorkerResourceRequest(job_id=ran)),
        "UpdateWorkerResourceStatus": lambda: stranger.update_worker_resource_status(
            cas.UpdateWorkerResourceStatusRequest(job_id=ran, worker_id=worker_id, status="rollback")
        ),
        "CreateRollbackTask": lambda: stranger.create_rollback_task(
            cas.CreateRollbackTaskRequest(job_id=ran, worker_id=worker_id)
        ),
        "DeleteWorkerResource": lambda: stranger.delete_worker_resource(
            cas.DeleteWorkerResourceRequest(job_id=editing, worker_id=editing_worker)
        ),
        "DeleteDeploymentJob": lambda: stranger.delete_deployment_job(cas.DeleteDeploymentJobRequest(job_id=ran)),
        "GetUserCertificateDetail": lambda: stranger.get_user_certificate_detail(
            cas.GetUserCertificateDetailRequest(cert_id=cert_id)
        ),
        "DeleteUserCertificate": lambda: stranger.delete_user_certificate(
            cas.DeleteUserCertificateRequest(cert_id=cert_id)
        ),
        "UpdateContact": lambda: stranger.update_contact(cas.UpdateContactRequest(contact_id=contact_id, name="mine")),
        "DeleteContact": lambda: stranger.delete_contact(cas.DeleteContactRequest(contact_id=contact_id)),
        "CreateDeploymentJob": lambda: create_job(stranger, [cert_id], [resources["CDN"]]),
        "ListDeploymentJobEvents": lambda: raw_call(stranger, "ListDeploymentJobEvents", {"JobId": ran}),
    }
    for action, call in calls.items():
        error = refused(call)
        assert error.status_code == 404 and error.code.endswith("NotFound"), action

    assert (
        stranger.list_user_certificate_order(cas.ListUserCertificateOrderRequest(order_type="CERT")).body.total_count
        == 0
    )
    assert stranger.list_deployment_job(cas.ListDeploymentJobRequest()).body.total == 0
    assert stranger.list_contact(cas.ListContactRequest()).body.total_count == 0
    assert stranger.list_cloud_resources(cas.ListCloudResourcesRequest()).body.total == 0
    assert stranger.get_matched_resources(cas.GetMatchedResourcesRequest(cert_ids=str(cert_id))).body.data == []
    assert owner.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=editing)).body.name == "editing"
    assert workers(owner, ran)["CDN"]["Status"] == "success"
    assert owner.list_contact(cas.ListContactRequest()).body.contact_list[0].name == "Ops"
    assert owner.get_user_certificate_detail(cas.GetUserCertificateDetailRequest(cert_id=cert_id)).body.key


def test_matched_resources_are_answered_as_a_list(owner: CasClient) -> None:
    cert_id = upload(owner, "wild")

    matched = owner.get_matched_resources(cas.GetMatchedResourcesRequest(cert_ids=str(cert_id))).body

    assert sorted(item["CloudProduct"] for item in matched.data) == ["ALB", "CDN", "NLB"]
    assert (matched.max_results, matched.next_token) == (20, "")


def test_requests_signed_with_a_wrong_secret_or_unknown_key_are_refused(
    server: ApiHttpServer, account: Credentials
) -> None:
    forged = Credentials(account.account, account.access_key_id, "not-the-secret")
    unknown = Credentials(account.account, "LTAIunknown", "whatever")

    bad_signature = refused(lambda: sdk_client(server, forged).list_contact(cas.ListContactRequest()))
    bad_key = refused(lambda: sdk_client(server, unknown).list_contact(cas.ListContactRequest()))
    legacy = sdk_client(server, account, signature_algorithm="v2").list_contact(cas.ListContactRequest())

    assert (bad_signature.code, bad_signature.status_code) == ("SignatureDoesNotMatch", 400)
    assert bad_key.code == "InvalidAccessKeyId.NotFound"
    assert legacy.body.total_count == 0 and legacy.body.request_id


def test_unknown_actions_and_versions_are_refused(server: ApiHttpServer, account: Credentials) -> None:
    client = sdk_client(server, account)

    unknown = refused(lambda: raw_call(client, "DescribeEverything", {}))
    old_version = refused(lambda: raw_call(client, "ListContact", {}, version="2018-07-13"))

    assert (unknown.code, unknown.status_code) == ("InvalidApi.NotFound", 404)
    assert (old_version.code, old_version.status_code) == ("InvalidApi.NotFound", 404)
