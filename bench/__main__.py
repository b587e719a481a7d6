"""`python -m bench [NAME ...] [--json]`: run the named benchmarks (all by default), print their results and write
the goals' table to bench/results.md.

A benchmark is a module with `run()` returning either a dict of JSON-serialisable values (printed as they are) or
a list of rows, each `{"goal", "result", "baseline"}` (`bench.measure.row`): the rows of every benchmark that ran
make one table, printed and written to `bench/results.md`. Add a benchmark to `BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from bench import availability, coldstart, hostile, http_front, jobs, matching, reads, rss
from bench.measure import Row

Result = dict[str, object] | list[Row]

BENCHMARKS: dict[str, Callable[[], Result]] = {
    "matching": matching.run,
    "hostile": hostile.run,
    "http_front": http_front.run,
    "availability": availability.run,
    "coldstart": coldstart.run,
    "reads": reads.run,
    "jobs": jobs.run,
    "rss": rss.run,
}
RESULTS_FILE = Path(__file__).resolve().parent / "results.md"


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{key}={item}" for key, item in value.items())
    return str(value)


def results_table(rows: Sequence[Row]) -> str:
    """The goals beside the results and the baselines measured in the same run, as a Markdown table."""
    lines = ["| goal | result | baseline (same run) |", "|---|---|---|"]
    lines += [f"| {row['goal']} | {row['result']} | {row['baseline']} |" for row in rows]
    return "\n".join(lines) + "\n"


def write_results(rows: Sequence[Row], names: Sequence[str], path: Path = RESULTS_FILE) -> None:
    """The run's table at the top of `path`; the sections after it (`## …`: the before/after records and what bounds
    each goal, written by hand) are kept."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        "# Benchmark results\n\n"
        f"Written by `python -m bench {' '.join(names)}` on {when}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}.\n\n"
    )
    previous = path.read_text() if path.exists() else ""
    sections = previous.find("\n## ")
    kept = previous[sections:] if sections >= 0 else ""
    path.write_text(header + results_table(rows) + kept)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--results", type=Path, default=RESULTS_FILE, help="where to write the goals' table (default bench/results.md)"
    )
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    names = arguments.names or list(BENCHMARKS)
    results = {name: BENCHMARKS[name]() for name in names}
    rows = [row for result in results.values() if isinstance(result, list) for row in result]
    if arguments.json:
        print(json.dumps(results, indent=2))
    else:
        for name, result in results.items():
            if isinstance(result, dict):
                print(f"{name}:")
                for key, value in result.items():
                    print(f"  {key}: {_format(value)}")
        if rows:
            print(results_table(rows))
    if rows:
        write_results(rows, names, arguments.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
