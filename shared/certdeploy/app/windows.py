"""Maintenance windows: kept per account, and the one check every start of work asks — may this work start now?

Deployments and rollbacks run only while a window that governs their resource is open (docs/decisions.md
#maintenance-windows). A job due to start outside its windows stays `pending` until the next opening, which the
scheduler finds cheaply (`Jobs.due` skips it until then). A worker or rollback whose message comes while its window is
closed is sent again to arrive when it opens, in hops of at most MNS's longest delay: nothing sleeps.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import datetime

from certdeploy.app.deps import Deps
from certdeploy.app.messages import DeployWorker, RollbackWorker, outbox_message
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.domain.errors import InvalidParameter
from certdeploy.domain.models import Job, Worker
from certdeploy.domain.states import move_worker
from certdeploy.domain.timeline import JobEventType, job_event, worker_event
from certdeploy.domain.windows import MAX_WINDOWS_PER_ACCOUNT, Window, WindowSpec, wait_until
from certdeploy.ports.queue import MAX_DELAY_SECONDS
from certdeploy.ports.store.unit_of_work import UnitOfWork


def add_window(deps: Deps, account_id: int, spec: WindowSpec) -> Window:
    def step(unit: Step) -> Window:
        if len(unit.ops.windows.of_account(account_id)) >= MAX_WINDOWS_PER_ACCOUNT:
            raise InvalidParameter(
                "WindowCount", f"An account has at most {MAX_WINDOWS_PER_ACCOUNT} maintenance windows."
            )
        # Windows are a union: the new one may open before the opening a waiting job was told; judge it afresh.
        unit.ops.jobs.end_window_waits(account_id)
        return unit.ops.windows.add(account_id, spec)

    return run_step(deps, step)


def remove_window(deps: Deps, account_id: int, window_id: int) -> None:
    """Delete a window; the account's jobs waiting for a window are judged afresh at the next tick, so a job that
    waited for this one starts then instead of at the opening it was told."""

    def step(unit: Step) -> None:
        unit.ops.windows.delete(account_id, window_id)
        unit.ops.jobs.end_window_waits(account_id)

    run_step(deps, step)


def held_until(ops: UnitOfWork, account_id: int, resource_ids: Collection[int], now: datetime) -> datetime | None:
    """When work on these resources may start: None now (the account has no window, or one of the resources' windows
    is open), else the next opening of their windows. An account without windows costs one small read."""
    windows = ops.windows.of_account(account_id)
    if not windows:
        return None
    resources = ops.resources.get_many(account_id, resource_ids)
    # Resources with the same tags share their windows: each distinct set of tags is judged once.
    tag_sets = {resource.tags for resource in resources}
    return wait_until(windows, (dict(tags) for tags in tag_sets), now)


def _hold_text(until: datetime) -> str:
    return until.strftime("%Y-%m-%dT%H:%M:%SZ")


def hold_job(unit: Step, job: Job, now: datetime) -> Job | None:
    """A due job's check before it starts: None if it may start now; else the job, still `pending`, waiting until
    the next opening of its resources' windows (told once on its timeline). The job starts when one of its
    resources may be worked on; its workers whose own windows are still closed then wait on their own."""
    until = held_until(unit.ops, job.account_id, job.resource_ids, now)
    return None if until is None else hold_job_until(unit, job, until)


def hold_job_until(unit: Step, job: Job, until: datetime) -> Job:
    """`hold_job` once `held_until` said when the job's windows next open: for a caller that asked already."""
    if job.window_wait_until == until:
        return job
    held = unit.ops.jobs.wait_for_window(job.account_id, job.id, until, expected_version=job.version)
    detail = f"waits for its maintenance window: starts at {_hold_text(until)}"
    unit.ops.job_events.append([job_event(job.account_id, job.id, JobEventType.WAITING_FOR_WINDOW, detail)])
    return held


def _touch(unit: Step, worker: Worker) -> Worker:
    """A waiting worker is written (its modification time is now) so the scheduler does not take it for one whose
    message was lost."""
    move = move_worker(worker.status, worker.status)
    return unit.ops.workers.transition(worker.account_id, worker.id, move, expected_version=worker.version)


def wait_for_window(deps: Deps, worker: Worker, command: DeployWorker | RollbackWorker) -> bool:
    """If the worker's resource is outside its windows now, send `command` again to arrive at the next opening (or a
    hop towards it), tell the timeline, and return True; False when the work may go on now."""
    now = deps.clock.now()
    until = held_until(deps.store, worker.account_id, [worker.resource_id], now)
    if until is None:
        return False
    delay = min(MAX_DELAY_SECONDS, math.ceil((until - now).total_seconds()))

    def step(unit: Step) -> None:
        current = unit.ops.workers.get(worker.account_id, worker.id)
        if current.status is not worker.status or current.attempt != command.attempt:
            return
        touched = _touch(unit, current)
        what = "rollback" if isinstance(command, RollbackWorker) else "deployment"
        detail = f"{what} waits for its maintenance window, which opens at {_hold_text(until)}"
        unit.ops.job_events.append([worker_event(touched, JobEventType.WAITING_FOR_WINDOW, detail)])
        unit.send(outbox_message(command, delay_seconds=delay))

    run_step(deps, step)
    return True


def keep_waiting(deps: Deps, worker: Worker) -> bool:
    """For the scheduler's look at a worker that seems stuck: if its window is closed, its message is on its way to the
    opening, so the worker is only touched (to be looked at again later) and True is returned."""
    if held_until(deps.store, worker.account_id, [worker.resource_id], deps.clock.now()) is None:
        return False

    def step(unit: Step) -> None:
        current = unit.ops.workers.get(worker.account_id, worker.id)
        if current.version == worker.version:
            _touch(unit, current)

    run_step(deps, step)
    return True
