"""The console in Debian's Chromium (/usr/bin/chromium) driven by the Python `playwright` package, against
`certdeploy serve` with the demo inventory as a child process. Nothing downloads a browser: Playwright is only told
where Chromium is, and `PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD` is set in case anything asks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.functional.serve_process import REPO, ServeProcess, child_environment, run_cli, serve

CHROMIUM = Path(os.environ.get("CERTDEPLOY_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "tests" / "artifacts"
ACCESS_KEY_ID = "LTAIconsoletest00001"
ACCESS_KEY_SECRET = "console-test-secret"
QUOTA = 20

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@dataclass(frozen=True)
class Console:
    server: ServeProcess

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/console/"


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    data = tmp_path_factory.mktemp("console-data")
    # The local cloud serves TLS, so deployments are verified (docs/verification.md); slow products' re-checks come
    # after 1 s and 2 s instead of minutes, so a task's details stop updating within seconds.
    env = child_environment(
        CERTDEPLOY_ACCESS_KEY_ID=ACCESS_KEY_ID,
        CERTDEPLOY_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET,
        CERTDEPLOY_LOCAL_TLS_PORT="0",
        CERTDEPLOY_VERIFY_RECHECK_SECONDS="1,2",
    )
    with serve(data, "--inventory", str(REPO / "demo" / "inventory.yaml"), "--tick", "1", env=env) as server:
        added = run_cli(["--data", str(data), "quota", "add", "default", str(QUOTA)], env=env)
        assert added.returncode == 0, added.stderr
        yield Console(server)
        server.terminate()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does) or set CERTDEPLOY_TEST_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS
