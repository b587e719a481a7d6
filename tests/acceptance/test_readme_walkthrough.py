"""The README's walkthrough: `examples/walkthrough.py`, run as the README says, against the demo inventory of
`make run` — it must go through, and its contact must be told."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.conftest import AccountKeys, Service
from tests.certgen import make_cert
from tests.functional.serve_process import REPO, child_environment, wait_for

SCRIPT = REPO / "examples" / "walkthrough.py"
DEMO_INVENTORY = REPO / "demo" / "inventory.yaml"


@pytest.fixture
def pem_files(tmp_path: Path) -> tuple[Path, Path]:
    generated = make_cert(["*.example.com", "www.example.com"], common_name="*.example.com", key="rsa")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text(generated.chain_pem)
    key.write_text(generated.key_pem)
    return cert, key


def test_the_walkthrough_script_runs_against_the_demo_inventory(
    service: Service, rival: AccountKeys, pem_files: tuple[Path, Path]
) -> None:
    demo = service.create_account("demo", quota=20, inventory=DEMO_INVENTORY)
    cert, key = pem_files
    env = child_environment(
        CERTDEPLOY_ENDPOINT=f"http://127.0.0.1:{service.process.port}",
        CERTDEPLOY_ACCESS_KEY_ID=demo.access_key_id,
        CERTDEPLOY_ACCESS_KEY_SECRET=demo.access_key_secret,
    )
    # fmt: off
    arguments = [
        "--cert", str(cert), "--key", str(key), "--email", "demo@example.com", "--webhook", service.bots.webhook_url,
        "--schedule-in", "3", "--timeout", "30",
        "--other-key-id", rival.access_key_id, "--other-key-secret", rival.access_key_secret,
    ]
    # fmt: on

    done = subprocess.run(
        [sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, env=env, cwd=REPO, timeout=90
    )

    assert done.returncode == 0, done.stdout + done.stderr
    walk = done.stdout
    assert "it costs 9 quota" in walk
    assert re.search(r"OSS resource \d+: HTTPS is disabled", walk)
    assert re.search(r"NLB +tcp\.example\.com +error +<- OperationDenied: the listener is locked", walk)
    assert "Quota: UseCount 0 -> 8: 9 charged at submit, 1 given back for the failures" in walk
    # Checked over TLS: the DCDN (serve_old: 20) still serves its old state at the first check, to be checked again.
    assert re.search(r"ALB +www\.example\.com +verified", walk) and re.search(r"SAE +app\.example\.com +verified", walk)
    assert re.search(r"DCDN +media\.example\.com +pending: ", walk)
    assert re.search(r"NLB +tcp\.example\.com +not checked: deployment failed", walk)
    assert "rollback_success" in walk and "job rolled_back" in walk
    assert re.search(r"Job \d+: NotFound", walk)
    assert re.search(
        r"Job \d+ \(planned start \d{13}\) asked to run now is pending: waits for its maintenance window", walk
    )
    assert re.search(r"Window \d+ deleted; job \d+ asked again runs now: success", walk)
    assert re.search(r"Job \d+ stages: stage 1: 1 worker\(s\), stage 2: 1 worker\(s\)", walk)
    assert re.search(r"Job \d+ error: Halted after stage 1 of 2: 1 of 1 worker\(s\) run so far failed", walk)
    assert "Quota: UseCount 9 -> 9; the later stage's resources unchanged" in walk
    assert re.search(r"Other account: 0 job\(s\); job \d+: NotFound", walk)
    assert "Refused: SignatureDoesNotMatch (HTTP 400)" in walk
    job_id = int(re.search(r"^Job (\d+): 9 of 13 resources match", walk, re.MULTILINE).group(1))
    wait_for(lambda: len(service.inbox.about_job(job_id)) >= 2, "the mails about the job and its rollback")
    mails = service.inbox.about_job(job_id)
    assert {mail.recipient for mail in mails} == {"demo@example.com"}
    assert sorted(mail.subject.split(" (ID ")[0] for mail in mails) == [
        '[certdeploy] Deployment job "walkthrough"',
        '[certdeploy] Rollback of deployment job "walkthrough"',
    ]
