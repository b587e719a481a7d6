"""The outbox relay: messages written with a state change are sent right after commit, and re-sent by the
scheduler if that send did not happen (the process died, the queue was down). Consumers are idempotent, so a
message sent twice does no harm; a message never sent would leave a job stuck.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import timedelta

from certdeploy.app.messages import QueueRole
from certdeploy.ports.clock import Clock
from certdeploy.ports.queue import MAX_BATCH_MESSAGES, Queue, QueueError
from certdeploy.ports.store.messages import OutboxRecord
from certdeploy.ports.store.unit_of_work import Store

log = logging.getLogger(__name__)


def _send(store: Store, queues: Mapping[QueueRole, Queue], records: Collection[OutboxRecord]) -> int:
    """Send `records` in MNS batches (same queue and delay, at most 16), marking each batch sent as it goes."""
    sent = 0
    try:
        for batch in _batches(records):
            first = batch[0]
            queues[QueueRole(first.queue)].send_batch([record.body for record in batch], first.delay_seconds)
            store.outbox.mark_sent([record.id for record in batch])
            sent += len(batch)
    except QueueError:
        log.warning("outbox: queue send failed; the scheduler will re-send", exc_info=True)
    return sent


def _batches(records: Iterable[OutboxRecord]) -> Iterator[list[OutboxRecord]]:
    batch: list[OutboxRecord] = []
    for record in records:
        if batch and (
            len(batch) == MAX_BATCH_MESSAGES
            or (record.queue, record.delay_seconds) != (batch[0].queue, batch[0].delay_seconds)
        ):
            yield batch
            batch = []
        batch.append(record)
    if batch:
        yield batch


def send_now(store: Store, queues: Mapping[QueueRole, Queue], ids: Collection[int]) -> int:
    """Send the given outbox rows (just committed); returns how many went out."""
    if not ids:
        return 0
    return _send(store, queues, store.outbox.unsent(ids))


def relay_pending(
    store: Store, queues: Mapping[QueueRole, Queue], clock: Clock, grace_seconds: int = 30, limit: int = 500
) -> int:
    """Send rows that are older than `grace_seconds` and still unsent (their own sender is gone)."""
    created_before = clock.now() - timedelta(seconds=grace_seconds)
    return _send(store, queues, store.outbox.pending(limit=limit, created_before=created_before))
