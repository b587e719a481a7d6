"""Staged rollout through the CAS SDK (docs/decisions.md#staged-rollout): `Stages` and `MaxFailures` on a job, the
preview's stages, a halt after the first stage's failure with the rest released and the contacts told, a passing
job's stages in order, a tolerated failure, a resume after the fix, and refused options. The extra fields are read
from the raw body (the typed models drop them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from certdeploy.adapters.notify import ContactNotifier, RenderedNotification
from certdeploy.app.accounts import Credentials
from certdeploy.app.execute import deploy_worker
from certdeploy.app.fanout import fan_out_job
from certdeploy.app.messages import DeployJob, DeployWorker
from certdeploy.bootstrap.container import Container
from certdeploy.ports.notifier import Channel
from tests.fakes.queue_drain import drain
from tests.functional.api_support import upload
from tests.functional.conftest import load_inventory
from tests.rpc_calls import raw_call, refused

# Ten CDN domains serving the old certificate; `cdn-00`'s deploys fail for good while `%s` says so.
RESOURCE = "  - {product: CDN, region: cn-hangzhou, instance: cdn-%02d, domain: s%02d.example.com, cert: legacy%s}\n"
BROKEN = ", fail: the CDN refuses the certificate"


def _inventory(broken: set[int]) -> str:
    return "resources:\n" + "".join(RESOURCE % (i, i, BROKEN if i in broken else "") for i in range(10))


@dataclass
class Mailbox:
    """The email channel: what each delivery said, in order."""

    sent: list[RenderedNotification] = field(default_factory=list)

    def send(self, address: str, message: RenderedNotification) -> None:
        self.sent.append(message)


@dataclass
class World:
    client: CasClient
    container: Container
    cert: int
    resources: list[int]
    contact: int
    mailbox: Mailbox
    reload: Any

    def create(self, **options: str) -> int:
        query = {
            "Name": "staged",
            "JobType": "user",
            "CertIds": self.cert,
            "ResourceIds": ",".join(map(str, self.resources)),
            "ContactIds": self.contact,
            **options,
        }
        return int(raw_call(self.client, "CreateDeploymentJob", query)["JobId"])

    def submit(self, job_id: int) -> None:
        request = cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status="scheduling")
        self.client.update_deployment_job_status(request)
        drain(self.container)

    def job(self, job_id: int) -> dict[str, Any]:
        return raw_call(self.client, "DescribeDeploymentJob", {"JobId": job_id})

    def status(self, job_id: int) -> dict[str, Any]:
        return raw_call(self.client, "DescribeDeploymentJobStatus", {"JobId": job_id})

    def workers(self, job_id: int) -> list[dict[str, Any]]:
        return raw_call(self.client, "ListWorkerResource", {"JobId": job_id, "ShowSize": 100})["Data"]

    def events(self, job_id: int) -> list[dict[str, Any]]:
        return raw_call(self.client, "ListDeploymentJobEvents", {"JobId": job_id, "ShowSize": 100})["Data"]

    def serving(self) -> list[str]:
        """The certificate name each resource serves, by resource."""
        data = self.client.list_cloud_resources(cas.ListCloudResourcesRequest(show_size=100)).body.data
        by_id = {item.id: item.cert_name for item in data}
        return [by_id[resource] for resource in self.resources]


@pytest.fixture
def world(client: CasClient, container: Container, account: Credentials, tmp_path: Path) -> Iterator[World]:
    aid = account.account.id
    load_inventory(container, aid, _inventory({0}), tmp_path)
    data = client.list_cloud_resources(cas.ListCloudResourcesRequest(show_size=100)).body.data
    resources = [item.id for item in sorted(data, key=lambda item: item.domain)]
    contact = client.create_contact(
        cas.CreateContactRequest(name="Ops", email="ops@example.com", mobile="13812345678")
    ).body.contact_id
    mailbox = Mailbox()
    container.notifier = ContactNotifier({Channel.EMAIL: mailbox, Channel.SMS: Mailbox()})

    def reload(broken: set[int]) -> None:
        load_inventory(container, aid, _inventory(broken), tmp_path)

    yield World(client, container, upload(client, "wild"), resources, contact, mailbox, reload)


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [event["Type"] for event in events]


def test_a_staged_job_halts_after_its_first_stage_fails_and_gives_the_rest_back(world: World) -> None:
    job_id = world.create(Stages="1,50%,100%")
    preview = world.status(job_id)
    stages = preview["StageWorkerCounts"]
    assert [(stage["Stage"], stage["WorkerCount"]) for stage in stages] == [(1, 1), (2, 4), (3, 5)]
    # No maintenance window: each stage can start as soon as the job does (docs/protocol.md#staged-rollout).
    assert {stage["PlannedStartTime"] for stage in stages} == {preview["PlannedStartTime"]}
    assert preview["CostCount"] == 10 and preview["UseCount"] == 0

    world.submit(job_id)

    job = world.job(job_id)
    assert job["Status"] == "error"
    assert (job["Stages"], job["MaxFailures"], job["StageCount"], job["CurrentStage"]) == ("1,50%,100%", "0", 3, 1)
    reason = job["HaltReason"]
    assert reason.startswith("Halted after stage 1 of 3: 1 of 1 worker(s) run so far failed, over MaxFailures 0;")
    assert "9 worker(s) not run, their quota given back" in reason
    workers = world.workers(job_id)
    assert [w["Status"] for w in workers] == ["error"] + ["pending"] * 9
    assert workers[0]["ResourceId"] == world.resources[0]
    assert world.serving() == ["legacy"] * 10  # the other nine were never bound
    status = world.status(job_id)
    assert (status["UseCount"], status["CostCount"], status["FailedCount"], status["SuccessCount"]) == (0, 0, 1, 0)
    events = world.events(job_id)
    assert _types(events)[:4] == ["created", "submitted", "started", "stage_started"]
    assert events[3]["Detail"] == "stage 1 of 3 started: 1 worker(s)"
    halted = _types(events).index("halted")
    assert _types(events).index("worker_failed") < halted
    assert events[halted]["Detail"] == f"halted: {reason}"
    assert "stage_passed" not in _types(events) and "finished" not in _types(events)
    assert _types(events)[-1] == "notification_sent"
    [mail] = world.mailbox.sent
    assert mail.subject.endswith("halted: 1 of 10 resources failed, 9 not run")
    assert f"Halted:    {reason}" in mail.text and "the CDN refuses the certificate" in mail.text


def test_a_passing_staged_job_runs_its_stages_in_order(world: World) -> None:
    world.reload(set())
    job_id = world.create(Stages="1,50%,100%")

    world.submit(job_id)

    assert world.job(job_id)["Status"] == "success"
    assert world.serving() == ["wild"] * 10
    events = world.events(job_id)
    stages = [(e["Type"], e["Detail"]) for e in events if e["Type"].startswith("stage_")]
    assert stages == [
        ("stage_started", "stage 1 of 3 started: 1 worker(s)"),
        ("stage_passed", "stage 1 of 3 passed: 1 succeeded, 0 failed so far (MaxFailures 0)"),
        ("stage_started", "stage 2 of 3 started: 4 worker(s)"),
        ("stage_passed", "stage 2 of 3 passed: 5 succeeded, 0 failed so far (MaxFailures 0)"),
        ("stage_started", "stage 3 of 3 started: 5 worker(s)"),
    ]
    # each stage starts only after every worker of the one before succeeded, in id order
    starts = [i for i, e in enumerate(events) if e["Type"] == "stage_started"]
    ids = [w["Id"] for w in world.workers(job_id)]
    for stage, (first, last) in enumerate([(0, 1), (1, 5), (5, 10)]):
        done = {e["WorkerId"]: i for i, e in enumerate(events) if e["Type"] == "worker_succeeded"}
        assert all(starts[stage] < done[worker] for worker in ids[first:last])
        if stage + 1 < len(starts):
            assert all(done[worker] < starts[stage + 1] for worker in ids[first:last])
    assert _types(events).index("finished") > starts[-1]


def test_max_failures_tolerates_a_failure_and_the_job_runs_on(world: World) -> None:
    job_id = world.create(Stages="1,50%,100%", MaxFailures="1")

    world.submit(job_id)

    job = world.job(job_id)
    assert job["Status"] == "error" and "HaltReason" not in job  # finished with one failure, not halted
    assert [w["Status"] for w in world.workers(job_id)] == ["error"] + ["success"] * 9
    assert world.serving() == ["legacy"] + ["wild"] * 9
    assert world.status(job_id)["UseCount"] == 9
    [mail] = world.mailbox.sent
    assert mail.subject.endswith("failed: 1 of 10 resources failed") and "Halted" not in mail.text
    # an error job that did not halt cannot be resumed
    error = refused(lambda: world.submit(job_id))
    assert (error.status_code, error.code) == (400, "InvalidStatus")


def test_a_halted_job_resumes_after_the_fix_and_is_charged_once(world: World) -> None:
    job_id = world.create(Stages="1,50%,100%")
    world.submit(job_id)
    halted_ids = [w["Id"] for w in world.workers(job_id)]
    assert world.status(job_id)["UseCount"] == 0
    world.reload(set())  # the fix: the CDN takes the certificate now

    world.submit(job_id)

    job = world.job(job_id)
    assert job["Status"] == "success" and "HaltReason" not in job
    workers = world.workers(job_id)
    assert [w["Status"] for w in workers] == ["success"] * 10
    assert not {w["Id"] for w in workers} & set(halted_ids)  # new workers, charged afresh
    assert world.serving() == ["wild"] * 10
    assert world.status(job_id)["UseCount"] == 10  # each resource charged exactly once
    events = world.events(job_id)
    resumed = _types(events).index("resumed")
    assert events[resumed]["Detail"] == "resumed: 10 worker(s) to run again, 10 quota unit(s) charged"
    assert _types(events)[resumed + 1 : resumed + 3] == ["started", "stage_started"]
    assert _types(events).count("stage_started") == 4  # stage 1 before the halt, then stages 1-3
    # the halt and the finish are two notifications
    assert [mail.subject.split(":")[0] for mail in world.mailbox.sent] == [
        f'[certdeploy] Deployment job "staged" (ID {job_id}) halted',
        f'[certdeploy] Deployment job "staged" (ID {job_id}) succeeded',
    ]
    # a second resume (the job is finished, not halted) is refused and charges nothing
    error = refused(lambda: world.submit(job_id))
    assert (error.status_code, error.code) == (400, "InvalidStatus")
    assert world.status(job_id)["UseCount"] == 10


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"Stages": "1,10%"}, "InvalidParameter.Stages"),
        ({"Stages": "5,2,100%"}, "InvalidParameter.Stages"),
        ({"Stages": "1,2,3,4,5,6,7,8,9,10,100%"}, "InvalidParameter.Stages"),
        ({"Stages": "1,50%,100%", "MaxFailures": "lots"}, "InvalidParameter.MaxFailures"),
        ({"MaxFailures": "1"}, "InvalidParameter.MaxFailures"),
        ({"Stages": "0"}, "InvalidParameter.Stages"),
        ({"Stages": "100%,100%"}, "InvalidParameter.Stages"),
        ({"Stages": "1.5,100%"}, "InvalidParameter.Stages"),
        ({"Stages": "10%%,100%"}, "InvalidParameter.Stages"),
        ({"Stages": "99999999999999999999,100%"}, "InvalidParameter.Stages"),
        ({"Stages": "1,²,100%"}, "InvalidParameter.Stages"),
        ({"Stages": "1,,100%"}, "InvalidParameter.Stages"),
        ({"Stages": " "}, "InvalidParameter.Stages"),
        ({"Stages": "1," * 60 + "100%"}, "InvalidParameter.Stages"),
        ({"Stages": "100%", "MaxFailures": "-1"}, "InvalidParameter.MaxFailures"),
        ({"Stages": "100%", "MaxFailures": "101%"}, "InvalidParameter.MaxFailures"),
        ({"Stages": "100%", "MaxFailures": "³"}, "InvalidParameter.MaxFailures"),
    ],
)
def test_invalid_options_are_refused_and_change_nothing(world: World, options: dict[str, str], code: str) -> None:
    error = refused(lambda: world.create(**options))
    assert (error.status_code, error.code) == (400, code)
    assert world.client.list_deployment_job(cas.ListDeploymentJobRequest()).body.total == 0
    job_id = world.create()
    error = refused(lambda: raw_call(world.client, "UpdateDeploymentJob", {"JobId": job_id, **options}))
    assert error.code == code
    assert "Stages" not in world.job(job_id) and world.status(job_id)["StageWorkerCounts"] == []
    # on a job with stages, MaxFailures alone changes the budget only
    staged = world.create(Stages="1,100%")
    raw_call(world.client, "UpdateDeploymentJob", {"JobId": staged, "MaxFailures": "10%"})
    assert (world.job(staged)["Stages"], world.job(staged)["MaxFailures"]) == ("1,100%", "10%")


def test_a_resume_that_does_not_fit_the_quota_changes_nothing(
    world: World, container: Container, account: Credentials
) -> None:
    job_id = world.create(Stages="1,50%,100%")
    world.submit(job_id)
    halted = world.workers(job_id)
    world.reload(set())
    container.store.quota.add(account.account.id, -1)  # 9 units left for 10 workers

    error = refused(lambda: world.submit(job_id))

    assert (error.status_code, error.code) == (400, "QuotaExceeded")
    job = world.job(job_id)
    assert job["Status"] == "error" and job["HaltReason"].startswith("Halted after stage 1 of 3")
    assert world.workers(job_id) == halted and world.status(job_id)["UseCount"] == 0
    assert "resumed" not in _types(world.events(job_id))


def test_redelivered_messages_after_a_halt_change_nothing(
    world: World, container: Container, account: Credentials
) -> None:
    job_id = world.create(Stages="1,50%,100%")
    world.submit(job_id)
    [failed, *_] = world.workers(job_id)
    before = (world.workers(job_id), world.events(job_id), world.status(job_id)["UseCount"])
    aid = account.account.id

    # the failed worker's deploy message and the job's fan-out, delivered again
    deploy_worker(container.deps, DeployWorker(account_id=aid, job_id=job_id, worker_id=failed["Id"]))
    fan_out_job(container.deps, DeployJob(account_id=aid, job_id=job_id))
    drain(container)

    assert (world.workers(job_id), world.events(job_id), world.status(job_id)["UseCount"]) == before
