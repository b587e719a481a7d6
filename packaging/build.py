"""Build the code directories Function Compute deploys: `make package` (`FC_RUNTIME=python3.10` for the older runtime).

Layout chosen: one self-contained code directory per function, `build/fc/<runtime>/<function>/`, holding the
function's `handler.py`, the `certdeploy` package and exactly the third-party distributions that function imports.
FC packages each resource's `code:` directory and puts it on `sys.path`, so nothing else is needed at run time, and
`s deploy` needs no layer to be published first. A layer would be shared by all six functions and so would carry the
product SDKs into `api` and `notify`, which never load them.

What each function imports (the Alibaba Cloud SDKs are all imported lazily, where a call needs them):
- every function builds the container (`certdeploy.bootstrap.container`): the store (SQLAlchemy, both database
  drivers; Alembic for the embedded store's migrations, never imported by a function's cold start), settings and
  messages (pydantic), certificates (cryptography, asn1crypto, idna), the local cloud module (PyYAML) and the MNS
  queue (aliyun-mns-sdk): `CORE`; each is imported where it is used (docs/runtime.md#cold-starts);
- `scheduler` also refreshes resources from CAS (`adapters/cloud/cas_source.py`: the CAS SDK on tea-openapi);
- `execute` and `rollback` also call the products' deployers (`adapters/cloud/*`: every product SDK, fc2 and the FC 3.0
  SDK, oss2) and fetch a CAS certificate's content for products that take PEM (`cas_source`);
- `notify` also sends SMS (`adapters/notify/sms.py`: the Dysmsapi SDK on tea-openapi) and renders the reports it
  sends (`adapters/notify/render.py`: Jinja2 and MarkupSafe, with the templates beside it);
- `rich` and `shtab` are the CLI's alone, `uvicorn` and `h11` the local runner's HTTP front's (`certdeploy serve`): no
  function imports `certdeploy.local`, and FC serves HTTP itself.
Every dependency in pyproject must be placed in one of these sets: a new one fails the build until it is.

Dependencies are installed with `pip install --target` for FC's platform (x86_64, glibc 2.28 on python3.10's
Debian 10, 2.31 on python3.12's Debian 11, so manylinux wheels up to 2.28), pinned by `constraints.txt`; for
python3.10, `packaging/constraints-python3.10.txt` replaces the pins whose releases need Python 3.11. pip resolves
environment markers for the Python running it, not for `--python-version`, so after each install the markers of every
installed distribution are evaluated for the target and what they add (tomli, async-timeout on 3.10) is installed
too. Wheels are kept in `build/wheelhouse/` (a stamp records what it holds), so a rebuild with the same pins needs no
network. The few distributions published only as sdists are pure Python: they are built into `py3-none-any` wheels,
with C compilation disabled (crcmod then installs its pure-Python CRC).

Bytecode is shipped: FC's code directory is read-only, so Python cannot write `__pycache__` there, and a package
without `.pyc` files compiles every module it imports again on every cold start (2–3× the start; see
docs/runtime.md#cold-starts). pip installs with `--no-compile`, then the whole directory is compiled by an interpreter
of the target's version (`.pyc` files are per version: `--python`, else this one when it matches, else `python3.X` on
PATH) with `--invalidation-mode unchecked-hash`: the `.pyc` is used without looking at the source's modification time,
which the zip FC deploys from does not keep exactly (and the code never changes under a deployed function).
`--no-bytecode` builds without, for a machine with no such interpreter, at the cost of those slow starts.
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = ("api", "scheduler", "execute", "notify", "rollback", "certificate_issued")
SUPPORTED_RUNTIMES = ("python3.10", "python3.12")
# FC's runtimes run Debian 10 (glibc 2.28) and Debian 11 (glibc 2.31): any manylinux wheel up to glibc 2.28 loads.
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_5_x86_64",
    "manylinux1_x86_64",
)

CORE = frozenset(
    {
        "pydantic",
        "sqlalchemy",
        "alembic",
        "cryptography",
        "asn1crypto",
        "idna",
        "pyyaml",
        # Maintenance windows read IANA zones (zoneinfo) in the api, scheduler, execute and rollback functions.
        "tzdata",
        "aliyun-mns-sdk",
        "psycopg",
        "pymysql",
    }
)
LOCAL_ONLY = frozenset({"rich", "shtab", "uvicorn", "h11"})
SMS_SDK = frozenset({"alibabacloud-dysmsapi20170525", "alibabacloud-tea-openapi"})
TEMPLATES = frozenset({"jinja2", "markupsafe"})
CAS_SDK = frozenset({"alibabacloud-cas20200407", "alibabacloud-tea-openapi"})
PRODUCT_SDKS = frozenset(
    {
        "aliyun-fc2",
        "alibabacloud-fc20230330",
        "oss2",
        "alibabacloud-tea-openapi",
        "alibabacloud-sae20190506",
        "alibabacloud-alb20200616",
        "alibabacloud-nlb20220430",
        "alibabacloud-ga20191120",
        "alibabacloud-cloudapi20160714",
        "alibabacloud-mse20190531",
        "alibabacloud-cdn20180510",
        "alibabacloud-dcdn20180115",
        "alibabacloud-ddoscoo20200101",
        "alibabacloud-waf-openapi20211001",
    }
)
# Beyond the core every function needs.
FUNCTION_EXTRAS: Mapping[str, frozenset[str]] = {
    "api": frozenset(),
    "notify": SMS_SDK | TEMPLATES,
    "certificate_issued": frozenset(),
    "scheduler": CAS_SDK,
    "execute": PRODUCT_SDKS | CAS_SDK,
    "rollback": PRODUCT_SDKS | CAS_SDK,
}


class BuildError(RuntimeError):
    """The build cannot go on; the message says why."""


def canonical_name(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """`psycopg[binary]==3.3.9` → `psycopg`."""
    return canonical_name(re.split(r"[\[=<>!~;\s]", requirement, maxsplit=1)[0])


def unpinned(requirement: str) -> str:
    """`psycopg[binary]==3.3.9` → `psycopg[binary]`: versions come from the constraints, which differ per runtime."""
    return re.split(r"[=<>!~;\s]", requirement, maxsplit=1)[0]


def runtime_dependencies(pyproject: Path = REPO / "pyproject.toml") -> tuple[str, ...]:
    return tuple(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def function_requirements(dependencies: Sequence[str] = ()) -> dict[str, tuple[str, ...]]:
    """Each function's top-level requirements (unpinned), from pyproject's dependencies and the sets above."""
    dependencies = dependencies or runtime_dependencies()
    names = {requirement_name(requirement) for requirement in dependencies}
    placed = CORE | LOCAL_ONLY | set().union(*FUNCTION_EXTRAS.values())
    if names - placed:
        raise BuildError(
            f"pyproject depends on {sorted(names - placed)}: say in packaging/build.py which functions import it"
        )
    if placed - names:
        raise BuildError(
            f"packaging/build.py names distributions pyproject does not depend on: {sorted(placed - names)}"
        )
    return {
        function: tuple(sorted(unpinned(r) for r in dependencies if requirement_name(r) in CORE | function_extras))
        for function, function_extras in FUNCTION_EXTRAS.items()
    }


def python_version(runtime: str) -> str:
    """`python3.12` → `3.12`."""
    match = re.fullmatch(r"python(3\.\d+)", runtime)
    if match is None:
        raise BuildError(f"{runtime!r} is not a Python runtime name like python3.12")
    return match.group(1)


def merged_constraints(runtime: str, constraints: Path = REPO / "constraints.txt") -> str:
    """constraints.txt with the runtime's overrides (packaging/constraints-<runtime>.txt) replacing its pins."""
    overrides_file = REPO / "packaging" / f"constraints-{runtime}.txt"
    overrides = _pins(overrides_file.read_text()) if overrides_file.exists() else {}
    pins = _pins(constraints.read_text())
    pins.update(overrides)
    return "".join(f"{line}\n" for _, line in sorted(pins.items()))


