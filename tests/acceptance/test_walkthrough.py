"""The whole feature, as a user walks it against `certdeploy serve` with the official CAS SDK: upload certificates
and contacts, preview, quota charged, immediate and scheduled jobs, a failing resource with its cause and its refund,
the contacts told by email and by bot exactly once, per-resource rollback, delete, another account seeing nothing,
and a bad signature refused.

Each scenario deploys onto resources of its own (by domain below), so their order does not matter.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from tests.acceptance.conftest import (
    BOT_TOKEN,
    HELD_MAIL_SECONDS,
    MAIL_FROM,
    AccountKeys,
    Service,
    call,
    create_job,
    job,
    progress,
    resources_by_domain,
    submit,
    upload,
    wait_until_finished,
    workers_by_product,
)
from tests.certgen import make_cert
from tests.functional.serve_process import wait_for
from tests.rpc_calls import refused

INVENTORY = """
resources:
  # immediate job: one succeeds, one always fails, one is throttled once and retried
  - {product: ALB, region: cn-shanghai, instance: alb-api, domain: api.example.com, port: 443}
  - {product: NLB, region: cn-shanghai, instance: nlb-tcp, domain: tcp.example.com, port: 8443, fail: listener locked}
  - {product: DCDN, region: cn-hangzhou, instance: dcdn-media, domain: media.example.com, flaky: 1}
  # scheduled job
  - {product: FC, region: cn-hangzhou, instance: fc-fn, domain: fn.example.com}
  # rollback
  - {product: CDN, region: cn-hangzhou, instance: cdn-www, domain: www.example.com, cert: legacy-www}
  # delete
  - {product: SAE, region: cn-hangzhou, instance: sae-app, domain: app.example.com}
  # never matched: HTTPS off, and a name no certificate covers
  - {product: OSS, region: cn-beijing, instance: bucket-static, domain: static.example.com, https: false}
  - {product: WAF, region: cn-hangzhou, instance: waf-shop, domain: shop.example.org}
