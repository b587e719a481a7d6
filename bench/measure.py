"""What the benchmarks share to report their measurements: percentiles, milliseconds and PASS/FAIL verdicts."""

from __future__ import annotations

import math

Row = dict[str, str]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def row(goal: str, result: str, baseline: str = "") -> Row:
    """One line of the goals' table (bench/results.md): the goal, what was measured, the baseline of the same run."""
    return {"goal": goal, "result": result, "baseline": baseline}