def _pins(text: str) -> dict[str, str]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return {requirement_name(line): line for line in lines if line}


@dataclass(frozen=True)
class Target:
    runtime: str
    wheelhouse: Path

    @property
    def version(self) -> str:
        return python_version(self.runtime)

    @property
    def platform_options(self) -> list[str]:
        options = ["--only-binary=:all:", "--python-version", self.version, "--implementation", "cp"]
        for platform in PLATFORMS:
            options += ["--platform", platform]
        return options

    @property
    def binary_wheels(self) -> Path:
        return self.wheelhouse / f"cp{self.version.replace('.', '')}"

    @property
    def pure_wheels(self) -> Path:
        return self.wheelhouse / "built-from-sdist"


def marker_environment(version: str) -> dict[str, str]:
    """PEP 508 marker values of FC's runtimes: CPython `version` on x86_64 Linux."""
    return {
        "python_version": version,
        "python_full_version": f"{version}.0",
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "platform_python_implementation": "CPython",
        "platform_machine": "x86_64",
        "platform_system": "Linux",
        "sys_platform": "linux",
        "os_name": "posix",
        "extra": "",
    }


def missing_requirements(site: Path, version: str) -> list[str]:
    """Requirements of the distributions installed in `site` that apply on Python `version` and are not installed."""
    environment = marker_environment(version)
    installed: set[str] = set()
    required: set[str] = set()
    for dist_info in site.glob("*.dist-info"):
        metadata = email.parser.Parser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
        installed.add(canonical_name(metadata["Name"]))
        for line in metadata.get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                required.add(canonical_name(requirement.name))
    return sorted(required - installed)


