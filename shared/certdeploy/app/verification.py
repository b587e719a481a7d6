"""The start of a worker's verification, right after its certificate was bound (the checks: `app/verify.py`)."""

from __future__ import annotations

from certdeploy.app.deps import Deps
from certdeploy.app.messages import VerifyWorker, outbox_message
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.domain.models import Worker
from certdeploy.domain.verification import Verification, VerifyStatus


def start_verification(deps: Deps, worker: Worker) -> bool:
    """Record the worker's verification as pending and queue its first check, unless verification is off or one is
    under way already (a redelivered deploy message). True when the worker must wait for it before ending."""
    if deps.served_chains is None:
        return False
    store = deps.store
    policy = store.verifications.mismatch_policy(worker.account_id, worker.job_id)
    current = store.verifications.of_workers(worker.account_id, [worker.id]).get(worker.id)
    if current is not None and not current.final:
        return policy.holds_worker

    def step(unit: Step) -> None:
        unit.ops.verifications.record(
            Verification(
                worker_id=worker.id, job_id=worker.job_id, account_id=worker.account_id, status=VerifyStatus.PENDING
            )
        )
        unit.send(outbox_message(VerifyWorker(account_id=worker.account_id, job_id=worker.job_id, worker_id=worker.id)))

    run_step(deps, step)
    return policy.holds_worker
