"""Hosted deployment: for an account with hosting on, issuing a renewal of a certificate that is deployed makes a
`trustee` job that deploys the renewal onto the resources carrying the old one, with nobody calling the API."""

from __future__ import annotations

import pytest
from alibabacloud_cas20200407 import models as cas

from tests.acceptance.conftest import (
    Service,
    create_job,
    job,
    progress,
    resources_by_domain,
    submit,
    wait_until_finished,
)
from tests.functional.serve_process import wait_for

INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: cdn-shop, domain: shop.example.net}
  - {product: WAF, region: cn-hangzhou, instance: waf-api, domain: api.example.net}
  - {product: FC, region: cn-hangzhou, instance: fc-other, domain: other.example.net}
"""


def test_a_renewal_of_a_deployed_certificate_is_deployed_by_a_trustee_job(
    service: Service, tmp_path_factory: pytest.TempPathFactory
) -> None:
    inventory = tmp_path_factory.mktemp("hosted") / "inventory.yaml"
    inventory.write_text(INVENTORY)
    keys = service.create_account("hosted", inventory=inventory)  # no quota: official certificates need none
    service.admin("account", "update", "hosted", "--hosting", "on")
    client = service.client(keys)
    resources = resources_by_domain(client)
    current = service.issue("hosted", "shop.example.net,api.example.net", "--days", "30")
    first = create_job(client, "first deployment", [current], [r.id for r in resources.values()])
    submit(client, first)
    assert wait_until_finished(client, first).success_count == 2
    quota = progress(client, first)
    assert (quota.buy_count, quota.use_count) == (0, 0)

    renewal = service.issue("hosted", "shop.example.net,api.example.net", "--days", "90")

    def trustee_jobs() -> list[cas.ListDeploymentJobResponseBodyData]:
        return client.list_deployment_job(cas.ListDeploymentJobRequest(job_type="trustee")).body.data

    wait_for(lambda: bool(trustee_jobs()), "the hosted job for the renewal")
    [hosted] = trustee_jobs()
    counts = wait_until_finished(client, hosted.id)
    assert (job(client, hosted.id).status, counts.success_count, counts.failed_count) == ("success", 2, 0)
    certs = client.list_deployment_job_cert(cas.ListDeploymentJobCertRequest(job_id=hosted.id)).body.data
    assert [c.cert_id for c in certs] == [renewal]
    bound = {domain: resource.cert_id for domain, resource in resources_by_domain(client).items()}
    assert bound == {"shop.example.net": renewal, "api.example.net": renewal, "other.example.net": None}
