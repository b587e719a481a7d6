"""The built Function Compute code, run as FC runs it.

`packaging/build.py` builds the six code directories for this interpreter's Python version (the same code path as
`make package` for python3.10/3.12: manylinux wheels, `pip install --target`); a fresh virtualenv with nothing
installed then runs each function through `packaging/invoke.py` with only its code directory on `sys.path`:
`handler.initialize(context)`, then `handler.handler(<events/ sample as bytes>, context)`. The database is a SQLite
file migrated beforehand with `certdeploy migrate`, as a deployment does (the functions never migrate a configured
database); queues and cloud are the local ones under a temporary data directory.

Wheels are cached in build/wheelhouse (shared with `make package`), so only the first run downloads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from certdeploy.adapters.cloud import DEPLOYER_FACTORIES
from certdeploy.adapters.sql.crypto import generate_key_encryption_key
from certdeploy.app.scheduler import TickReport
from tests.function_samples import invoke_sample

REPO = Path(__file__).resolve().parent.parent.parent
PACKAGE = REPO / "shared" / "certdeploy"
WHEELHOUSE = REPO / "build" / "wheelhouse"
FC_PYTHONS_VARIABLE = "CERTDEPLOY_TEST_FC_PYTHONS"


def _runtimes() -> list[tuple[str, str]]:
    """(runtime, interpreter) pairs to build and run for: the FC runtimes' own interpreters when configured
    (`CERTDEPLOY_TEST_FC_PYTHONS="python3.10=/path/to/python3.10,python3.12=/path/to/python3.12"`, set by .ci/run),
    otherwise this interpreter's Python version."""
    configured = os.environ.get(FC_PYTHONS_VARIABLE, "")
    pairs = [entry.split("=", 1) for entry in configured.split(",") if "=" in entry]
    if pairs:
        return [(runtime.strip(), interpreter.strip()) for runtime, interpreter in pairs]
    return [(f"python{sys.version_info.major}.{sys.version_info.minor}", sys.executable)]


FUNCTIONS = ("api", "scheduler", "execute", "notify", "rollback", "certificate_issued")
# What the test environment and `certdeploy serve` alone use: no function carries it (FC serves HTTP itself).
LOCAL_ONLY_MODULES = ("pytest", "uvicorn", "h11", "rich", "shtab")
_SDK_IMPORT = re.compile(r"^\s*(?:from|import) ((?:alibabacloud_\w+|oss2|fc2)(?:\.\w+)*)", re.MULTILINE)


def _sdk_modules(*sources: Path) -> set[str]:
    """The SDK modules these source files import, lazily or not."""
    return {module for source in sources for module in _SDK_IMPORT.findall(source.read_text())}


_CLOUD = PACKAGE / "adapters" / "cloud"
_CLOUD_MODULE_IMPORT = re.compile(r"^from certdeploy\.adapters\.cloud\.(\w+) import", re.MULTILINE)


def _deployer_sources() -> set[Path]:
    """The deployers' modules and the cloud modules they are built from (the FC deployer's `fc2_domains` and
    `fc3_domains`); `common` is left out: the SDK errors it imports come with tea-openapi, which the CAS source uses
    as well."""
    deployers = {
        PACKAGE.parent / (path.partition(":")[0].replace(".", "/") + ".py") for path in DEPLOYER_FACTORIES.values()
    }
    helpers = {
        _CLOUD / f"{name}.py" for module in deployers for name in _CLOUD_MODULE_IMPORT.findall(module.read_text())
    }
    return deployers | (helpers - {_CLOUD / "common.py"})


DEPLOYER_SDKS = _sdk_modules(*sorted(_deployer_sources()))
CAS_SDKS = _sdk_modules(PACKAGE / "adapters" / "cloud" / "cas_source.py")
SMS_SDKS = _sdk_modules(PACKAGE / "adapters" / "notify" / "sms.py")
ALL_SDKS = DEPLOYER_SDKS | CAS_SDKS | SMS_SDKS
# What each function must be able to import, of all the SDK modules; the rest it must not carry.
CARRIES = {
    "api": set(),
    "certificate_issued": set(),
    "notify": SMS_SDKS,
    "scheduler": CAS_SDKS,
    "execute": DEPLOYER_SDKS | CAS_SDKS,
    "rollback": DEPLOYER_SDKS | CAS_SDKS,
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=_runtimes(), ids=lambda pair: pair[0])
def runtime(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, runtime: tuple[str, str]) -> Path:
    return tmp_path_factory.mktemp(f"fc-{runtime[0]}")


