"""Whatever a client sends, the API answers with a CAS error of status 4xx or a success — never a 5xx.

Random text (and integer-looking, list-looking and JSON-looking text) for every parameter of each action, answered
for an authenticated account that owns a certificate, resources, a contact and a job, so ids that exist are hit too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certdeploy.api.rpc import RpcRequest
from certdeploy.api.service import answer
from certdeploy.app.accounts import Credentials
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.contacts import ContactDraft, create_contact
from certdeploy.app.jobs import JobDraft, create_job
from certdeploy.bootstrap.container import Container
from tests.certgen import make_cert
from tests.functional.api_support import INVENTORY
from tests.functional.conftest import load_inventory

ACTION_PARAMETERS: dict[str, tuple[str, ...]] = {
    "CreateDeploymentJob": ("Name", "JobType", "CertIds", "ResourceIds", "ContactIds", "ScheduleTime"),
    "UpdateDeploymentJob": ("JobId", "Name", "CertIds", "ResourceIds", "ContactIds", "ScheduleTime"),
    "UpdateDeploymentJobStatus": ("JobId", "Status"),
    "DescribeDeploymentJobStatus": ("JobId",),
    "DescribeDeploymentJob": ("JobId",),
    "ListDeploymentJobResource": ("JobId",),
    "CreateRollbackTask": ("JobId", "WorkerId"),
    "DeleteWorkerResource": ("JobId", "WorkerId"),
    "ListDeploymentJob": ("JobType", "Status", "CertId", "InstanceId", "CurrentPage", "ShowSize"),
    "ListWorkerResource": ("JobId", "Status", "CloudProduct", "CurrentPage", "ShowSize"),
    "UpdateWorkerResourceStatus": ("JobId", "WorkerId", "Status"),
    "ListCloudResources": ("CloudName", "CloudProduct", "Keyword", "CertIds", "CurrentPage", "ShowSize"),
    "GetMatchedResources": ("CertIds", "MaxResults", "NextToken"),
    "UploadUserCertificate": ("Name", "Cert", "Key", "SignCert", "SignPrivateKey", "Tags.1.Key", "Tags.x.Value"),
    "ListUserCertificateOrder": ("OrderType", "Status", "Keyword", "CurrentPage", "ShowSize"),
    "GetUserCertificateDetail": ("CertId", "CertFilter"),
    "CreateContact": ("Name", "Mobile", "Email", "Webhooks"),
    "UpdateContact": ("ContactId", "Name", "Mobile", "Email", "Webhooks"),
    "ListContact": ("Keyword", "CurrentPage", "ShowSize"),
}

values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["1", "2", "0", "-1", "True", "true", "[1]", "[]", "1,2", "editing", "CDN", "user", ""]),
    st.lists(st.integers(min_value=-3, max_value=2**64), max_size=4).map(json.dumps),
    st.lists(st.text(max_size=10), max_size=3).map(json.dumps),
)


@pytest.fixture
def owner(container: Container, account: Credentials, tmp_path: Path) -> int:
    account_id = account.account.id
    load_inventory(container, account_id, INVENTORY, tmp_path)
    generated = make_cert(["*.example.com"], common_name="*.example.com")
    cert = upload_certificate(
        container.deps, account_id, CertificateUpload(name="wild", cert=generated.cert_pem, key=generated.key_pem)
    )
    create_contact(container.deps, account_id, ContactDraft(name="Ops", mobile="13800000000"), lambda url: None)
    resources = [r.id for r in container.store.list_resources(account_id, page_size=10).items]
    create_job(container.deps, account_id, JobDraft(name="job", cert_ids=(cert.id,), resource_ids=tuple(resources)))
    return account_id


@pytest.mark.parametrize("action", sorted(ACTION_PARAMETERS))
def test_no_input_makes_the_api_fail_with_a_server_error(container: Container, owner: int, action: str) -> None:
    names = ACTION_PARAMETERS[action]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.dictionaries(st.sampled_from(names), values, max_size=len(names)))
    def check(parameters: dict[str, str]) -> None:
        request = RpcRequest.from_decoded(
            method="POST",
            path="/",
            query={"Action": action, "Version": "2020-04-07", **parameters},
            headers={},
            body=b"",
            source="127.0.0.1",
        )

        response = answer(container.api, owner, request)

        assert response.status < 500, (parameters, response.body)
        assert response.body["RequestId"]
        if response.status >= 400:
            assert response.body["Code"] and response.body["Message"]

    check()
