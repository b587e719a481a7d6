"""The `certdeploy` command: admin commands on a data directory, user commands over the API of a running serve."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from certdeploy.app.accounts import DEFAULT_ACCOUNT
from certdeploy.app.messages import QueueRole
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.cli.main import main
from certdeploy.domain.models import CertOrigin, Product
from tests.functional.serve_process import REPO, ServeProcess, child_environment, serve, wait_for

DEMO_INVENTORY = REPO / "demo" / "inventory.yaml"


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def view(data: Path) -> Iterator[Container]:
    container = build_container(Settings(data=data))
    yield container
    container.close()


# --------------------------------------------------------------------------------------------- admin commands


def test_account_and_quota_commands(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert run(capsys, "--data", str(data), "migrate")[0] == 0

    code, out, _ = run(capsys, "--data", str(data), "account", "create", "acme", "--quota", "4")
    assert code == 0
    created = json.loads(out)
    assert created["AccessKeyId"].startswith("LTAI") and len(created["AccessKeySecret"]) == 30

    code, out, _ = run(capsys, "quota", "add", "acme", "6", "--data", str(data), "--json")
    assert (code, json.loads(out)["BuyCount"], json.loads(out)["UseCount"]) == (0, 10, 0)
    code, out, _ = run(capsys, "--data", str(data), "--json", "account", "update", "acme", "--hosting", "on")
    assert json.loads(out) == {"UserId": created["UserId"], "Name": "acme", "Hosting": True}
    code, out, _ = run(capsys, "--data", str(data), "account", "update", "acme", "--hosting", "off")
    assert out.strip() == "Account 'acme': hosting off."


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("account", "create", "acme"), "An account named 'acme' already exists."),
        (("quota", "add", "nobody", "3"), "There is no account named 'nobody'."),
        (("cloud", "load", "missing.yaml", "--account", "acme"), "missing.yaml"),
        (("cert", "issue", "--account", "acme", "--domains", "not a domain"), "is not a valid domain name"),
    ],
)
def test_errors_are_one_line_on_stderr_with_a_failing_status(
    capsys: pytest.CaptureFixture[str], data: Path, arguments: tuple[str, ...], message: str
) -> None:
    run(capsys, "--data", str(data), "account", "create", "acme")

    code, out, err = run(capsys, "--data", str(data), *arguments)

    assert code == 1 and out == ""
    assert err.startswith("certdeploy: error: ") and err.count("\n") == 1
    assert message in err


def test_cloud_load_syncs_the_demo_inventory(capsys: pytest.CaptureFixture[str], data: Path, view: Container) -> None:
    run(capsys, "--data", str(data), "account", "create", "acme")

    code, out, _ = run(capsys, "--data", str(data), "cloud", "load", str(DEMO_INVENTORY), "--account", "acme", "--json")

    assert code == 0 and json.loads(out)["ResourceCount"] == 13
    account = view.store.accounts.find("acme")
    resources = view.store.resources.search(account.id, page_size=50).items
    assert {r.product for r in resources} == set(Product)
    assert [r.domain for r in resources if not r.https_enabled] == ["static.example.com"]


def test_cert_issue_adds_an_official_certificate_and_raises_the_issued_event(
    capsys: pytest.CaptureFixture[str], data: Path, view: Container
) -> None:
    run(capsys, "--data", str(data), "account", "create", "acme")

    code, out, _ = run(
        capsys,
        "--data",
        str(data),
        "cert",
        "issue",
        "--account",
        "acme",
        "--domains",
        "sm.example.com",
        "--sm2",
        "--days",
        "30",
        "--json",
    )

    assert code == 0
    issued = json.loads(out)
    assert (issued["Algorithm"], issued["Domains"]) == ("SM2", ["sm.example.com"])
    cert = view.store.certificates.get(view.store.accounts.find("acme").id, issued["CertId"])
    assert cert.origin is CertOrigin.FREE and cert.name == issued["Name"]
    [event] = view.deps.queues[QueueRole.CERTIFICATE_ISSUED].receive_batch(16)
    assert json.loads(event.body)["data"] == {"accountId": cert.account_id, "certId": cert.id}

    code, out, _ = run(capsys, "--data", str(data), "cert", "issue", "--account", "acme", "--domains", "a.example.com")
    assert code == 0 and int(out) > cert.id


# --------------------------------------------------------------------------------------------- user commands


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data = tmp_path_factory.mktemp("serve") / "data"
    env = child_environment(
        CERTDEPLOY_ACCESS_KEY_ID="LTAIclitestaccesskey01",
        CERTDEPLOY_ACCESS_KEY_SECRET="cli-test-secret",
        CERTDEPLOY_DEPLOY_RETRY_BASE_SECONDS="1",
    )
    with serve(data, "--inventory", str(DEMO_INVENTORY), "--tick", "0.5", env=env) as running:
        yield running
        running.terminate()


def api(server: ServeProcess) -> tuple[str, ...]:
    return (
        "--endpoint",
        server.endpoint,
        "--access-key-id",
        "LTAIclitestaccesskey01",
        "--access-key-secret",
        "cli-test-secret",
    )


@pytest.mark.slow
def test_a_job_from_the_command_line(capsys: pytest.CaptureFixture[str], server: ServeProcess) -> None:
    data = server.data
    code, out, _ = run(
        capsys,
        "--data",
        str(data),
        "cert",
        "issue",
        "--account",
        DEFAULT_ACCOUNT,
        "--domains",
        "www.example.com,*.example.com",
    )
    cert_id = int(out)
    view = build_container(Settings(data=data))
    try:
        account = view.store.accounts.find(DEFAULT_ACCOUNT)
        resources = {r.id: r for r in view.store.resources.search(account.id, page_size=50).items}
    finally:
        view.close()
    resource_ids = ",".join(str(i) for i in sorted(resources))

    code, out, err = run(
        capsys,
        "jobs",
        "create",
        *api(server),
        "--name",
        "demo rollout",
        "--certs",
        str(cert_id),
        "--resources",
        resource_ids,
        "--yes",
        "--json",
    )

    result = json.loads(out)
    assert code == 1, err  # the NLB listener always fails, so the job ends in error
    preview = result["Preview"]
    # Matched: SAE MSE APIGateway GA FC ALB CDN(www) DCDN (one-label names under example.com); not the others.
    assert (preview["WorkerCount"], preview["CertCount"], preview["CostCount"]) == (9, 1, 0)
    excluded = {resources[item["ResourceId"]].domain for item in preview["ExcludedResources"]}
    assert excluded == {"static.example.com", "shop.example.org", "*.cdn.example.com", "a.b.example.com"}
    assert result["Job"]["Status"] == "error"
    assert (result["Status"]["SuccessCount"], result["Status"]["FailedCount"]) == (8, 1)
    job_id = result["JobId"]

    code, out, _ = run(capsys, "jobs", "list", *api(server), "--json")
    assert code == 0 and [job["Id"] for job in json.loads(out)] == [job_id]

    code, out, _ = run(capsys, "jobs", "show", str(job_id), *api(server), "--json")
    workers = json.loads(out)["Workers"]
    failed = [w for w in workers if w["Status"] == "error"]
    assert [w["CloudProduct"] for w in failed] == ["NLB"] and "change window" in failed[0]["ErrorMessage"]

    code, out, _ = run(capsys, "jobs", "show", str(job_id), *api(server))
    assert code == 0 and "NLB (1)" in out and "CDN (1)" in out and "change window" in out

    succeeded = next(w["Id"] for w in workers if w["Status"] == "success")
    code, out, _ = run(capsys, "jobs", "rollback", str(job_id), str(succeeded), *api(server), "--json")
    assert (code, json.loads(out)) == (0, [{"WorkerId": succeeded, "Ok": True}])

    wait_for(lambda: _job_status(capsys, server, job_id) == "rolled_back", "the rollback to complete")

    code, out, _ = run(capsys, "jobs", "delete", str(job_id), "999999", *api(server), "--json")
    deleted, refused = json.loads(out)
    assert code == 1 and deleted == {"JobId": job_id, "Ok": True}
    assert refused["JobId"] == 999999 and refused["Ok"] is False and refused["Error"]["Code"].endswith("NotFound")
    assert set(refused["Error"]) == {"Code", "Message", "RequestId"}


def _job_status(capsys: pytest.CaptureFixture[str], server: ServeProcess, job_id: int) -> str:
    code, out, err = run(capsys, "jobs", "show", str(job_id), *api(server), "--json")
    assert code == 0, err
    return str(json.loads(out)["Job"]["Status"])


@pytest.mark.slow
def test_create_shows_the_preview_and_can_return_at_once(
    capsys: pytest.CaptureFixture[str], server: ServeProcess
) -> None:
    data = server.data
    code, out, _ = run(
        capsys, "--data", str(data), "cert", "issue", "--account", DEFAULT_ACCOUNT, "--domains", "fn.example.com"
    )
    cert_id = int(out)

    code, out, _ = run(
        capsys,
        "jobs",
        "create",
        *api(server),
        "--name",
        "quick",
        "--certs",
        str(cert_id),
        "--resources",
        "1,2,3,4,5,6,7,8,9,10,11,12,13",
        "--yes",
        "--no-wait",
    )

    assert code == 0
    assert "Preview of job" in out and "Workers (resources to deploy)" in out and "submitted" in out
    assert "Excluded resources (12)" in out


def test_user_commands_need_an_access_key(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("CERTDEPLOY_ACCESS_KEY_ID", "CERTDEPLOY_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(variable, raising=False)

    code, _, err = run(capsys, "jobs", "list", "--endpoint", "http://127.0.0.1:9")

    assert code == 1 and "CERTDEPLOY_ACCESS_KEY_ID" in err and err.count("\n") == 1


def test_an_unreachable_endpoint_is_one_line_without_the_request_s_parameters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The SDK's connection error repeats the request URL, whose query holds UploadUserCertificate's private key.
    (tmp_path / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    (tmp_path / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nKEYMATERIAL\n-----END PRIVATE KEY-----\n")
    keys = ["--endpoint", "http://127.0.0.1:9", "--access-key-id", "id", "--access-key-secret", "secret"]

    files = ["--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem")]

    code, out, err = run(capsys, "certs", "upload", "--name", "x", *files, *keys)

    assert (code, out) == (1, "")
    assert err.startswith("certdeploy: error: UploadUserCertificate: cannot reach http://127.0.0.1:9")
    assert "refused" in err and err.count("\n") == 1
    assert "KEYMATERIAL" not in err and "PRIVATE" not in err and "secret" not in err


@pytest.mark.slow
def test_submit_now_and_wait_follows_a_scheduled_job_to_its_end(
    capsys: pytest.CaptureFixture[str], server: ServeProcess
) -> None:
    issue = ("cert", "issue", "--account", DEFAULT_ACCOUNT, "--domains", "*.example.com", "--name", "cli-wildcard")
    cert_id = int(run(capsys, "--data", str(server.data), *issue)[1])
    listed = json.loads(run(capsys, "certs", "list", "--keyword", "cli-wildcard", *api(server), "--json")[1])
    assert [(c["CertificateId"], c["Upload"]) for c in listed] == [(cert_id, False)]
    matched = run(capsys, "resources", "list", "--cert", str(cert_id), "--matched", *api(server), "--json")[1]
    alb_and_nlb = [r["Id"] for r in json.loads(matched) if r["CloudProduct"] in ("ALB", "NLB")]
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)  # within the certificate's 90 days
    code, out, err = run(
        capsys, "jobs", "create", *api(server), "--name", "tomorrow", "--certs", str(cert_id),
        "--resources", ",".join(map(str, alb_and_nlb)), "--at", tomorrow.isoformat(), "--yes", "--json",
    )  # fmt: skip
    assert code == 0, err
    job_id = json.loads(out)["JobId"]

    code, out, err = run(capsys, "jobs", "submit", str(job_id), "--now", "--wait", *api(server), "--json")

    assert code == 1 and out, err  # the NLB listener always fails
    result = json.loads(out)
    assert result["Job"]["Status"] == "error"
    assert (result["Status"]["SuccessCount"], result["Status"]["FailedCount"]) == (1, 1)
