"""The fan-out of a started job: its `DeployWorker` messages, sent behind the API call that started it.

Starting a job moves its workers to `scheduling` in one statement and writes one `DeployJob` message to the outbox,
so the call costs the same for 10 or 100,000 workers (docs/runtime.md#job-execution). The deploy queue's consumer
takes that message and sends the workers' messages a page at a time, in MNS batches of 16; a page that was full sends
the next page's `DeployJob` first, so another consumer can fan the next page out meanwhile. Nothing per worker is held
beyond one page. A message sent twice (a redelivered `DeployJob`) is harmless: each deployment claims its worker.
A worker whose message was lost stays `scheduling` and is re-sent by the scheduler (app/scheduler.py).
"""

from __future__ import annotations

from certdeploy.app.deps import Deps
from certdeploy.app.messages import DeployJob, DeployWorker, QueueRole
from certdeploy.domain.states import WorkerStatus
from certdeploy.ports.queue import MAX_BATCH_MESSAGES

# Workers per DeployJob message: 16 MNS batches.
FAN_OUT_PAGE = 16 * MAX_BATCH_MESSAGES


def fan_out_job(deps: Deps, command: DeployJob, page_size: int = FAN_OUT_PAGE) -> int:
    """Send the deploy messages of one page of the job's `scheduling` workers; returns how many were sent."""
    queue = deps.queues[QueueRole.DEPLOY]
    worker_ids = deps.store.workers.ids_after(
        command.account_id, command.job_id, WorkerStatus.SCHEDULING, command.after_worker_id, page_size
    )
    if len(worker_ids) == page_size:
        queue.send(command.model_copy(update={"after_worker_id": worker_ids[-1]}).model_dump_json())
    for start in range(0, len(worker_ids), MAX_BATCH_MESSAGES):
        queue.send_batch(
            [
                DeployWorker(
                    account_id=command.account_id, job_id=command.job_id, worker_id=worker_id
                ).model_dump_json()
                for worker_id in worker_ids[start : start + MAX_BATCH_MESSAGES]
            ]
        )
    return len(worker_ids)