@pytest.fixture(scope="module")
def built(workdir: Path, runtime: tuple[str, str]) -> Path:
    output = workdir / "build"
    name, interpreter = runtime
    command = [sys.executable, str(REPO / "packaging" / "build.py"), "--runtime", name]
    # The runtime's own interpreter compiles the bytecode the package ships (packaging/build.py --python).
    command += ["--any-python"] if interpreter == sys.executable else ["--python", interpreter]
    result = subprocess.run(
        [*command, "--output", str(output), "--wheelhouse", str(WHEELHOUSE)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return output


@pytest.fixture(scope="module")
def clean_python(workdir: Path, runtime: tuple[str, str]) -> Path:
    """A virtualenv of the runtime's Python with nothing installed, not even pip."""
    environment = workdir / "venv"
    created = subprocess.run(
        [runtime[1], "-m", "venv", "--without-pip", str(environment)], capture_output=True, text=True, check=False
    )
    assert created.returncode == 0, created.stderr
    python = environment / "bin" / "python"
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    )
    assert version.stdout.strip() == str(tuple(int(part) for part in runtime[0].removeprefix("python").split(".")))
    return python


@pytest.fixture(scope="module")
def function_environment(workdir: Path) -> dict[str, str]:
    """What s.yaml would set, pointed at local stand-ins; the schema created by `certdeploy migrate`."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "CERTDEPLOY_DATA": str(workdir / "data"),
        "CERTDEPLOY_DATABASE_URL": f"sqlite:///{workdir / 'certdeploy.sqlite'}",
        "CERTDEPLOY_KEY_ENCRYPTION_KEY": generate_key_encryption_key(),
    }
    certdeploy_command = Path(sys.executable).parent / "certdeploy"
    migrated = subprocess.run(
        [str(certdeploy_command), "migrate"], env=environment, capture_output=True, text=True, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    return environment


def _invoke(
    clean_python: Path, code_dir: Path, environment: dict[str, str], function: str
) -> tuple[dict[str, Any], str]:
    checks = [
        flag for module in [*sorted(ALL_SDKS), "jinja2", *LOCAL_ONLY_MODULES] for flag in ("--check-import", module)
    ]
    return invoke_sample([str(clean_python), "-s"], code_dir, function, environment, *checks)


@pytest.fixture(scope="module")
def invocations(
    built: Path, clean_python: Path, function_environment: dict[str, str]
) -> dict[str, tuple[dict[str, Any], str]]:
    return {function: _invoke(clean_python, built / function, function_environment, function) for function in FUNCTIONS}


def test_the_sdk_modules_under_test_are_found_in_the_code() -> None:
    assert {"oss2", "fc2", "alibabacloud_fc20230330.client", "alibabacloud_cdn20180510.client"} <= DEPLOYER_SDKS
    assert "alibabacloud_cas20200407.client" in CAS_SDKS
    assert "alibabacloud_dysmsapi20170525.client" in SMS_SDKS


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_runs_from_its_own_code_directory_only(
    invocations: dict[str, tuple[dict[str, Any], str]], built: Path, function: str
) -> None:
    output, _ = invocations[function]

    for module, origin in output["loaded_from"].items():
        assert origin is not None and Path(origin).is_relative_to(built / function), module
    assert not any(output["imports"][module] for module in LOCAL_ONLY_MODULES)  # nor of the test environment


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_carries_the_sdks_it_calls_and_no_others(
    invocations: dict[str, tuple[dict[str, Any], str]], function: str
) -> None:
    output, _ = invocations[function]

    importable = {module for module in ALL_SDKS if output["imports"][module]}

    assert importable == CARRIES[function]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_only_the_notify_function_carries_the_template_engine(
    invocations: dict[str, tuple[dict[str, Any], str]], function: str
) -> None:
    assert invocations[function][0]["imports"]["jinja2"] is (function == "notify")


def test_the_notify_function_renders_a_report_from_its_own_code_directory(built: Path, clean_python: Path) -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from certdeploy.adapters.notify.render import render_notification;"
        "from certdeploy.domain.notifications import JobReport;"
        "report = JobReport(job_id=7, job_name='<www>', event='job_finished', outcome='success');"
        "print(render_notification(report).html)"
    )
    result = subprocess.run(
        [str(clean_python), "-s", "-c", script, str(built / "notify")], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert "Deployment job &quot;&lt;www&gt;&quot; (ID 7) succeeded" in result.stdout


def test_the_api_answers_the_signed_sample_request_with_a_cas_reply(
    invocations: dict[str, tuple[dict[str, Any], str]],
) -> None:
    reply = invocations["api"][0]["result"]
    body = json.loads(reply["body"])

    # The sample is signed with an AccessKey this database does not know, at a fixed past time: a CAS error.
    assert 400 <= reply["statusCode"] < 500 and reply["isBase64Encoded"] is False
    assert reply["headers"]["Content-Type"].startswith("application/json")
    assert body["Code"] and body["RequestId"] == reply["headers"]["x-acs-request-id"]


def test_the_scheduler_reports_its_tick(invocations: dict[str, tuple[dict[str, Any], str]]) -> None:
    report = json.loads(invocations["scheduler"][0]["result"])

    assert set(report) == {field.name for field in dataclasses.fields(TickReport)}
    assert report["started_jobs"] == 0 and all(isinstance(count, int) for count in report.values())


@pytest.mark.parametrize(("function", "messages"), [("execute", 1), ("notify", 3), ("rollback", 1)])
def test_queue_consumers_handle_every_message_of_their_sample_without_poison(
    invocations: dict[str, tuple[dict[str, Any], str]], function: str, messages: int
) -> None:
    output, log = invocations[function]

    assert output["result"] == f"handled {messages} message(s)"
    assert "poison" not in log


def test_certificate_issued_takes_the_sample_event(invocations: dict[str, tuple[dict[str, Any], str]]) -> None:
    assert invocations["certificate_issued"][0]["result"] == "ok"


def test_the_api_function_carries_the_web_console(built: Path) -> None:
    # The api function serves /console/ from its own code directory (docs/console.md).
    console = built / "api" / "certdeploy" / "console"
    assert (console / "index.html").is_file()
    assert {path.name for path in (console / "js").glob("*.js")} >= {"app.js", "api.js", "jobs.js", "wizard.js"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_ships_the_bytecode_of_its_runtime(built: Path, runtime: tuple[str, str], function: str) -> None:
    # FC's code directory is read-only: a module without its .pyc is compiled again on every cold start.
    tag = "cpython-" + runtime[0].removeprefix("python").replace(".", "")
    sources = [path for path in (built / function).rglob("*.py") if "__pycache__" not in path.parts]

    missing = [path for path in sources if not (path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc").exists()]

    assert sources and missing == []
