"""Run a use case step in one store transaction, retrying when it lost a race.

A conditional update that loses raises `StaleState` and rolls the whole transaction back; reading again and
deciding again is then always correct, because every step re-checks the state it acts on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from certdeploy.app.deps import Deps
from certdeploy.app.outbox import send_now
from certdeploy.ports.store.errors import StaleState
from certdeploy.ports.store.messages import OutboxMessage
from certdeploy.ports.store.unit_of_work import UnitOfWork

_Result = TypeVar("_Result")

MAX_RACE_RETRIES = 8


class Step:
    """What a transactional step may do: use the store, and queue messages to send after commit."""

    def __init__(self, ops: UnitOfWork) -> None:
        self.ops = ops
        self.outbox_ids: list[int] = []

    def send(self, *messages: OutboxMessage) -> None:
        if messages:
            self.outbox_ids += self.ops.outbox.add(list(messages))


def run_step(deps: Deps, step: Callable[[Step], _Result]) -> _Result:
    """Run `step` in a transaction (again from the start after a lost race), then send the messages it queued."""
    for attempt in range(1, MAX_RACE_RETRIES + 1):
        try:
            with deps.store.transaction() as ops:
                unit = Step(ops)
                result = step(unit)
        except StaleState:
            # The transaction rolled back as the exception left it; nothing of this attempt was written.
            if attempt == MAX_RACE_RETRIES:
                raise
            continue
        send_now(deps.store, deps.queues, unit.outbox_ids)
        return result
    raise AssertionError("unreachable")
