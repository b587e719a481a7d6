"""`python -m bench [NAME ...] [--json]`: run the named benchmarks (all by default) and print their results.

A benchmark is a module with `run() -> dict[str, object]` (JSON-serialisable values); add it to `BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from bench import availability, coldstart, hostile, http_front, matching, reads

BENCHMARKS: dict[str, Callable[[], dict[str, object]]] = {
    "matching": matching.run,
    "hostile": hostile.run,
    "http_front": http_front.run,
    "availability": availability.run,
    "coldstart": coldstart.run,
    "reads": reads.run,
}


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{key}={item}" for key, item in value.items())
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    results = {name: BENCHMARKS[name]() for name in arguments.names or BENCHMARKS}
    if arguments.json:
        print(json.dumps(results, indent=2))
    else:
        for name, result in results.items():
            print(f"{name}:")
            for key, value in result.items():
                print(f"  {key}: {_format(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
