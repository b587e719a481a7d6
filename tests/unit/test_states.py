"""Job and worker lifecycles as docs/decisions.md states them; everything else is refused with InvalidStatus."""

from itertools import product

import pytest

from certdeploy.domain.errors import InvalidStatus
from certdeploy.domain.stages import check_resumable
from certdeploy.domain.states import (
    JOB_DELETABLE,
    JobMove,
    JobStatus,
    WorkerMove,
    WorkerStatus,
    check_job_deletable,
    check_job_transition,
    check_worker_transition,
    check_workers_replaceable,
    job_outcome,
    move_job,
    move_worker,
)

J, W = JobStatus, WorkerStatus

ALLOWED_JOB_MOVES = {
    (J.EDITING, J.PENDING),
    (J.EDITING, J.SCHEDULING),
    (J.EDITING, J.ERROR),
    (J.PENDING, J.EDITING),
    (J.PENDING, J.SCHEDULING),
    (J.PENDING, J.ERROR),
    (J.SCHEDULING, J.PROCESSING),
    (J.SCHEDULING, J.ERROR),
    (J.PROCESSING, J.SUCCESS),
    (J.PROCESSING, J.ERROR),
    (J.SUCCESS, J.ROLLED_BACK),
    (J.ERROR, J.ROLLED_BACK),
    (J.ERROR, J.SCHEDULING),  # a job halted by its stages resumes
}

ALLOWED_WORKER_MOVES = {
    (W.EDITING, W.PENDING),
    (W.PENDING, W.EDITING),
    (W.PENDING, W.SCHEDULING),
    (W.PENDING, W.ERROR),
    (W.SCHEDULING, W.PROCESSING),
    (W.SCHEDULING, W.ERROR),
    (W.PROCESSING, W.SUCCESS),
    (W.PROCESSING, W.ERROR),
    (W.SUCCESS, W.ROLLBACK),
    (W.ERROR, W.ROLLBACK),
    (W.ROLLBACK, W.ROLLBACK_SUCCESS),
    (W.ROLLBACK, W.ROLLBACK_ERROR),
    (W.ROLLBACK_ERROR, W.ROLLBACK),
}


@pytest.mark.parametrize(("current", "target"), list(product(JobStatus, JobStatus)))
def test_job_transitions_are_exactly_the_documented_ones(current: JobStatus, target: JobStatus) -> None:
    if (current, target) in ALLOWED_JOB_MOVES:
        assert check_job_transition(current, target) is target
    else:
        with pytest.raises(InvalidStatus) as caught:
            check_job_transition(current, target)
        assert caught.value.code == "InvalidStatus"
        assert str(current) in caught.value.message and str(target) in caught.value.message


@pytest.mark.parametrize(("current", "target"), list(product(WorkerStatus, WorkerStatus)))
def test_worker_transitions_are_exactly_the_documented_ones(current: WorkerStatus, target: WorkerStatus) -> None:
    if (current, target) in ALLOWED_WORKER_MOVES:
        assert check_worker_transition(current, target) is target
    else:
        with pytest.raises(InvalidStatus):
            check_worker_transition(current, target)


@pytest.mark.parametrize("finished", [J.SUCCESS, J.ERROR])
def test_a_finished_job_cannot_be_resubmitted_or_edited(finished: JobStatus) -> None:
    for target in (J.EDITING, J.PENDING, J.SCHEDULING, J.PROCESSING):
        with pytest.raises(InvalidStatus):
            check_job_transition(finished, target)
            # `error` → `scheduling` is a resume, and only a job its stages halted may (tests/unit/test_stages.py).
            check_resumable(finished, halted=False)


def test_jobs_cannot_be_deleted_while_running() -> None:
    assert J.SCHEDULING not in JOB_DELETABLE
    assert J.PROCESSING not in JOB_DELETABLE
    assert {J.EDITING, J.PENDING, J.SUCCESS, J.ERROR, J.ROLLED_BACK} == JOB_DELETABLE


@pytest.mark.parametrize(("current", "target"), list(product(JobStatus, JobStatus)))
def test_a_job_move_exists_only_for_an_allowed_transition_or_a_stay(current: JobStatus, target: JobStatus) -> None:
    if current is target or (current, target) in ALLOWED_JOB_MOVES:
        assert move_job(current, target) == JobMove(current, target)
    else:
        with pytest.raises(InvalidStatus):
            move_job(current, target)


@pytest.mark.parametrize(("current", "target"), list(product(WorkerStatus, WorkerStatus)))
def test_a_worker_move_exists_only_for_an_allowed_transition_or_a_stay(
    current: WorkerStatus, target: WorkerStatus
) -> None:
    if current is target or (current, target) in ALLOWED_WORKER_MOVES:
        assert move_worker(current, target) == WorkerMove(current, target)
    else:
        with pytest.raises(InvalidStatus):
            move_worker(current, target)


@pytest.mark.parametrize("status", list(JobStatus))
def test_a_job_is_deletable_in_a_deletable_status_with_no_rollback_running(status: JobStatus) -> None:
    finished = [W.SUCCESS, W.ROLLBACK_SUCCESS, W.ROLLBACK_ERROR, W.ERROR]
    if status in JOB_DELETABLE:
        check_job_deletable(status, finished)
    else:
        with pytest.raises(InvalidStatus, match="while it runs"):
            check_job_deletable(status, finished)


def test_a_job_whose_rollback_runs_is_not_deletable() -> None:
    with pytest.raises(InvalidStatus, match="rollback"):
        check_job_deletable(J.SUCCESS, [W.SUCCESS, W.ROLLBACK])


def test_workers_are_replaceable_only_while_all_are_editing() -> None:
    check_workers_replaceable([])
    check_workers_replaceable([W.EDITING, W.EDITING])
    for status in set(WorkerStatus) - {W.EDITING}:
        with pytest.raises(InvalidStatus):
            check_workers_replaceable([W.EDITING, status])


def test_status_values_are_the_cas_wire_strings() -> None:
    assert [s.value for s in JobStatus] == [
        "editing",
        "pending",
        "scheduling",
        "processing",
        "success",
        "error",
        "rolled_back",
    ]
    assert f"{W.ROLLBACK_SUCCESS}" == "rollback_success"


def test_job_outcome_waits_for_every_worker() -> None:
    assert job_outcome([W.SUCCESS, W.PROCESSING]) is None
    assert job_outcome([W.SUCCESS, W.SCHEDULING]) is None


def test_job_succeeds_only_when_every_worker_succeeded() -> None:
    assert job_outcome([W.SUCCESS, W.SUCCESS]) is J.SUCCESS
    assert job_outcome([W.SUCCESS, W.ERROR]) is J.ERROR


def test_a_job_without_workers_is_an_error() -> None:
    assert job_outcome([]) is J.ERROR