def _pip(args: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"pip {args[0]} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")


def fill_wheelhouse(target: Target, requirements: Iterable[str], constraints: Path) -> None:
    """Download (or build, for sdist-only distributions) every wheel the functions need; skipped when the stamp
    shows the wheelhouse already holds them."""
    wanted = sorted(set(requirements))
    digest = hashlib.sha256(json.dumps([constraints.read_text(), wanted, PLATFORMS]).encode()).hexdigest()[:16]
    stamp = target.binary_wheels / f".complete-{digest}"
    if stamp.exists():
        return
    target.binary_wheels.mkdir(parents=True, exist_ok=True)
    target.pure_wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        dry_run = ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report)]
        _pip([*dry_run, "-c", str(constraints), *wanted])
        resolved = json.loads(report.read_text())["install"]
    sdists = [
        f"{item['metadata']['name']}=={item['metadata']['version']}"
        for item in resolved
        if not item["download_info"]["url"].endswith(".whl")
    ]
    backports = _target_only_requirements(resolved, target.version)
    if sdists:
        # CC=false makes any C extension fail to compile, so packages with a pure-Python fallback (crcmod) fall back.
        _pip(
            ["wheel", "--no-deps", "--no-cache-dir", "-w", str(target.pure_wheels), *sdists],
            env={**os.environ, "CC": "false"},
        )
    _pip(
        [
            "download",
            "--dest",
            str(target.binary_wheels),
            "--find-links",
            str(target.pure_wheels),
            "-c",
            str(constraints),
            *target.platform_options,
            *wanted,
            *backports,
        ]
    )
    stamp.touch()


def _target_only_requirements(resolved: Sequence[Mapping], version: str) -> list[str]:
    """What the resolved distributions require on the target Python but pip (resolving for its own) left out."""
    environment = marker_environment(version)
    names = {canonical_name(item["metadata"]["name"]) for item in resolved}
    required = {
        canonical_name(requirement.name)
        for item in resolved
        for requirement in map(Requirement, item["metadata"].get("requires_dist", []))
        if requirement.marker is not None and requirement.marker.evaluate(environment)
    }
    return sorted(required - names)


def install_set(target: Target, requirements: Sequence[str], constraints: Path, destination: Path) -> None:
    """`pip install --target` from the wheelhouse only, for FC's platform, completed with what the target's markers
    add."""
    from_wheelhouse = ["--no-index", "--find-links", str(target.binary_wheels), "--find-links", str(target.pure_wheels)]
    options = [*from_wheelhouse, "--target", str(destination), "--no-compile", "-c", str(constraints)]
    _pip(["install", *options, *target.platform_options, *requirements])
    attempted: set[str] = set()
    while missing := missing_requirements(destination, target.version):
        if attempted.intersection(missing):
            raise BuildError(f"installed but still missing for Python {target.version}: {sorted(missing)}")
        attempted.update(missing)
        _pip(["install", *options, "--no-deps", *target.platform_options, *missing])
    # Console scripts carry the build machine's interpreter path and are never run by FC.
    shutil.rmtree(destination / "bin", ignore_errors=True)


