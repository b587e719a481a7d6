"""The user commands (`certdeploy certs|resources|contacts|jobs|windows …`) against the API on the local HTTP front, as
a user runs them: what the tables show, the shape of `--json`, exit statuses and error lines."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from certdeploy.app.accounts import Credentials
from certdeploy.app.certificates import add_certificate
from certdeploy.bootstrap.container import Container
from certdeploy.cli.main import main
from certdeploy.domain.models import CertOrigin
from certdeploy.domain.verification import VerifyMismatch
from certdeploy.local.http_server import ApiHttpServer
from tests.certgen import make_cert
from tests.fakes.queue_drain import drain
from tests.functional.conftest import load_inventory

DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=abc"
LARK = "https://open.feishu.cn/open-apis/bot/v2/hook/0123abcd"
REQUEST_ID = r"\([0-9A-F-]{36}\)"
# `certdeploy ARGUMENT…` → (exit status, stdout, stderr)
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def user(
    server: ApiHttpServer, account: Credentials, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    """Run `certdeploy …` as the test account's user, with the endpoint and AccessKey in the environment."""
    monkeypatch.setenv("CERTDEPLOY_ENDPOINT", f"http://{server.endpoint}")
    monkeypatch.setenv("CERTDEPLOY_ACCESS_KEY_ID", account.access_key_id)
    monkeypatch.setenv("CERTDEPLOY_ACCESS_KEY_SECRET", account.access_key_secret)
    monkeypatch.setenv("COLUMNS", "250")  # rich folds tables to the terminal's width: keep rows on one line

    def run(*arguments: str) -> tuple[int, str, str]:
        code = main(list(arguments))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _json(result: tuple[int, str, str]) -> Any:
    code, out, err = result
    assert code == 0, err
    return json.loads(out)


def _pem_files(tmp_path: Path, names: list[str], stem: str = "site") -> tuple[str, str]:
    generated = make_cert(names, common_name=names[0], key="rsa")
    cert, key = tmp_path / f"{stem}.crt", tmp_path / f"{stem}.key"
    cert.write_text(generated.chain_pem)
    key.write_text(generated.key_pem)
    return str(cert), str(key)


def _upload(user, tmp_path: Path, name: str, names: list[str]) -> int:
    cert, key = _pem_files(tmp_path, names, stem=name)
    uploaded = _json(user("certs", "upload", "--name", name, "--cert", cert, "--key", key, "--json"))
    assert isinstance(uploaded, dict) and uploaded["ResourceId"] == f"cas-upload-{uploaded['CertId']}"
    return int(uploaded["CertId"])


def _line(out: str, start: str) -> str:
    """The table row whose first cell is `start`."""
    return next(line for line in out.splitlines() if re.match(rf"\W*{re.escape(start)}\b", line))


# --------------------------------------------------------------------------------------------- certs


def test_certs_upload_list_and_delete(user: Run, tmp_path: Path, container: Container, account: Credentials) -> None:
    cert, key = _pem_files(tmp_path, ["www.example.com", "api.example.com"])
    code, out, _ = user("certs", "upload", "--name", "web", "--cert", cert, "--key", key)
    uploaded_id = int(re.fullmatch(r"Certificate (\d+) uploaded \(cas-upload-\d+\)\.\n", out).group(1))
    issued = make_cert(["*.example.org"], common_name="*.example.org")
    official = add_certificate(
        container.deps,
        account.account.id,
        name="free-org",
        origin=CertOrigin.FREE,
        cert_pem=issued.cert_pem,
        key_pem=issued.key_pem,
    )

    code, out, _ = user("certs", "list")

    assert code == 0 and "Certificates (2)" in out
    row = _line(out, str(uploaded_id))
    assert "web" in row and "www.example.com, api.example.com" in row and "uploaded" in row
    assert official.not_after.strftime("%Y-%m-%d") in _line(out, str(official.id))
    assert "official" in _line(out, str(official.id)) and "*.example.org" in _line(out, str(official.id))
    listed = _json(user("certs", "list", "--json"))
    assert [(item["CertificateId"], item["Upload"]) for item in listed] == [(official.id, False), (uploaded_id, True)]
    assert _json(user("certs", "list", "--keyword", "api.example", "--json"))[0]["Name"] == "web"

    code, out, _ = user("certs", "delete", str(uploaded_id))
    assert (code, out.strip()) == (0, f"CertId {uploaded_id}: deleted")
    assert [item["CertificateId"] for item in _json(user("certs", "list", "--json"))] == [official.id]


