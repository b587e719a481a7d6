"""The official Node CAS SDK (`@alicloud/cas20200407`, installed by `npm ci` from tests/clients/node's lock file)
walks every deployment action against `certdeploy serve`, signing with ACS3-HMAC-SHA256 (its default) and with the
V1 HMAC-SHA1 RPC signature; each reply is checked against the SDK's typed model by tests/clients/node/walk.js."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.certgen import GeneratedCert
from tests.functional.clients.conftest import SAE_NAMESPACE, RunningService
from tests.functional.serve_process import REPO, child_environment

NODE_PROJECT = REPO / "tests" / "clients" / "node"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node_project() -> Path:
    """The Node project with its locked dependencies installed (`npm ci` when node_modules is missing or stale)."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "node and npm are needed for the real-client suite (Node 18 or later)"
    installed = NODE_PROJECT / "node_modules" / ".package-lock.json"
    lock = NODE_PROJECT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_PROJECT, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return NODE_PROJECT


def walk(project: Path, service: RunningService, mode: str, cert: GeneratedCert, spare: GeneratedCert) -> Any:
    keys = service.account(f"node-{mode}")
    walk_input = {
        "endpoint": f"127.0.0.1:{service.process.port}",
        "accessKeyId": keys.access_key_id,
        "accessKeySecret": keys.access_key_secret,
        "mode": mode,
        "cert": cert.chain_pem,
        "key": cert.key_pem,
        "spareCert": spare.chain_pem,
        "spareKey": spare.key_pem,
        "saeNamespace": SAE_NAMESPACE,
    }
    done = subprocess.run(
        ["node", "walk.js"],
        cwd=project,
        input=json.dumps(walk_input),
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("mode", ["acs3", "hmac-sha1"])
def test_the_node_sdk_walks_every_action(
    node_project: Path, service: RunningService, wildcard: GeneratedCert, spare: GeneratedCert, mode: str
) -> None:
    report = walk(node_project, service, mode, wildcard, spare)

    failed = [step for step in report["steps"] if not step["ok"]]
    assert not failed, json.dumps(failed, indent=1)
    walked = {step["step"] for step in report["steps"]}
    assert {
        "upload certificate",
        "pending back to editing",
        "job finished",
        "rollbacks finished",
        "delete job",
    } <= walked
    assert {"bad signature", "unknown AccessKeyId", "missing parameter", "bad parameter", "unknown job"} <= walked
