"""Staged rollout (docs/decisions.md#staged-rollout): a job's workers run in stages, and a stage over its failure
budget halts the job. Pure: the rules for reading the options, sizing the stages and judging a finished stage.

- `Stages` is a comma-separated list of cumulative sizes, each a count of workers or a percentage of the job's
  workers: `1,10%,100%` runs 1 worker, then the workers up to 10% of the job in total, then all. Sizes increase (counts
  among counts, percentages among percentages), the last is `100%`, at most `MAX_STAGES`. A size that adds nothing
  for a given job (a count at or past a later percentage) makes no stage: the job runs the stages that have workers.
- Workers go to stages in worker id order: the first `n1` ids are stage 1, and so on.
- `MaxFailures` is a count (`2`) or a percentage (`10%`) of the workers run so far (ended in `success` or `error`);
  the default, when a job has stages, is 0: any failure halts. A stage that ends with more failed workers than the
  budget allows halts the job, unless no worker is left to hold back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field

from certdeploy.domain.errors import InvalidParameter, InvalidStatus
from certdeploy.domain.states import JobStatus

MAX_STAGES = 10
_MAX_TEXT = 100


class Size(BaseModel):
    """One cumulative stage size, or a failure budget: `count` workers, or `percent` of them."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    count: int | None = Field(None, ge=0)
    percent: int | None = Field(None, ge=0, le=100)

    def of(self, total: int) -> int:
        """The workers this size stands for in a job of `total` (a percentage rounded up: `10%` of 5 is 1)."""
        if self.percent is not None:
            return math.ceil(total * self.percent / 100)
        return min(self.count or 0, total)

    def __str__(self) -> str:
        return f"{self.percent}%" if self.percent is not None else str(self.count)


def _size(text: str, name: str) -> Size:
    value = text.strip()
    digits = value[:-1] if value.endswith("%") else value
    # ASCII only: `str.isdigit` also takes digits `int` refuses (superscripts) or other scripts' digits.
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise InvalidParameter(name, f"{value!r} is neither a whole number nor a percentage such as '10%'.")
    if value.endswith("%"):
        if int(digits) > 100:
            raise InvalidParameter(name, f"{value!r} is over 100%.")
        return Size(percent=int(digits))
    return Size(count=int(digits))


def parse_stages(text: str) -> tuple[Size, ...]:
    """The `Stages` option, checked; `InvalidParameter.Stages` when it is not a valid plan."""
    if len(text) > _MAX_TEXT:
        raise InvalidParameter("Stages", f"Stages is at most {_MAX_TEXT} characters.")
    sizes = tuple(_size(part, "Stages") for part in text.split(","))
    if len(sizes) > MAX_STAGES:
        raise InvalidParameter("Stages", f"A job has at most {MAX_STAGES} stages, not {len(sizes)}.")
    if sizes[-1].percent != 100:
        raise InvalidParameter("Stages", "The last stage must be '100%': every worker runs in some stage.")
    for kind in ("count", "percent"):
        values = [getattr(size, kind) for size in sizes if getattr(size, kind) is not None]
        if any(later <= earlier for earlier, later in pairwise(values)) or 0 in values:
            raise InvalidParameter(
                "Stages", f"Stage sizes are cumulative and must increase from more than 0: {text.strip()!r}."
            )
    return sizes


def parse_max_failures(text: str) -> Size:
    """The `MaxFailures` option: a count or a percentage; `InvalidParameter.MaxFailures` otherwise."""
    return _size(text, "MaxFailures")


def stages_text(sizes: Sequence[Size]) -> str:
    """The option as stored and shown: `1,10%,100%`."""
    return ",".join(str(size) for size in sizes)


def stage_bounds(sizes: Sequence[Size], total: int) -> tuple[int, ...]:
    """Where each stage ends in a job of `total` workers taken in id order: cumulative counts, strictly increasing,
    the last `total`. Sizes that add no worker are dropped, so stage k (from 1) is `bounds[k-2]:bounds[k-1]`."""
    bounds: list[int] = []
    for size in sizes:
        end = size.of(total)
        if end > (bounds[-1] if bounds else 0):
            bounds.append(end)
    return tuple(bounds)


def stage_sizes(sizes: Sequence[Size], total: int) -> tuple[int, ...]:
    """How many workers each stage runs (what the preview shows)."""
    bounds = stage_bounds(sizes, total)
    return tuple(end - start for start, end in pairwise((0, *bounds)))


class Verdict(Enum):
    RUNNING = "running"  # a worker of the stage has not ended (or is held for its verification)
    NEXT = "next"  # within budget: the next stage starts
    HALT = "halt"  # over budget with workers left: the job halts
    FINISH = "finish"  # nothing left to run: the job finishes as any job does


def judge_stage(budget: Size, *, running: int, waiting: int, succeeded: int, failed: int) -> Verdict:
    """What the end of a stage means, from how many of the job's workers are `running` (scheduling, processing),
    `waiting` for a later stage (pending), and ended so far."""
    if running:
        return Verdict.RUNNING
    if not waiting:
        return Verdict.FINISH
    return Verdict.HALT if over_budget(budget, succeeded=succeeded, failed=failed) else Verdict.NEXT


def over_budget(budget: Size, *, succeeded: int, failed: int) -> bool:
    """Whether `failed` workers exceed `MaxFailures` (a percentage is of the workers run so far, rounded down)."""
    if budget.percent is not None:
        return failed * 100 > budget.percent * (succeeded + failed)
    return failed > (budget.count or 0)


def halt_reason(stage: int, stages: int, budget: Size, *, succeeded: int, failed: int, waiting: int) -> str:
    """The cause a halted job states (DescribeDeploymentJob `HaltReason`, the timeline, the notification)."""
    run = succeeded + failed
    return (
        f"Halted after stage {stage} of {stages}: {failed} of {run} worker(s) run so far failed, over MaxFailures "
        f"{budget}; {waiting} worker(s) not run, their quota given back. Fix the cause and resume the job "
        f"(status 'scheduling')."
    )


def check_resumable(status: JobStatus, halted: bool) -> None:
    """Only a job that halted (and ended `error` so) may be resumed; `InvalidStatus` otherwise."""
    if status is not JobStatus.ERROR or not halted:
        raise InvalidStatus(
            f"A job in status '{status}' cannot move to 'scheduling': only a job halted by its stages can be resumed."
        )
