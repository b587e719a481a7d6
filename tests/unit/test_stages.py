"""Staged rollout's rules (domain/stages.py): reading the options, sizing the stages, judging a stage's end."""

from __future__ import annotations

import pytest

from certdeploy.domain.errors import InvalidParameter, InvalidStatus
from certdeploy.domain.stages import (
    Size,
    Verdict,
    check_resumable,
    halt_reason,
    judge_stage,
    over_budget,
    parse_max_failures,
    parse_stages,
    stage_bounds,
    stage_sizes,
    stages_text,
)
from certdeploy.domain.states import JobStatus


@pytest.mark.parametrize(
    ("text", "total", "sizes"),
    [
        ("1,50%,100%", 10, (1, 4, 5)),
        ("1,10%,100%", 10, (1, 9)),  # 10% of 10 is the 1 already run: no stage of its own
        ("1,10%,100%", 1000, (1, 99, 900)),
        ("10%,100%", 5, (1, 4)),  # a percentage rounds up
        ("100%", 7, (7,)),
        ("5,10%,100%", 20, (5, 15)),  # 10% of 20 is 2, under the 5 already run
        ("2, 4 ,100%", 3, (2, 1)),  # a count past the job's size stops at it
        ("1,100%", 1, (1,)),
    ],
)
def test_stage_sizes_are_cumulative_and_skip_empty_stages(text: str, total: int, sizes: tuple[int, ...]) -> None:
    parsed = parse_stages(text)
    assert stage_sizes(parsed, total) == sizes
    bounds = stage_bounds(parsed, total)
    assert bounds[-1] == total and list(bounds) == sorted(set(bounds))


def test_the_options_are_stored_as_given() -> None:
    assert stages_text(parse_stages(" 1 ,10%,100%")) == "1,10%,100%"
    assert str(parse_max_failures("2")) == "2" and str(parse_max_failures("10%")) == "10%"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1,10%", "last stage must be '100%'"),
        ("1,5", "last stage must be '100%'"),
        ("5,1,100%", "must increase"),
        ("50%,10%,100%", "must increase"),
        ("0,100%", "must increase"),
        ("1,1,100%", "must increase"),
        ("1,,100%", "neither a whole number"),
        ("a,100%", "neither a whole number"),
        ("-1,100%", "neither a whole number"),
        ("1.5,100%", "neither a whole number"),
        ("150%", "over 100%"),
        (",".join(str(n) for n in range(1, 11)) + ",100%", "at most 10 stages"),
        ("1" * 101, "at most 100 characters"),
    ],
)
def test_bad_stages_are_refused_with_the_parameter_named(text: str, why: str) -> None:
    with pytest.raises(InvalidParameter, match=why) as refused:
        parse_stages(text)
    assert refused.value.code == "InvalidParameter.Stages"


@pytest.mark.parametrize("text", ["", "x", "1%%", "101%", "-2", "12345678901"])
def test_bad_max_failures_are_refused(text: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        parse_max_failures(text)
    assert refused.value.code == "InvalidParameter.MaxFailures"


def test_the_failure_budget_is_a_count_or_a_share_of_the_workers_run() -> None:
    assert not over_budget(Size(count=1), succeeded=0, failed=1)
    assert over_budget(Size(count=1), succeeded=9, failed=2)
    assert over_budget(Size(count=0), succeeded=100, failed=1)
    assert not over_budget(Size(percent=10), succeeded=9, failed=1)  # 1 of 10 run is 10%
    assert over_budget(Size(percent=10), succeeded=8, failed=2)
    assert over_budget(Size(percent=10), succeeded=0, failed=1)  # the first worker failing is 100%
    assert not over_budget(Size(percent=0), succeeded=3, failed=0)


def test_a_stage_is_judged_once_nothing_of_it_runs() -> None:
    budget = Size(count=0)
    assert judge_stage(budget, running=1, waiting=5, succeeded=0, failed=1) is Verdict.RUNNING
    assert judge_stage(budget, running=0, waiting=5, succeeded=1, failed=0) is Verdict.NEXT
    assert judge_stage(budget, running=0, waiting=5, succeeded=0, failed=1) is Verdict.HALT
    # nothing left to hold back: the job finishes (in error) rather than halting
    assert judge_stage(budget, running=0, waiting=0, succeeded=4, failed=1) is Verdict.FINISH


def test_the_halt_reason_states_the_stage_the_budget_and_the_refund() -> None:
    reason = halt_reason(1, 3, Size(count=0), succeeded=0, failed=1, waiting=9)
    assert reason.startswith("Halted after stage 1 of 3: 1 of 1 worker(s) run so far failed, over MaxFailures 0;")
    assert "9 worker(s) not run, their quota given back" in reason


def test_only_a_halted_error_job_may_resume() -> None:
    check_resumable(JobStatus.ERROR, halted=True)
    for status, halted in [(JobStatus.ERROR, False), (JobStatus.PROCESSING, True), (JobStatus.SUCCESS, False)]:
        with pytest.raises(InvalidStatus, match="only a job halted"):
            check_resumable(status, halted=halted)
