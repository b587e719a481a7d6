"""Maintenance windows through the official SDK's generic call (the window actions are ours beyond CAS) and its typed
job actions: a window closed now holds a submitted job `pending` with its planned start on the timeline and in the
preview, and the job runs when the window opens; a rollback waits likewise; a tagged window holds only its resources'
workers; bad input is refused in CAS's error format and writes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from certdeploy.app.accounts import create_account
from certdeploy.app.scheduler import tick
from certdeploy.bootstrap.container import Container
from certdeploy.domain.windows import DAY_NAMES
from certdeploy.local.http_server import ApiHttpServer
from tests.fakes.queue_drain import drain
from tests.functional.api_support import create_job, job_status, resource_ids, sdk_client, upload, workers
from tests.functional.conftest import ManualClock, load_inventory
from tests.rpc_calls import raw_call, refused

INVENTORY = """
resources:
  - {product: ALB, region: cn-shanghai, instance: alb-1, domain: api.example.com, port: 443, tags: {env: prod}}
  - {product: CDN, region: cn-hangzhou, instance: www-cdn, domain: www.example.com, cert: legacy-www}
"""


@pytest.fixture
def world(client: CasClient, container: Container, account: Any, tmp_path: Path) -> dict[str, int]:
    load_inventory(container, account.account.id, INVENTORY, tmp_path)
    return {"cert": upload(client, "wild"), **resource_ids(client)}


def _millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _add_window_opening_soon(client: CasClient, clock: ManualClock, tag: str | None = None) -> datetime:
    """A 30-minute UTC window that opens at the start of the minute after next: closed now, open in at most two
    minutes (the SDK signs with the real clock, so the test clock may not run far ahead)."""
    opening = (clock.now() + timedelta(minutes=2)).replace(second=0, microsecond=0)
    query = {
        "Days": DAY_NAMES[opening.weekday()],
        "StartTime": opening.strftime("%H:%M"),
        "DurationMinutes": 30,
        "TimeZone": "UTC",
        **({"Tag": tag} if tag else {}),
    }
    assert raw_call(client, "CreateMaintenanceWindow", query)["WindowId"] > 0
    return opening


def _open_on_shanghai_weekend_nights(moment: datetime) -> bool:
    """Sat,Sun 02:00–06:00 in Shanghai (UTC+8 all year), worked out by hand."""
    local = moment + timedelta(hours=8)
    return local.weekday() in (5, 6) and 2 <= local.hour < 6


def _events(client: CasClient, job_id: int) -> list[dict[str, Any]]:
    return raw_call(client, "ListDeploymentJobEvents", {"JobId": job_id, "ShowSize": 100})["Data"]


def _submit(client: CasClient, job_id: int, status: str = "scheduling") -> None:
    client.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status=status))


@pytest.mark.parametrize("submitted_as", ["scheduling", "pending"])
def test_a_window_closed_now_holds_a_job_pending_until_it_opens(
    client: CasClient, container: Container, clock: ManualClock, world: dict[str, int], submitted_as: str
) -> None:
    opening = _add_window_opening_soon(client, clock)
    job_id = create_job(client, [world["cert"]], [world["CDN"]])

    preview = raw_call(client, "DescribeDeploymentJobStatus", {"JobId": job_id})
    assert preview["PlannedStartTime"] == _millis(opening)
    assert [change["PlannedStartTime"] for change in preview["BindingChanges"]] == [_millis(opening)]

    _submit(client, job_id, submitted_as)
    # The submission itself holds the job: no tick has looked at it yet.
    assert raw_call(client, "DescribeDeploymentJob", {"JobId": job_id})["WindowWaitUntil"] == _millis(opening)
    tick(container.deps)
    drain(container)

    assert job_status(client, job_id) == "pending"
    job = raw_call(client, "DescribeDeploymentJob", {"JobId": job_id})
    assert job["WindowWaitUntil"] == _millis(opening)
    waiting = [e for e in _events(client, job_id) if e["Type"] == "waiting_for_window"]
    assert [e["Detail"] for e in waiting] == [
        f"waits for its maintenance window: starts at {opening.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    ]
    assert workers(client, job_id)["CDN"]["Status"] == "pending"

    clock.current = opening + timedelta(seconds=1)
    assert tick(container.deps).started_jobs == 1
    drain(container)

    assert job_status(client, job_id) == "success"
    assert "WindowWaitUntil" not in raw_call(client, "DescribeDeploymentJob", {"JobId": job_id})
    types = [e["Type"] for e in _events(client, job_id)]
    assert types[:4] == ["created", "submitted", "waiting_for_window", "started"] and "worker_succeeded" in types


def _job_waiting_for_a_window(client: CasClient, container: Container, world: dict[str, int]) -> tuple[int, int]:
    """A window open one minute a week (closed now but for one minute in 10,080) and a due job waiting for it."""
    query = {"Days": "Mon", "StartTime": "00:00", "DurationMinutes": 1, "TimeZone": "Pacific/Kiritimati"}
    window_id = raw_call(client, "CreateMaintenanceWindow", query)["WindowId"]
    job_id = create_job(client, [world["cert"]], [world["CDN"]])
    _submit(client, job_id)
    tick(container.deps)
    assert "WindowWaitUntil" in raw_call(client, "DescribeDeploymentJob", {"JobId": job_id})
    return window_id, job_id


@pytest.mark.parametrize("change", ["delete its window", "add a window open now"])
def test_a_change_of_windows_frees_a_waiting_job_at_the_next_tick(
    client: CasClient, container: Container, clock: ManualClock, world: dict[str, int], change: str
) -> None:
    """Not at the opening the job was told: deleting its window, or adding one open now (windows are a union)."""
    window_id, job_id = _job_waiting_for_a_window(client, container, world)

    if change == "delete its window":
        raw_call(client, "DeleteMaintenanceWindow", {"WindowId": window_id})
    else:
        now = clock.now()
        open_now = {"Days": DAY_NAMES[now.weekday()], "StartTime": now.strftime("%H:00"), "DurationMinutes": 120}
        raw_call(client, "CreateMaintenanceWindow", {**open_now, "TimeZone": "UTC"})
    assert tick(container.deps).started_jobs == 1
    drain(container)

    assert job_status(client, job_id) == "success"


def test_a_rollback_asked_for_outside_the_window_runs_when_it_opens(
    client: CasClient, container: Container, clock: ManualClock, world: dict[str, int]
) -> None:
    job_id = create_job(client, [world["cert"]], [world["CDN"]])
    _submit(client, job_id)
    drain(container)
    assert job_status(client, job_id) == "success"
    opening = _add_window_opening_soon(client, clock)
    cdn = workers(client, job_id)["CDN"]["Id"]

    client.create_rollback_task(cas.CreateRollbackTaskRequest(job_id=job_id, worker_id=cdn))
    drain(container)

    assert workers(client, job_id)["CDN"]["Status"] == "rollback"
    held = [e for e in _events(client, job_id) if e["Type"] == "waiting_for_window"]
    assert [(e["WorkerId"], e["CloudProduct"]) for e in held] == [(cdn, "CDN")]
    assert held[0]["Detail"] == (
        f"rollback waits for its maintenance window, which opens at {opening.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )

    clock.current = opening + timedelta(seconds=1)  # delays are whole seconds, rounded up
    drain(container)

    assert workers(client, job_id)["CDN"]["Status"] == "rollback_success"
    assert job_status(client, job_id) == "rolled_back"


def test_a_tagged_window_holds_only_the_workers_of_resources_carrying_its_tag(
    client: CasClient, container: Container, clock: ManualClock, world: dict[str, int]
) -> None:
    opening = _add_window_opening_soon(client, clock, tag="env=prod")
    listed = raw_call(client, "ListCloudResources", {"ShowSize": 100})["Data"]
    assert {r["CloudProduct"]: r.get("Tags") for r in listed} == {"ALB": [{"Key": "env", "Value": "prod"}], "CDN": None}
    job_id = create_job(client, [world["cert"]], [world["ALB"], world["CDN"]])

    _submit(client, job_id)
    drain(container)

    # The CDN is governed by no window (the account's only window is tagged): it runs now; the ALB waits.
    assert {product: w["Status"] for product, w in workers(client, job_id).items()} == {
        "ALB": "scheduling",
        "CDN": "success",
    }
    assert job_status(client, job_id) == "processing"
    held = [e for e in _events(client, job_id) if e["Type"] == "waiting_for_window"]
    assert [e["CloudProduct"] for e in held] == ["ALB"]

    clock.current = opening + timedelta(seconds=1)  # delays are whole seconds, rounded up
    drain(container)

    assert workers(client, job_id)["ALB"]["Status"] == "success"
    assert job_status(client, job_id) == "success"


def test_the_preview_says_when_each_stage_can_start_given_its_resources_windows(
    client: CasClient, clock: ManualClock, world: dict[str, int]
) -> None:
    opening = _add_window_opening_soon(client, clock, tag="env=prod")
    assert world["ALB"] < world["CDN"], "the inventory lists the ALB first: it is the first worker"
    created = raw_call(
        client,
        "CreateDeploymentJob",
        {
            "Name": "staged",
            "JobType": "user",
            "CertIds": world["cert"],
            "ResourceIds": f"{world['ALB']},{world['CDN']}",
            "Stages": "1,100%",
        },
    )

    preview = raw_call(client, "DescribeDeploymentJobStatus", {"JobId": created["JobId"]})

    runs_from = {change["CloudProduct"]: change["PlannedStartTime"] for change in preview["BindingChanges"]}
    assert runs_from == {"ALB": _millis(opening), "CDN": _millis(clock.now())}
    # Stage 1 is the tagged ALB, waiting for its window; stage 2, the CDN, could run now but waits for stage 1.
    assert preview["StageWorkerCounts"] == [
        {"Stage": 1, "WorkerCount": 1, "PlannedStartTime": _millis(opening)},
        {"Stage": 2, "WorkerCount": 1, "PlannedStartTime": _millis(opening)},
    ]


def test_windows_are_listed_and_deleted_per_account(
    client: CasClient, clock: ManualClock, server: ApiHttpServer, container: Container
) -> None:
    _add_window_opening_soon(client, clock)
    query = {"Days": "sat,SUN", "StartTime": "02:00", "DurationMinutes": 240, "TimeZone": "Asia/Shanghai"}
    tagged = raw_call(client, "CreateMaintenanceWindow", {**query, "Tag": "env=prod"})["WindowId"]

    listed = raw_call(client, "ListMaintenanceWindows", {})

    assert listed["Total"] == 2
    assert {k: v for k, v in listed["Data"][1].items() if k != "GmtCreate"} == {
        "WindowId": tagged,
        "Days": "Sat,Sun",
        "StartTime": "02:00",
        "DurationMinutes": 240,
        "TimeZone": "Asia/Shanghai",
        "Tag": "env=prod",
        "OpenNow": _open_on_shanghai_weekend_nights(clock.now()),
        "Description": "Sat,Sun 02:00 for 240 min (Asia/Shanghai), tag env=prod",
    }
    rival = sdk_client(server, create_account(container.store, "rival", quota=1))
    assert raw_call(rival, "ListMaintenanceWindows", {})["Total"] == 0
    assert refused(lambda: raw_call(rival, "DeleteMaintenanceWindow", {"WindowId": tagged})).code == (
        "InvalidWindowId.NotFound"
    )
    raw_call(client, "DeleteMaintenanceWindow", {"WindowId": tagged})
    assert raw_call(client, "ListMaintenanceWindows", {})["Total"] == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Days": "Funday"}, "InvalidParameter.Days"),
        ({"Days": "7"}, "InvalidParameter.Days"),
        ({"StartTime": "25:00"}, "InvalidParameter.StartTime"),
        ({"DurationMinutes": 10081}, "InvalidParameter.DurationMinutes"),
        ({"DurationMinutes": "long"}, "InvalidParameter.DurationMinutes"),
        ({"TimeZone": "Mars/Olympus"}, "InvalidParameter.TimeZone"),
        ({"Tag": "prod"}, "InvalidParameter.Tag"),
        ({"TimeZone": ""}, "MissingParameter"),
        ({"TimeZone": "../../etc/passwd"}, "InvalidParameter.TimeZone"),
        ({"TimeZone": "America"}, "InvalidParameter.TimeZone"),
        ({"TimeZone": "localtime"}, "InvalidParameter.TimeZone"),
        ({"TimeZone": "zone.tab"}, "InvalidParameter.TimeZone"),
        ({"TimeZone": "Asia/" + "x" * 5000}, "InvalidParameter.TimeZone"),
        ({"Days": "Mon,²"}, "InvalidParameter.Days"),
        ({"Days": " , "}, "InvalidParameter.Days"),
        ({"Days": "99999999999999999999"}, "InvalidParameter.Days"),
        ({"StartTime": "2:00"}, "InvalidParameter.StartTime"),
        ({"StartTime": "０２:００"}, "InvalidParameter.StartTime"),
        ({"DurationMinutes": 0}, "InvalidParameter.DurationMinutes"),
        ({"DurationMinutes": -5}, "InvalidParameter.DurationMinutes"),
        ({"DurationMinutes": "99999999999999999999999"}, "InvalidParameter.DurationMinutes"),
        ({"Tag": "=prod"}, "InvalidParameter.Tag"),
        ({"Tag": "env=" + "p" * 5000}, "InvalidParameter.Tag"),
    ],
)
def test_a_bad_window_is_refused_in_cas_format_and_nothing_is_written(
    client: CasClient, change: dict[str, Any], code: str
) -> None:
    query = {"Days": "Mon", "StartTime": "02:00", "DurationMinutes": 60, "TimeZone": "UTC", **change}

    error = refused(lambda: raw_call(client, "CreateMaintenanceWindow", query))

    assert (error.status_code, error.code) == (400, code)
    assert error.message and error.request_id
    assert raw_call(client, "ListMaintenanceWindows", {})["Total"] == 0