def test_certs_list_reads_every_page_unless_one_is_asked_for(user: Run, tmp_path: Path) -> None:
    ids = [_upload(user, tmp_path, f"cert-{n}", [f"n{n}.example.com"]) for n in range(5)]

    every = _json(user("certs", "list", "--size", "2", "--json"))
    second = _json(user("certs", "list", "--page", "2", "--size", "2", "--json"))

    assert sorted(item["CertificateId"] for item in every) == ids
    assert len(second) == 2 and {item["CertificateId"] for item in second} < set(ids)


def test_certs_upload_refused_shows_the_api_error(user: Run, tmp_path: Path) -> None:
    _upload(user, tmp_path, "web", ["www.example.com"])
    cert, key = _pem_files(tmp_path, ["api.example.com"], stem="other")

    code, out, err = user("certs", "upload", "--name", "web", "--cert", cert, "--key", key)
    json_code, json_out, json_err = user("certs", "upload", "--name", "web", "--cert", cert, "--key", key, "--json")

    assert code == 1 and out == ""
    assert re.fullmatch(rf"certdeploy: error: NameAlreadyExist: .+ {REQUEST_ID}\n", err), err
    assert json_code == 1 and json_out == ""
    error = json.loads(json_err)
    assert set(error) == {"Code", "Message", "RequestId"} and error["Code"] == "NameAlreadyExist"
    assert error["Message"] in err and re.fullmatch(REQUEST_ID, f"({error['RequestId']})")


