"""The local runner: the events it feeds the functions, and `certdeploy serve` as a process — bootstrap, admin
commands beside it, clean stop on SIGTERM, and nothing lost to kill -9."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from certdeploy.app.accounts import DEFAULT_ACCOUNT
from certdeploy.app.jobs import JobDraft, change_job_status, create_job, job_progress
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.fc.events import parse_mns_queue_event, parse_timer_event
from certdeploy.local.runner import EXECUTE, FunctionsNotFound, functions_dir, mns_queue_event, timer_event
from certdeploy.ports.queue import ReceivedMessage
from tests.functional.serve_process import REPO, child_environment, run_cli, serve, wait_for

NOW = datetime(2026, 11, 28, 8, 0, 5, 250000, tzinfo=timezone.utc)
KEY_ID = re.compile(r"AccessKeyId:\s+(LTAI\w+)")


# --------------------------------------------------------------------------------------------- events


def test_the_timer_event_is_what_the_scheduler_parses() -> None:
    event = timer_event(NOW)

    assert isinstance(event, bytes)
    parsed = parse_timer_event(event)
    assert parsed.trigger_time == "2026-11-28T08:00:05Z"
    assert parsed.payload == ""


@pytest.mark.parametrize("base64_body", [False, True])
def test_a_queue_message_becomes_an_eventbridge_mns_delivery(base64_body: bool) -> None:
    body = '{"kind":"deploy","job_id":7,"note":"ünïcode"}'
    message = ReceivedMessage("ABC123", body, "f" * 32, 2, 1_796_000_000_000, 1_796_000_001_000, 1_796_000_121_000)

    event = mns_queue_event([message], "certdeploy-deploy", EXECUTE, NOW, base64_body=base64_body)

    delivered = json.loads(event)
    sample = json.loads((REPO / "events" / "mns_execute.json").read_text())
    assert isinstance(delivered, list) and len(delivered) == 1
    assert delivered[0].keys() == sample[0].keys()
    [parsed] = parse_mns_queue_event(event, trigger_base64_decode=not base64_body)
    assert (parsed.message_id, parsed.queue_name, parsed.body) == ("ABC123", "certdeploy-deploy", body)


def test_the_functions_folder_is_found_next_to_the_package_or_where_configured(tmp_path: Path) -> None:
    assert functions_dir(Settings(data=tmp_path)) == (REPO / "functions").resolve()
    with pytest.raises(FunctionsNotFound, match="CERTDEPLOY_FUNCTIONS_DIR"):
        functions_dir(Settings(data=tmp_path, functions_dir=tmp_path))


# --------------------------------------------------------------------------------------------- serve


INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: cdn-www, domain: www.example.com}
  - {product: ALB, region: cn-shanghai, instance: alb-1, domain: api.example.com, port: 443}
  - {product: DCDN, region: cn-hangzhou, instance: dcdn-1, domain: media.example.com, flaky: 1}
"""


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store_view(data: Path) -> Iterator[Container]:
    """The test's own view of the data dir, opened beside the server like any admin command."""
    container = build_container(Settings(data=data))
    yield container
    container.close()


@pytest.mark.slow
def test_serve_bootstraps_admin_commands_work_beside_it_and_sigterm_stops_it(data: Path, inventory: Path) -> None:
    with serve(data, "--inventory", str(inventory), "--tick", "0.5") as server:
        assert len(KEY_ID.findall(server.output)) == 1, server.output
        assert "AccessKeySecret:" in server.output and "CERTDEPLOY_ENDPOINT=" in server.output
        assert "account 'default' has 3 resources" in server.output

        created = run_cli(["--data", str(data), "account", "create", "acme", "--quota", "5"])
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout).keys() == {"UserId", "AccessKeyId", "AccessKeySecret"}
        added = run_cli(["quota", "add", "acme", "3", "--data", str(data), "--json"])
        assert json.loads(added.stdout)["BuyCount"] == 8
        issued = run_cli(["--data", str(data), "cert", "issue", "--account", "default", "--domains", "www.example.com"])
        assert issued.returncode == 0 and issued.stdout.strip().isdigit(), issued.stderr

        asked = time.monotonic()
        assert server.terminate(timeout=10) == 0
        assert time.monotonic() - asked < 4  # in-flight work finishes; idle long polls end within a second
        assert server.output.rstrip().endswith("Stopped."), server.output

    with serve(data) as again:
        assert "AccessKeyId" not in again.output  # shown once, on first start only
        assert again.terminate(timeout=10) == 0


@pytest.mark.slow
def test_serve_takes_the_first_access_key_from_the_environment(data: Path) -> None:
    env = child_environment(CERTDEPLOY_ACCESS_KEY_ID="LTAIfromenvironment01", CERTDEPLOY_ACCESS_KEY_SECRET="s3cret")
    with serve(data, env=env) as server:
        assert "s3cret" not in server.output
        assert "CERTDEPLOY_ACCESS_KEY_ID" in server.output
        signed = ["jobs", "list", "--endpoint", server.endpoint, "--access-key-id", "LTAIfromenvironment01", "--json"]
        listed = run_cli([*signed, "--access-key-secret", "s3cret"])
        assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr  # the key works
        refused = run_cli([*signed, "--access-key-secret", "not-the-secret"])
        assert refused.returncode != 0 and "SignatureDoesNotMatch" in refused.stderr, refused.stderr
        server.terminate()


@pytest.mark.slow
def test_kill_9_loses_nothing_a_restart_finishes_the_job(data: Path, inventory: Path, store_view: Container) -> None:
    env = child_environment(CERTDEPLOY_DEPLOY_RETRY_BASE_SECONDS="4", CERTDEPLOY_QUEUE_VISIBILITY_SECONDS="2")
    with serve(data, "--inventory", str(inventory), "--tick", "0.5", env=env) as server:
        issued = run_cli(["--data", str(data), "cert", "issue", "--account", "default", "--domains", "*.example.com"])
        cert_id = int(issued.stdout)
        account = store_view.store.accounts.find(DEFAULT_ACCOUNT)
        resources = store_view.store.resources.search(account.id, page_size=10).items
        draft = JobDraft(name="rollout", cert_ids=(cert_id,), resource_ids=tuple(r.id for r in resources))
        job_id = create_job(store_view.deps, account.id, draft).id
        change_job_status(store_view.deps, account.id, job_id, JobStatus.PENDING)

        def two_deployed() -> bool:
            return job_progress(store_view.deps, account.id, job_id).success_count == 2

        wait_for(two_deployed, "the two steady resources to be deployed")
        server.kill()  # the flaky DCDN worker waits for its retry, 4 s after its first try

    half_done = job_progress(store_view.deps, account.id, job_id)
    assert half_done.job.status is JobStatus.PROCESSING
    assert half_done.success_count == 2 and half_done.failed_count == 0

    with serve(data, env=env) as restarted:

        def finished() -> bool:
            return job_progress(store_view.deps, account.id, job_id).job.status is not JobStatus.PROCESSING

        # A lost message would only be sent again after the stuck-work deadline (900 s), so a generous wait hides no
        # loss; it leaves room for a restart on a loaded machine (20 s was once not enough at a load of 9 on 2 cores).
        wait_for(finished, "the job to finish after the restart", timeout=60)
        restarted.terminate()
    done = job_progress(store_view.deps, account.id, job_id)
    assert done.job.status is JobStatus.SUCCESS
    workers = store_view.store.workers.of_job(account.id, job_id)
    assert {w.status for w in workers} == {WorkerStatus.SUCCESS}