"""
QUOTA = 20
NLB_CAUSE = "listener locked"


@dataclass(frozen=True)
class World:
    """The account `acme` after uploading its certificates and contacts through the SDK."""

    keys: AccountKeys
    client: CasClient
    wildcard: int
    www: int
    alice: int
    bob: int
    resource: dict[str, int]


@pytest.fixture(scope="module")
def world(service: Service, tmp_path_factory: pytest.TempPathFactory) -> World:
    inventory = tmp_path_factory.mktemp("acme") / "inventory.yaml"
    inventory.write_text(INVENTORY)
    keys = service.create_account("acme", quota=QUOTA, inventory=inventory)
    client = service.client(keys)
    wildcard = upload(client, "wildcard", make_cert(["*.example.com"], common_name="*.example.com"))
    www = upload(client, "www-current", make_cert(["www.example.com"], common_name="www.example.com"))
    alice = client.create_contact(
        cas.CreateContactRequest(
            name="Alice",
            mobile="13800000001",
            email="alice@example.com",
            webhooks=json.dumps([service.bots.webhook_url]),
        )
    ).body.contact_id
    bob = client.create_contact(
        cas.CreateContactRequest(name="Bob", mobile="13800000002", email="bob@example.com")
    ).body.contact_id
    resource = {domain: item.id for domain, item in resources_by_domain(client).items()}
    return World(keys, client, wildcard, www, alice, bob, resource)


def use_count(client: CasClient, job_id: int) -> int:
    return progress(client, job_id).use_count


def test_certificates_and_contacts_are_uploaded(service: Service, world: World) -> None:
    client = world.client

    certs = client.list_user_certificate_order(cas.ListUserCertificateOrderRequest(order_type="UPLOAD")).body
    detail = client.get_user_certificate_detail(cas.GetUserCertificateDetailRequest(cert_id=world.wildcard)).body
    contacts = client.list_contact(cas.ListContactRequest()).body

    assert {(c.certificate_id, c.name) for c in certs.certificate_order_list} == {
        (world.wildcard, "wildcard"),
        (world.www, "www-current"),
    }
    assert (detail.sans, detail.key.startswith("-----BEGIN")) == ("*.example.com", True)
    by_name = {c.name: c for c in contacts.contact_list}
    assert (by_name["Alice"].contact_id, by_name["Alice"].email) == (world.alice, "alice@example.com")
    assert by_name["Alice"].webhook_list == [service.bots.webhook_url]
    assert (by_name["Bob"].contact_id, contacts.total_count) == (world.bob, 2)


def test_the_preview_shows_matches_cost_and_why_resources_are_left_out(world: World) -> None:
    client = world.client
    everything = list(world.resource.values())
    job_id = create_job(client, "preview", [world.wildcard], everything, [world.alice])

    preview = progress(client, job_id)
    excluded = call(client, "DescribeDeploymentJobStatus", JobId=job_id)["ExcludedResources"]
    matched = client.list_cloud_resources(cas.ListCloudResourcesRequest(cert_ids=[world.wildcard])).body

    assert job(client, job_id).status == "editing"
    assert (preview.resource_count, preview.worker_count, preview.cert_count, preview.cost_count) == (8, 6, 1, 6)
    assert preview.buy_count == QUOTA
    assert {(p.product_name, p.count) for p in preview.product_worker_count} == {
        ("ALB", 1),
        ("NLB", 1),
        ("DCDN", 1),
        ("FC", 1),
        ("CDN", 1),
        ("SAE", 1),
    }
    assert {(e["ResourceId"], e["Reason"]) for e in excluded} == {
        (world.resource["static.example.com"], "https_disabled"),
        (world.resource["shop.example.org"], "no_match"),
    }
    assert {r.domain for r in matched.data} == {
        "api.example.com",
        "tcp.example.com",
        "media.example.com",
        "fn.example.com",
        "www.example.com",
        "app.example.com",
    }


def test_an_sm2_certificate_is_matched_only_where_sm_certificates_deploy(service: Service, world: World) -> None:
    sm2 = service.issue("acme", "www.example.com,api.example.com", "--sm2")
    job_id = create_job(
        world.client, "sm2 preview", [sm2], [world.resource["www.example.com"], world.resource["api.example.com"]]
    )

    preview = progress(world.client, job_id)
    excluded = call(world.client, "DescribeDeploymentJobStatus", JobId=job_id)["ExcludedResources"]

    assert job(world.client, job_id).cert_type == "free"
    assert [(p.product_name, p.count) for p in preview.product_worker_count] == [("CDN", 1)]
    assert preview.cost_count == 0  # official certificates cost no quota
    assert [(e["CloudProduct"], e["Reason"]) for e in excluded] == [("ALB", "sm_not_supported")]


@dataclass(frozen=True)
class FinishedJob:
    job_id: int
    counts: cas.DescribeDeploymentJobStatusResponseBody
    used_before: int
    cost: int


@pytest.fixture(scope="module")
def immediate_job(service: Service, world: World) -> FinishedJob:
    """A job run now onto the ALB, the failing NLB and the flaky DCDN, for Alice and Bob; the mail server takes
    longer to accept Alice's mail than the notify message stays invisible."""
    client = world.client
    targets = [world.resource[name] for name in ("api.example.com", "tcp.example.com", "media.example.com")]
    job_id = create_job(client, "rollout", [world.wildcard], targets, [world.alice, world.bob])
    preview = progress(client, job_id)
    service.inbox.hold_next_mail_to("alice@example.com", HELD_MAIL_SECONDS)
    submit(client, job_id)
    return FinishedJob(job_id, wait_until_finished(client, job_id), preview.use_count, preview.cost_count)


def test_an_immediate_job_deploys_reports_each_resource_and_the_failure_cause(
    world: World, immediate_job: FinishedJob
) -> None:
    client = world.client

    described = job(client, immediate_job.job_id)
    by_product = workers_by_product(client, immediate_job.job_id)
    bound = resources_by_domain(client)

    assert (described.status, described.job_type, described.cert_type) == ("error", "user", "upload")
    assert described.product_name == "ALB,DCDN,NLB"
    assert (immediate_job.counts.success_count, immediate_job.counts.failed_count) == (2, 1)
    assert {product: w["Status"] for product, w in by_product.items()} == {
        "ALB": "success",
        "DCDN": "success",  # throttled once, retried a second later
        "NLB": "error",
    }
    assert (by_product["NLB"]["ErrorCode"], by_product["NLB"]["ErrorMessage"]) == ("OperationDenied", NLB_CAUSE)
    assert (bound["api.example.com"].cert_id, bound["media.example.com"].cert_id) == (world.wildcard, world.wildcard)
    assert bound["tcp.example.com"].cert_id is None


