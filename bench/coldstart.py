"""Issue 12: the cold start of each packaged function, against its goal, with bare Python measured in the same run.

    python -m bench coldstart

The six code directories are built by `packaging/build.py` for this interpreter's Python (`--any-python`, the same
code path as `make package`), or taken from `CERTDEPLOY_BENCH_COLDSTART_BUILD` (a `build.py --output` directory).
Each function then runs as FC runs it, in a fresh interpreter of a virtualenv with nothing installed:
`packaging/invoke.py` imports `handler` from the code directory alone, calls `initialize(context)` and serves the
function's `events/` sample once (against a SQLite database created by `certdeploy migrate`, local queues and cloud).
`-B` stands for FC's read-only code directory: Python cannot write `__pycache__` there, so a build without bytecode
compiles every module again on every cold start, as it would in FC.

Measured per function, median of `CERTDEPLOY_BENCH_COLDSTART_RUNS` (default 5) runs: wall time of the process, its
CPU time (user + system: what a busy machine does not inflate) and its peak RSS, each beside a bare `python -c pass`
of the same interpreter (the baseline). Goal: at most 300 ms and
40 MiB over bare. One more run under `-X importtime` names the top-level packages whose imports cost the most. The
floor beside it: the same interpreter importing only the libraries every function needs, SQLAlchemy Core with its
SQLite dialect and pydantic's `BaseModel`, from a built code directory.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tests.function_samples import SAMPLES

from bench.measure import Row, row, verdict

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO / "events"
GOAL_SECONDS = 0.300
GOAL_RSS_MIB = 40.0
TOP_IMPORTS = 5
FLOOR = "import sys; sys.path[0] = sys.argv[1]; import sqlalchemy.dialects.sqlite; from pydantic import BaseModel"


@dataclass(frozen=True)
class Sample:
    seconds: float
    cpu_seconds: float
    rss_mib: float


# Linux keeps a process's peak RSS across exec, so a child forked from this benchmark (pydantic, SQLAlchemy loaded)
# would start at this process's size. The clean interpreter forks it instead, from a bare `python` of a few MiB, and
# writes the child's wall time, CPU time (user + system), peak RSS in KiB and exit code to the file named first.
LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as report:
    print(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status), file=report)
"""


def _run(python: str, arguments: list[str], env: dict[str, str]) -> tuple[Sample, str]:
    """Run `python arguments` to its end, launched from a bare interpreter; its sample and stderr."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report"
        launch = [python, "-s", "-c", LAUNCHER, str(report), python, *arguments]
        finished = subprocess.run(launch, env=env, capture_output=True, text=True, check=False)
        fields = report.read_text().split() if report.exists() else []
        if finished.returncode != 0 or not fields or fields[3] != "0":
            raise RuntimeError(f"{' '.join(arguments)} failed:\n{finished.stderr[-3000:]}")
        seconds, cpu_seconds, rss_kib = float(fields[0]), float(fields[1]), int(fields[2])
        return Sample(seconds, cpu_seconds, rss_kib / 1024), finished.stderr


def _median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.seconds for s in samples),
        statistics.median(s.cpu_seconds for s in samples),
        statistics.median(s.rss_mib for s in samples),
    )


def top_imports(importtime: str, count: int = TOP_IMPORTS) -> list[tuple[str, float]]:
    """The top-level packages that took longest to import (their modules' own times summed), in ms, from the
    stderr of `python -X importtime`."""
    spent: dict[str, float] = defaultdict(float)
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _, name = (field.strip() for field in line.removeprefix("import time:").split("|"))
        if self_us.isdigit():
            spent[name.split(".")[0]] += int(self_us) / 1000
    return sorted(spent.items(), key=lambda item: -item[1])[:count]


def build_functions(output: Path) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    command = [sys.executable, str(REPO / "packaging" / "build.py"), "--runtime", version, "--any-python"]
    subprocess.run([*command, "--output", str(output)], check=True, capture_output=True, timeout=900)
    return output


def _environment(workdir: Path) -> dict[str, str]:
    from certdeploy.adapters.sql.crypto import generate_key_encryption_key

    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "CERTDEPLOY_DATA": str(workdir / "data"),
        "CERTDEPLOY_DATABASE_URL": f"sqlite:///{workdir / 'certdeploy.sqlite'}",
        "CERTDEPLOY_KEY_ENCRYPTION_KEY": generate_key_encryption_key(),
    }
    migrate = [sys.executable, "-c", "from certdeploy.cli.main import main; main()", "migrate"]
    subprocess.run(migrate, env=environment, check=True, capture_output=True)
    return environment


def measure(built: Path, workdir: Path, runs: int) -> list[Row]:
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    environment = _environment(workdir)
    bare = _median([_run(python, ["-s", "-B", "-c", "pass"], environment)[0] for _ in range(runs)])
    floor_command = ["-s", "-B", "-c", FLOOR, str(built / "api")]
    floor = _median([_run(python, floor_command, environment)[0] for _ in range(runs)])
    baseline = (
        f"bare python -c pass: {bare.seconds * 1000:.0f} ms (CPU {bare.cpu_seconds * 1000:.0f} ms), "
        f"{bare.rss_mib:.1f} MiB; SQLAlchemy Core + SQLite dialect + pydantic alone: "
        f"{floor.seconds * 1000:.0f} ms (CPU {floor.cpu_seconds * 1000:.0f} ms), "
        f"{floor.rss_mib - bare.rss_mib:+.1f} MiB over bare"
    )
    results: list[Row] = []
    for function, (event, base64_decoded) in SAMPLES.items():
        invoke = [str(REPO / "packaging" / "invoke.py"), str(built / function), str(EVENTS / event)]
        env = {**environment, "CERTDEPLOY_MNS_TRIGGER_BASE64_DECODE": str(base64_decoded).lower()}
        cold = _median([_run(python, ["-s", "-B", *invoke], env)[0] for _ in range(runs)])
        _, importtime = _run(python, ["-s", "-B", "-X", "importtime", *invoke], env)
        over_seconds, over_mib = cold.seconds - bare.seconds, cold.rss_mib - bare.rss_mib
        passed = cold.seconds <= GOAL_SECONDS and over_mib <= GOAL_RSS_MIB
        top = ", ".join(f"{name} {spent:.0f} ms" for name, spent in top_imports(importtime))
        results.append(
            row(
                f"cold start {function} ≤ {GOAL_SECONDS * 1000:.0f} ms and ≤ {GOAL_RSS_MIB:.0f} MiB over bare",
                f"{cold.seconds * 1000:.0f} ms ({over_seconds * 1000:+.0f} over bare; "
                f"CPU {cold.cpu_seconds * 1000:.0f} ms), {cold.rss_mib:.1f} MiB "
                f"({over_mib:+.1f} over bare): {verdict(passed)}; top imports: {top}",
                baseline,
            )
        )
    return results


def run() -> list[Row]:
    runs = int(os.environ.get("CERTDEPLOY_BENCH_COLDSTART_RUNS", "5"))
    with tempfile.TemporaryDirectory(prefix="certdeploy-bench-coldstart-") as directory:
        workdir = Path(directory)
        given = os.environ.get("CERTDEPLOY_BENCH_COLDSTART_BUILD")
        built = Path(given) if given else build_functions(workdir / "build")
        return measure(built, workdir, runs)