def bytecode_interpreter(version: str, given: str | None = None) -> str:
    """An interpreter of Python `version` to compile the bytecode with: `given`, this one, or `python<version>`."""
    if given is None and sys.version_info[:2] == tuple(int(part) for part in version.split(".")):
        return sys.executable
    interpreter = given or shutil.which(f"python{version}")
    if interpreter is None:
        raise BuildError(
            f"the bytecode for Python {version} needs a python{version} interpreter: install one, name it with "
            "--python, or build --no-bytecode (every cold start then compiles the code again)"
        )
    found = subprocess.run(
        [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
    )
    if found.returncode != 0 or found.stdout.strip() != version:
        raise BuildError(f"{interpreter} is not Python {version}: {found.stdout.strip() or found.stderr.strip()}")
    return interpreter


def compile_bytecode(directory: Path, interpreter: str) -> None:
    """Write `__pycache__/*.pyc` for every module under `directory`, valid whatever the files' times."""
    command = [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    result = subprocess.run([*command, str(directory)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"compiling {directory} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")


def _ignore_caches(_directory: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__" or name.endswith(".pyc")]


def build(
    runtime: str,
    output: Path,
    wheelhouse: Path,
    functions: Sequence[str] = FUNCTIONS,
    *,
    bytecode_with: str | None = None,
) -> dict[str, Path]:
    """Build `output/<function>/` for each function, compiled by the interpreter `bytecode_with` (none: no bytecode);
    returns the directories."""
    target = Target(runtime, wheelhouse)
    requirements = function_requirements()
    output.mkdir(parents=True, exist_ok=True)
    constraints = output / "constraints.txt"
    constraints.write_text(merged_constraints(runtime))
    fill_wheelhouse(target, [r for function in functions for r in requirements[function]], constraints)

    staged: dict[tuple[str, ...], Path] = {}
    built: dict[str, Path] = {}
    for function in functions:
        wanted = requirements[function]
        if wanted not in staged:
            staging = output / ".staging" / f"set-{len(staged)}"
            shutil.rmtree(staging, ignore_errors=True)
            install_set(target, wanted, constraints, staging)
            if bytecode_with:
                # Compiled once per set: the functions sharing it get the same `.pyc` files through the hard links.
                compile_bytecode(staging, bytecode_with)
            staged[wanted] = staging
        directory = output / function
        shutil.rmtree(directory, ignore_errors=True)
        # Hard links: the functions sharing a dependency set share its files on disk; FC gets each as a copy.
        shutil.copytree(staged[wanted], directory, copy_function=os.link)
        shutil.copy2(REPO / "functions" / function / "handler.py", directory / "handler.py")
        shutil.copytree(REPO / "shared" / "certdeploy", directory / "certdeploy", ignore=_ignore_caches)
        if bytecode_with:
            compile_bytecode(directory / "certdeploy", bytecode_with)
            compile_bytecode(directory / "handler.py", bytecode_with)
        built[function] = directory
    shutil.rmtree(output / ".staging", ignore_errors=True)
    return built


def directory_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Function Compute code directories of certdeploy.")
    parser.add_argument(
        "--runtime",
        default=os.environ.get("FC_RUNTIME", "python3.12"),
        help=f"FC runtime to build for, one of {', '.join(SUPPORTED_RUNTIMES)} (default python3.12, env FC_RUNTIME)",
    )
    parser.add_argument("--output", type=Path, help="default build/fc/<runtime>")
    parser.add_argument("--wheelhouse", type=Path, default=REPO / "build" / "wheelhouse", help="wheel cache")
    parser.add_argument("--function", action="append", choices=FUNCTIONS, help="build only these (repeatable)")
    parser.add_argument(
        "--any-python", action="store_true", help="allow a runtime FC does not offer (tests build for this Python)"
    )
    parser.add_argument("--python", help="interpreter of the runtime's Python version that compiles the bytecode")
    parser.add_argument("--no-bytecode", action="store_true", help="ship no .pyc (every cold start compiles)")
    args = parser.parse_args(argv)
    if args.runtime not in SUPPORTED_RUNTIMES and not args.any_python:
        parser.error(f"--runtime must be one of {', '.join(SUPPORTED_RUNTIMES)}")
    output = args.output or REPO / "build" / "fc" / args.runtime
    try:
        interpreter = None if args.no_bytecode else bytecode_interpreter(python_version(args.runtime), args.python)
        built = build(
            args.runtime, output, args.wheelhouse, tuple(args.function or FUNCTIONS), bytecode_with=interpreter
        )
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    for function, directory in built.items():
        print(f"{function:<20} {directory_size(directory) / 2**20:6.1f} MiB  {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