def test_the_quota_is_charged_per_resource_and_the_failure_given_back(world: World, immediate_job: FinishedJob) -> None:
    after = progress(world.client, immediate_job.job_id)

    assert immediate_job.cost == 3
    assert after.use_count == immediate_job.used_before + 3 - 1
    assert after.cost_count == 2


def notify_message_came_back(serve_output: str, job_id: int) -> bool:
    """The service logged that the queue message telling about `job_id` outlived its visibility timeout."""
    told = serve_output.find(f'"rollout" (ID {job_id})')
    return told != -1 and "outlived its visibility timeout" in serve_output[told:]


@pytest.fixture(scope="module")
def contacts_told(service: Service, immediate_job: FinishedJob) -> int:
    """The immediate job's id, once its contacts have been told and the notify message has come back and been
    handled again."""
    job_id = immediate_job.job_id
    wait_for(lambda: len(service.inbox.about_job(job_id)) >= 2, "the mails to Alice and Bob")
    wait_for(lambda: bool(service.bots.about_job(job_id)), "the bot message to Alice")
    # The mail server held the first mail longer than the notify message stays invisible: the queue delivered it
    # again once that run was over.
    wait_for(lambda: notify_message_came_back(service.process.output, job_id), "the notify message to come back")
    time.sleep(2)  # the redelivered message is taken at once; give it time to send anything twice
    return job_id


def test_each_contact_is_mailed_once_with_the_outcome_counts_and_cause(service: Service, contacts_told: int) -> None:
    mails = service.inbox.about_job(contacts_told)

    assert sorted(mail.recipient for mail in mails) == ["alice@example.com", "bob@example.com"]
    mail = mails[0]
    assert mail.sender == MAIL_FROM
    assert mail.subject == f'[certdeploy] Deployment job "rollout" (ID {contacts_told}) failed: 1 of 3 resources failed'
    for product, counts in (("ALB", "1 total, 1 succeeded, 0 failed"), ("NLB", "1 total, 0 succeeded, 1 failed")):
        assert re.search(rf"^\s+{product}\s+{counts}$", mail.text, re.MULTILINE), mail.text
    assert re.search(rf"NLB cn-shanghai nlb-tcp tcp\.example\.com\s+Cause: OperationDenied: {NLB_CAUSE}", mail.text)
    assert f"OperationDenied: {NLB_CAUSE}" in mail.html


def test_a_contacts_dingtalk_bot_gets_the_report_once(service: Service, contacts_told: int) -> None:
    [post] = service.bots.about_job(contacts_told)

    assert (post.path, post.query) == ("/robot/send", {"access_token": BOT_TOKEN})
    assert post.body["msgtype"] == "markdown"
    text = post.body["markdown"]["text"]
    assert "NLB: 1 total, 0 succeeded, 1 failed" in text and "DCDN: 1 total, 1 succeeded, 0 failed" in text
    assert f"OperationDenied: {NLB_CAUSE}" in text


def test_a_scheduled_job_is_charged_at_once_and_runs_at_its_time(world: World) -> None:
    client = world.client
    run_at_ms = int((time.time() + 4) * 1000)
    job_id = create_job(
        client, "at four", [world.wildcard], [world.resource["fn.example.com"]], schedule_time=run_at_ms
    )
    used_before = use_count(client, job_id)

    submit(client, job_id, "pending")

    assert (job(client, job_id).status, use_count(client, job_id)) == ("pending", used_before + 1)
    time.sleep(1.5)
    assert job(client, job_id).status == "pending"
    counts = wait_until_finished(client, job_id)
    ran = job(client, job_id)
    assert (ran.status, counts.success_count) == ("success", 1)
    assert ran.schedule_time == str(run_at_ms) and int(ran.start_time) >= run_at_ms
    assert resources_by_domain(client)["fn.example.com"].cert_id == world.wildcard


def test_rolling_back_one_resource_restores_the_certificate_it_had(world: World) -> None:
    client = world.client
    cdn = world.resource["www.example.com"]
    first = create_job(client, "www current", [world.www], [cdn])
    submit(client, first)
    wait_until_finished(client, first)
    second = create_job(client, "www wildcard", [world.wildcard], [cdn])
    submit(client, second)
    wait_until_finished(client, second)
    worker = workers_by_product(client, second)["CDN"]
    assert (worker["ResourceCertId"], resources_by_domain(client)["www.example.com"].cert_id) == (
        world.www,
        world.wildcard,
    )

    client.create_rollback_task(cas.CreateRollbackTaskRequest(job_id=second, worker_id=worker["Id"]))

    wait_for(lambda: workers_by_product(client, second)["CDN"]["Status"] == "rollback_success", "the rollback")
    restored = resources_by_domain(client)["www.example.com"]
    assert (restored.cert_id, restored.cert_name) == (world.www, "www-current")
    rolled_back = job(client, second)
    assert (rolled_back.status, rolled_back.rollback) == ("rolled_back", 1)
    assert progress(client, second).rollback_success_count == 1
    assert job(client, first).status == "success"  # the earlier job is untouched