def test_a_bad_secret_is_refused_with_the_api_error_line(user: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTDEPLOY_ACCESS_KEY_SECRET", "not-the-secret")

    code, out, err = user("certs", "list")

    assert code == 1 and out == "" and err.count("\n") == 1
    assert re.match(rf"certdeploy: error: SignatureDoesNotMatch: .+ {REQUEST_ID}$", err), err


# --------------------------------------------------------------------------------------------- resources


@pytest.mark.usefixtures("inventory")
def test_resources_list_shows_product_domain_https_and_the_bound_certificate(user: Run) -> None:
    code, out, _ = user("resources", "list")

    assert code == 0 and "Resources (5)" in out
    assert re.search(r"CDN .*www\.example\.com .*cn-hangzhou .*on .*legacy-www", out)
    assert re.search(r"NLB .*tcp\.example\.com:8443 ", out)
    assert re.search(r"OSS .*static\.example\.com .*cn-beijing .*off", out)
    alb = _json(user("resources", "list", "--product", "ALB", "--json"))
    assert [(item["CloudProduct"], item["Domain"], item["ListenerPort"]) for item in alb] == [
        ("ALB", "api.example.com", "443")
    ]
    assert [item["Domain"] for item in _json(user("resources", "list", "--keyword", "shop", "--json"))] == [
        "shop.example.org"
    ]


@pytest.mark.usefixtures("inventory")
def test_resources_list_with_certs_shows_each_resource_s_match(user: Run, tmp_path: Path) -> None:
    www = _upload(user, tmp_path, "www", ["www.example.com"])
    wildcard = _upload(user, tmp_path, "wildcard", ["*.example.com"])

    code, out, _ = user("resources", "list", "--cert", str(www), str(wildcard))
    listed = _json(user("resources", "list", "--cert", str(www), "--cert", str(wildcard), "--json"))
    matched_only = _json(user("resources", "list", "--cert", str(www), "--matched", "--json"))

    assert code == 0 and f"Cert {www}" in out and f"Cert {wildcard}" in out
    assert re.search(r"www\.example\.com .*│ matches +│ matches", out)
    assert re.search(r"api\.example\.com:443 .*│ - +│ matches", out)
    assert re.search(r"static\.example\.com .* off .*│ - +│ - ", out)  # HTTPS is off: nothing is deployed there
    matches = {item["Domain"]: item["MatchedCertIds"] for item in listed}
    assert matches == {
        "www.example.com": [www, wildcard],
        "api.example.com": [wildcard],
        "tcp.example.com": [wildcard],
        "static.example.com": [],
        "shop.example.org": [],
    }
    assert [item["Domain"] for item in matched_only] == ["www.example.com"]


# --------------------------------------------------------------------------------------------- contacts


def test_contacts_add_list_update_and_delete(user: Run) -> None:
    code, out, _ = user(
        "contacts", "add", "--name", "Ops", "--mobile", "13800000000", "--email", "ops@example.com",
        "--webhook", DINGTALK, "--webhook", LARK,
    )  # fmt: skip
    contact_id = int(re.fullmatch(r"Contact (\d+) added\.\n", out).group(1))

    code, out, _ = user("contacts", "list")
    assert code == 0 and "Contacts (1)" in out
    assert re.search(rf"{contact_id} .*Ops .*ops@example\.com .*13800000000 .*{re.escape(DINGTALK)}", out)

    updated = _json(user("contacts", "update", str(contact_id), "--name", "Ops team", "--no-webhooks", "--json"))
    assert updated == {"ContactId": contact_id}
    [contact] = _json(user("contacts", "list", "--json"))
    assert (contact["Name"], contact["Email"], contact["WebhookList"]) == ("Ops team", "ops@example.com", [])

    deleted = _json(user("contacts", "delete", str(contact_id), "--json"))
    assert deleted == [{"ContactId": contact_id, "Ok": True}]
    code, out, _ = user("contacts", "delete", str(contact_id), "--json")
    [refused] = json.loads(out)
    assert code == 1 and refused["Ok"] is False and refused["Error"]["Code"].endswith("NotFound")


def test_contacts_add_with_a_webhook_the_server_refuses(user: Run) -> None:
    code, out, err = user(
        "contacts", "add", "--name", "Ops", "--mobile", "13800000000", "--webhook", "http://127.0.0.1:9/hook"
    )

    assert code == 1 and out == ""
    assert re.match(
        rf"certdeploy: error: IncorrectFormat\.Webhooks: .+neither a known bot host.+ {REQUEST_ID}$", err
    ), err


def test_windows_add_list_and_delete(user: Run) -> None:
    code, out, _ = user(
        "windows", "add", "--days", "Sat,Sun", "--start", "02:00", "--minutes", "240", "--time-zone", "Asia/Shanghai",
        "--tag", "env=prod",
    )  # fmt: skip
    window_id = int(re.fullmatch(r"Maintenance window (\d+) added\.\n", out).group(1))

    code, out, _ = user("windows", "list")
    assert code == 0 and "Maintenance windows (1)" in out
    assert re.search(rf"{window_id} .*Sat,Sun .*02:00 .*240 .*Asia/Shanghai .*env=prod", _line(out, str(window_id)))
    [listed] = _json(user("windows", "list", "--json"))
    assert (listed["WindowId"], listed["Days"], listed["Tag"]) == (window_id, "Sat,Sun", "env=prod")

    code, _, err = user("windows", "add", "--days", "Sat", "--start", "2am", "--minutes", "60", "--time-zone", "UTC")
    assert code == 1 and re.match(rf"certdeploy: error: InvalidParameter\.StartTime: .+ {REQUEST_ID}$", err), err

    assert _json(user("windows", "delete", str(window_id), "--json")) == [{"WindowId": window_id, "Ok": True}]
    assert _json(user("windows", "list", "--json")) == []


# --------------------------------------------------------------------------------------------- jobs


@pytest.mark.usefixtures("inventory")
def test_jobs_cancel_edit_and_submit_move_a_job_as_the_api_does(user: Run, tmp_path: Path) -> None:
    cert_id = _upload(user, tmp_path, "wildcard", ["*.example.com"])
    resources = {item["CloudProduct"]: item["Id"] for item in _json(user("resources", "list", "--json"))}
    later = "2099-01-01T00:00:00Z"
    created = _json(
        user(
            "jobs", "create", "--name", "later", "--certs", str(cert_id),
            "--resources", f"{resources['ALB']},{resources['NLB']}", "--at", later, "--yes", "--json",
        )
    )  # fmt: skip
    job_id = created["JobId"]
    assert created["Submitted"] is True and _job(user, job_id)["Status"] == "pending"

    cancelled = _json(user("jobs", "cancel", str(job_id), "--json"))
    assert (cancelled["Status"], cancelled["Preview"]["UseCount"]) == ("editing", 0)  # the quota is given back
    code, _, err = user("jobs", "cancel", str(job_id))
    assert code == 1 and re.match(rf"certdeploy: error: InvalidStatus: .*pending.* {REQUEST_ID}$", err), err

    code, out, _ = user("jobs", "edit", str(job_id), "--name", "alb only", "--resources", str(resources["ALB"]))
    assert code == 0 and "Preview of job" in out and re.search(r"Workers \(resources to deploy\) +│ +1", out)
    assert _job(user, job_id)["Name"] == "alb only"

    code, out, _ = user("jobs", "submit", str(job_id))
    assert code == 0 and "submitted for 2099-01-01" in out and _job(user, job_id)["Status"] == "pending"
    assert _json(user("jobs", "edit", str(job_id), "--json"))["Status"] == "editing"  # pending → editing
    assert _job(user, job_id)["Status"] == "editing"

    user("jobs", "submit", str(job_id))
    assert _job(user, job_id)["Status"] == "pending"
    submitted = _json(user("jobs", "submit", str(job_id), "--now", "--json"))  # pending, started before its time
    assert (submitted["Submitted"], submitted["Preview"]["CostCount"]) == (True, 1)
    assert _job(user, job_id)["Status"] in ("scheduling", "processing")


@pytest.mark.usefixtures("inventory")
def test_jobs_edit_changes_what_a_verification_mismatch_does(
    user: Run, tmp_path: Path, container: Container, account: Credentials
) -> None:
    cert_id = _upload(user, tmp_path, "wildcard", ["*.example.com"])
    create = ("jobs", "create", "--name", "later", "--certs", str(cert_id), "--resources", "1", "--at", "2099-01-01")
    job_id = _json(user(*create, "--verify-mismatch", "fail", "--yes", "--json"))["JobId"]

    def policy() -> VerifyMismatch:
        return container.store.verifications.mismatch_policy(account.account.id, job_id)

    assert policy() is VerifyMismatch.FAIL
    edited = _json(user("jobs", "edit", str(job_id), "--verify-mismatch", "rollback", "--json"))
    assert edited["Status"] == "editing" and policy() is VerifyMismatch.ROLLBACK
    with pytest.raises(SystemExit) as refused:
        user("jobs", "edit", str(job_id), "--verify-mismatch", "ignore")
    assert refused.value.code == 2 and policy() is VerifyMismatch.ROLLBACK


STAGED_INVENTORY = """
resources:
  - {product: CDN, region: cn-hangzhou, instance: cdn-a, domain: a.example.com, fail: the CDN refuses it}
  - {product: CDN, region: cn-hangzhou, instance: cdn-b, domain: b.example.com}
  - {product: CDN, region: cn-hangzhou, instance: cdn-c, domain: c.example.com}
"""


def test_jobs_run_in_stages_halt_and_resume(
    user: Run, tmp_path: Path, container: Container, account: Credentials
) -> None:
    load_inventory(container, account.account.id, STAGED_INVENTORY, tmp_path)
    cert_id = _upload(user, tmp_path, "wildcard", ["*.example.com"])
    resources = ",".join(str(item["Id"]) for item in _json(user("resources", "list", "--json")))
    create = ("jobs", "create", "--name", "staged", "--certs", str(cert_id), "--resources", resources)
    code, out, _ = user(*create, "--stages", "1,100%", "--max-failures", "0", "--yes", "--no-wait")
    assert code == 0, out
    assert re.search(r"Stage 1 +│ +1, from \d{4}-\d\d-\d\d", out) and re.search(r"Stage 2 +│ +2", out), out
    job_id = int(re.findall(r"Job (\d+) submitted", out)[0])
    drain(container)

    code, out, _ = user("jobs", "show", str(job_id))
    assert code == 0 and "Stages 1,100% (max failures 0) · stage 1 of 2" in out
    assert "Halted after stage 1 of 2" in out and f"certdeploy jobs resume {job_id}" in out
    load_inventory(container, account.account.id, STAGED_INVENTORY.replace(", fail: the CDN refuses it", ""), tmp_path)
    resumed = _json(user("jobs", "resume", str(job_id), "--json"))
    assert resumed["Submitted"] is True and resumed["Preview"]["UseCount"] == 3
    drain(container)
    assert _job(user, job_id)["Status"] == "success"
    code, _, err = user("jobs", "create", "--name", "bad", "--certs", str(cert_id), "--resources", resources,
                        "--stages", "50%", "--yes")  # fmt: skip
    assert code == 1 and re.match(rf"certdeploy: error: InvalidParameter.Stages: .*100%.* {REQUEST_ID}$", err), err


def _job(user, job_id: int) -> dict[str, object]:
    return _json(user("jobs", "show", str(job_id), "--json"))["Job"]


@pytest.mark.usefixtures("inventory")
def test_jobs_list_pages_and_json_is_the_list_of_jobs(user: Run, tmp_path: Path) -> None:
    cert_id = _upload(user, tmp_path, "wildcard", ["*.example.com"])
    for name in ("one", "two", "three"):
        code, _, err = user(
            "jobs", "create", "--name", name, "--certs", str(cert_id), "--resources", "1", "--at", "2099-01-01",
            "--yes", "--json",
        )  # fmt: skip
        assert code == 0, err

    every = _json(user("jobs", "list", "--size", "2", "--json"))
    code, out, _ = user("jobs", "list", "--page", "2", "--size", "2")

    assert sorted(job["Name"] for job in every) == ["one", "three", "two"]
    assert code == 0 and "Jobs (page 2)" in out and re.search(r"│ (one|two|three) +│ user +│ pending", out)


# --------------------------------------------------------------------------------------------- completion


@pytest.mark.parametrize(
    ("words", "candidates"),
    [
        (["jobs", "s"], ["show", "submit"]),
        (["resources", "list", "--m"], ["--matched"]),
        (["contacts", "update", "7", "--no"], ["--no-webhooks"]),
        (["c"], ["cert", "certs", "cloud", "completion", "contacts"]),
    ],
)
def test_bash_completes_commands_and_options(
    words: list[str], candidates: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "certdeploy.bash"
    script.write_text(capsys.readouterr().out)
    typed = ["certdeploy", *words]
    line = " ".join(typed)
    # What bash does on <Tab>: the words so far, the index of the one being completed, then the completion function
    # with the command, the word being completed and the word before it.
    probe = (
        f"source {shlex.quote(str(script))}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; "
        f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; '
        f"_shtab_certdeploy certdeploy {shlex.quote(typed[-1])} {shlex.quote(typed[-2])}; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )

    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)

    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == candidates


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_the_user_commands(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["completion", shell])
    script = capsys.readouterr().out

    assert code == 0 and script.startswith("#")
    for word in ("certs", "resources", "contacts", "jobs", "submit", "cancel", "matched", "no-webhooks", "serve"):
        assert word in script, word
