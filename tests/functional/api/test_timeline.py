"""A job's timeline through the official SDK's generic call (ListDeploymentJobEvents is ours beyond CAS): every step
from creation to the last notification, a retried worker with its cause and backoff, a failed worker, a rollback,
masked addresses; paging, tenancy and bad parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from certdeploy.app.accounts import create_account
from certdeploy.bootstrap.container import Container
from certdeploy.cli.main import main
from certdeploy.local.http_server import ApiHttpServer
from tests.fakes.queue_drain import drain
from tests.functional.api_support import cli_api_flags, create_job, resource_ids, sdk_client, upload, workers
from tests.functional.conftest import ManualClock, load_inventory
from tests.rpc_calls import raw_call, refused

# The ALB is throttled once (retried after the 1 s base delay), the NLB refuses every deploy.
INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com, cert: legacy-www}
  - {product: ALB, region: cn-shanghai, instance: alb-1, domain: api.example.com, port: 443, flaky: 1}
  - {product: NLB, region: cn-shanghai, instance: nlb-1, domain: tcp.example.com, port: 8443, fail: listener is locked}
  - {product: OSS, region: cn-beijing, instance: bucket-a, domain: static.example.com, https: false}
"""
EMAIL, MOBILE = "ops.lead@example.com", "13812345678"


def _events(client: CasClient, job_id: int, **paging: int) -> dict[str, Any]:
    return raw_call(client, "ListDeploymentJobEvents", {"JobId": job_id, **paging})


def _all_events(client: CasClient, job_id: int) -> list[dict[str, Any]]:
    return _events(client, job_id, ShowSize=100)["Data"]


@pytest.fixture
def world(client: CasClient, container: Container, account: Any, tmp_path: Path) -> dict[str, int]:
    load_inventory(container, account.account.id, INVENTORY, tmp_path)
    contact = client.create_contact(cas.CreateContactRequest(name="Ops", email=EMAIL, mobile=MOBILE)).body
    return {"cert": upload(client, "wild"), "contact": contact.contact_id, **resource_ids(client)}


@pytest.fixture
def finished_job(client: CasClient, container: Container, clock: ManualClock, world: dict[str, int]) -> int:
    """Created, renamed, submitted and run to its end (the ALB on its second attempt), then its CDN rolled back."""
    resources = [world[p] for p in ("CDN", "ALB", "NLB", "OSS")]
    job_id = create_job(client, [world["cert"]], resources, contact_ids=str(world["contact"]))
    client.update_deployment_job(cas.UpdateDeploymentJobRequest(job_id=job_id, name="renamed"))
    client.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status="scheduling"))
    drain(container)
    clock.advance(1)
    drain(container)
    cdn = workers(client, job_id)["CDN"]["Id"]
    client.create_rollback_task(cas.CreateRollbackTaskRequest(job_id=job_id, worker_id=cdn))
    drain(container)
    return job_id


def _of_worker(events: list[dict[str, Any]], product: str) -> list[str]:
    return [e["Type"] for e in events if e.get("CloudProduct") == product]


def test_the_timeline_tells_a_job_from_creation_to_its_last_notification(
    client: CasClient, finished_job: int, world: dict[str, int]
) -> None:
    reply = _events(client, finished_job, ShowSize=100)
    events = reply["Data"]

    assert (reply["Total"], reply["CurrentPage"], reply["ShowSize"]) == (len(events), 1, 100)
    assert reply["RequestId"]
    types = [e["Type"] for e in events]
    assert types[:4] == ["created", "edited", "submitted", "started"]
    assert "3 worker(s), 1 resource(s) left out" in events[0]["Detail"]
    assert "3 quota unit(s) charged" in events[2]["Detail"]
    # each worker's attempts, with the retry's cause and backoff
    assert _of_worker(events, "ALB") == ["retry_scheduled", "worker_succeeded"]
    retry = next(e for e in events if e["Type"] == "retry_scheduled")
    assert (retry["ErrorCode"], retry["ResourceId"]) == ("Throttling.User", world["ALB"])
    assert "flow control" in retry["ErrorMessage"]
    assert "deployment attempt 1 failed; attempt 2 of 3 at " in retry["Detail"] and "(in 1 s)" in retry["Detail"]
    assert "bound on attempt 2" in next(
        e["Detail"] for e in events if e["Type"] == "worker_succeeded" and e["CloudProduct"] == "ALB"
    )
    assert _of_worker(events, "NLB") == ["worker_failed"]
    failed = next(e for e in events if e["Type"] == "worker_failed")
    assert (failed["ErrorCode"], failed["ErrorMessage"]) == ("OperationDenied", "listener is locked")
    assert failed["Detail"] == "deployment failed on attempt 1, its quota unit given back"
    assert _of_worker(events, "CDN") == ["worker_succeeded", "rollback_requested", "rolled_back"]
    assert "legacy-www" in next(e["Detail"] for e in events if e["Type"] == "rolled_back")
    finished = types.index("finished")
    assert "finished: error, 2 worker(s) succeeded, 1 failed" in events[finished]["Detail"]
    assert max(i for i, t in enumerate(types) if t.startswith("worker_")) < finished < types.index("rollback_requested")
    # the contact is told by mail and SMS of the job's end and of the rollback, addresses masked
    sent = [e["Detail"] for e in events if e["Type"] == "notification_sent"]
    assert sorted(sent) == sorted(
        [
            "job_finished report sent by email to o***@example.com",
            "job_finished report sent by sms to 138****5678",
            "rollback_finished report sent by email to o***@example.com",
            "rollback_finished report sent by sms to 138****5678",
        ]
    )
    assert EMAIL not in str(events) and MOBILE not in str(events)
    # ids and times go forward; times are Unix milliseconds
    assert [e["Id"] for e in events] == sorted(e["Id"] for e in events)
    assert all(isinstance(e["Time"], int) and len(str(e["Time"])) == 13 for e in events)
    assert [e["Time"] for e in events] == sorted(e["Time"] for e in events)
    assert all("WorkerId" not in e and "ErrorCode" not in e for e in events[:4])