def test_deleting_jobs_is_irreversible_and_a_job_that_never_ran_gives_its_quota_back(world: World) -> None:
    client = world.client
    sae = world.resource["app.example.com"]
    ran = create_job(client, "done", [world.wildcard], [sae])
    submit(client, ran)
    wait_until_finished(client, ran)
    tomorrow_ms = int((time.time() + 86_400) * 1000)
    waiting = create_job(client, "tomorrow", [world.wildcard], [sae], schedule_time=tomorrow_ms)
    submit(client, waiting, "pending")
    charged = use_count(client, waiting)

    client.delete_deployment_job(cas.DeleteDeploymentJobRequest(job_id=ran))
    client.delete_deployment_job(cas.DeleteDeploymentJobRequest(job_id=waiting))

    for job_id in (ran, waiting):
        gone = refused(lambda job_id=job_id: job(client, job_id))
        assert (gone.code, gone.status_code) == ("NotFound", 404)
    listed = {j.id for j in client.list_deployment_job(cas.ListDeploymentJobRequest(show_size=100)).body.data}
    assert not listed & {ran, waiting}
    probe = create_job(client, "after delete", [world.wildcard], [sae])
    assert use_count(client, probe) == charged - 1


def test_another_account_sees_and_touches_nothing(service: Service, world: World, rival: AccountKeys) -> None:
    other = service.client(rival)
    acme_job = create_job(world.client, "private", [world.wildcard], [world.resource["api.example.com"]])

    assert other.list_deployment_job(cas.ListDeploymentJobRequest()).body.total == 0
    assert other.list_cloud_resources(cas.ListCloudResourcesRequest()).body.total == 0
    assert other.list_contact(cas.ListContactRequest()).body.total_count == 0
    uploads = other.list_user_certificate_order(cas.ListUserCertificateOrderRequest(order_type="UPLOAD")).body
    assert uploads.total_count == 0
    attempts = {
        "DescribeDeploymentJob": lambda: job(other, acme_job),
        "DeleteDeploymentJob": lambda: other.delete_deployment_job(cas.DeleteDeploymentJobRequest(job_id=acme_job)),
        "GetUserCertificateDetail": lambda: other.get_user_certificate_detail(
            cas.GetUserCertificateDetailRequest(cert_id=world.wildcard)
        ),
        "CreateDeploymentJob": lambda: create_job(
            other, "steal", [world.wildcard], [world.resource["api.example.com"]]
        ),
    }
    codes = {action: refused(attempt).code for action, attempt in attempts.items()}
    assert codes == {
        "DescribeDeploymentJob": "NotFound",
        "DeleteDeploymentJob": "NotFound",
        "GetUserCertificateDetail": "InvalidCertId.NotFound",
        "CreateDeploymentJob": "InvalidCertId.NotFound",
    }
    assert job(world.client, acme_job).status == "editing"


def test_a_bad_signature_or_unknown_key_is_refused_and_changes_nothing(service: Service, world: World) -> None:
    forged = service.client(world.keys, secret=world.keys.access_key_secret + "x")
    stranger = service.client(AccountKeys("nobody", 0, "LTAInosuchkey000000", "secret"))
    contacts_before = world.client.list_contact(cas.ListContactRequest()).body.total_count

    bad_signature = refused(
        lambda: forged.create_contact(cas.CreateContactRequest(name="Mallory", mobile="13900000000"))
    )
    unknown_key = refused(lambda: stranger.list_deployment_job(cas.ListDeploymentJobRequest()))

    assert (bad_signature.code, bad_signature.status_code) == ("SignatureDoesNotMatch", 400)
    assert (unknown_key.code, unknown_key.status_code) == ("InvalidAccessKeyId.NotFound", 404)
    assert world.client.list_contact(cas.ListContactRequest()).body.total_count == contacts_before
