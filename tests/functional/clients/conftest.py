"""`certdeploy serve` as a child process for the real-client suites: clients nobody here wrote (the Node CAS SDK, the
legacy `aliyun-python-sdk-core`) walk every action against it, each in an account of its own with the inventory
below loaded by the admin CLI."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.certgen import GeneratedCert, make_cert
from tests.functional.serve_process import ServeProcess, child_environment, run_cli, serve

SAE_NAMESPACE = "cn-hangzhou:prod"
# Every resource below is matched by a certificate for *.example.com and deploys; the CDN and the ALB listener
# are bound to another certificate now, so a rollback has something to go back to.
INVENTORY = f"""
resources:
  - {{product: CDN, region: cn-hangzhou, instance: cdn-www, domain: www.example.com, cert: legacy-www}}
  - {{product: ALB, region: cn-shanghai, instance: alb-api, domain: api.example.com, port: 443, cert: legacy-api}}
  - {{product: SAE, region: cn-hangzhou, instance: sae-app, domain: app.example.com, namespace: "{SAE_NAMESPACE}"}}
"""


@dataclass(frozen=True)
class ClientAccount:
    access_key_id: str
    access_key_secret: str


@dataclass
class RunningService:
    process: ServeProcess
    data: Path
    inventory: Path
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def account(self, prefix: str) -> ClientAccount:
        """A new account with the inventory loaded, through the admin CLI beside the running server."""
        name = f"{prefix}-{next(self._numbers)}"
        created = self._admin("account", "create", name, "--quota", "100")
        self._admin("cloud", "load", str(self.inventory), "--account", name)
        keys = json.loads(created)
        return ClientAccount(keys["AccessKeyId"], keys["AccessKeySecret"])

    def _admin(self, *arguments: str) -> str:
        done = run_cli(["--data", str(self.data), *arguments])
        assert done.returncode == 0, f"certdeploy {' '.join(arguments)}: {done.stderr}"
        return done.stdout


@pytest.fixture(scope="package")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("clients")
    inventory = root / "inventory.yaml"
    inventory.write_text(INVENTORY)
    env = child_environment(CERTDEPLOY_DEPLOY_RETRY_BASE_SECONDS="1")
    with serve(root / "data", "--tick", "1", env=env) as process:
        yield RunningService(process, root / "data", inventory)
        assert process.terminate() == 0, process.output


@pytest.fixture(scope="package")
def wildcard() -> GeneratedCert:
    return make_cert(["*.example.com"], common_name="*.example.com")


@pytest.fixture(scope="package")
def spare() -> GeneratedCert:
    return make_cert(["spare.example.net"], common_name="spare.example.net")