def test_the_timeline_keeps_a_retried_workers_cause_after_the_worker_succeeded(
    client: CasClient, finished_job: int
) -> None:
    alb = workers(client, finished_job)["ALB"]

    retry = next(e for e in _all_events(client, finished_job) if e["Type"] == "retry_scheduled")

    assert alb["Status"] == "success" and "ErrorCode" not in alb
    assert retry["WorkerId"] == alb["Id"] and retry["ErrorCode"] == "Throttling.User"


def test_pages_of_the_timeline_add_up_to_the_whole(client: CasClient, finished_job: int) -> None:
    whole = _all_events(client, finished_job)

    pages = [_events(client, finished_job, CurrentPage=1, ShowSize=4)]
    while pages[-1]["Data"]:
        pages.append(_events(client, finished_job, CurrentPage=len(pages) + 1, ShowSize=4))
    default = _events(client, finished_job)

    assert len(whole) > 8
    assert [e for page in pages for e in page["Data"]] == whole
    assert [len(page["Data"]) for page in pages[:-2]] == [4] * (len(pages) - 2)
    assert {(page["Total"], page["ShowSize"]) for page in pages} == {(len(whole), 4)}
    assert [page["CurrentPage"] for page in pages] == list(range(1, len(pages) + 1))
    assert (default["CurrentPage"], default["ShowSize"], default["Data"]) == (1, 50, whole)


def test_another_accounts_job_or_an_unknown_one_is_not_found_as_for_every_job_action(
    client: CasClient, finished_job: int, server: ApiHttpServer, container: Container
) -> None:
    stranger = sdk_client(server, create_account(container.store, "stranger", quota=10))

    theirs = refused(lambda: _events(stranger, finished_job))
    unknown = refused(lambda: _events(client, finished_job + 1000))
    described = refused(
        lambda: client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=finished_job + 1000))
    )

    assert (theirs.status_code, theirs.code) == (404, described.code) == (unknown.status_code, unknown.code)
    assert described.status_code == 404
    assert _all_events(client, finished_job)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"ShowSize": 0}, "InvalidParameter.ShowSize"),
        ({"ShowSize": 101}, "InvalidParameter.ShowSize"),
        ({"CurrentPage": 0}, "InvalidParameter.CurrentPage"),
        ({"ShowSize": "many"}, "InvalidParameter.ShowSize"),
        ({"JobId": "abc"}, "InvalidParameter.JobId"),
        ({"JobId": None}, "MissingParameter"),
    ],
)
def test_bad_parameters_are_refused_with_cas_errors(
    client: CasClient, world: dict[str, int], query: dict[str, Any], code: str
) -> None:
    job_id = create_job(client, [world["cert"]], [world["CDN"]])
    params = {name: value for name, value in {"JobId": job_id, **query}.items() if value is not None}

    error = refused(lambda: raw_call(client, "ListDeploymentJobEvents", params))

    assert (error.status_code, error.code) == (400, code)
    assert error.message and error.request_id


def test_an_editing_job_sent_back_from_pending_tells_what_was_released(
    client: CasClient, world: dict[str, int]
) -> None:
    job_id = create_job(client, [world["cert"]], [world["CDN"]], schedule_time="4102444800000")
    client.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status="pending"))
    client.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status="editing"))
    client.delete_worker_resource(
        cas.DeleteWorkerResourceRequest(job_id=job_id, worker_id=workers(client, job_id)["CDN"]["Id"])
    )

    events = _all_events(client, job_id)

    assert [e["Type"] for e in events] == ["created", "submitted", "back_to_editing", "edited"]
    assert "submitted as 'pending'" in events[1]["Detail"]
    assert "1 unit(s) released" in events[2]["Detail"]
    assert "removed, 0 left" in events[3]["Detail"]


def test_the_cli_prints_the_timeline_as_a_table_or_json(
    client: CasClient,
    finished_job: int,
    server: ApiHttpServer,
    account: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    keys = cli_api_flags(server, account)

    as_json = main(["jobs", "events", str(finished_job), *keys, "--json"])
    printed = json.loads(capsys.readouterr().out)
    as_table = main(["jobs", "events", str(finished_job), *keys])
    table = capsys.readouterr().out
    missing = main(["jobs", "events", str(finished_job + 1000), *keys])

    assert (as_json, as_table, missing) == (0, 0, 1)
    assert printed == {"JobId": finished_job, "Data": _all_events(client, finished_job)}
    assert f"Timeline of job {finished_job}" in table
    assert "retry_scheduled" in table and "Throttling.User" in table and "o***@example.com" in table
    assert "NotFound" in capsys.readouterr().err
