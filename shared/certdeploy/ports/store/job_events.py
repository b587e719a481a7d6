"""A job's timeline (`certdeploy.domain.timeline`): appended to, never changed; read a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from certdeploy.domain.timeline import JobEvent, NewJobEvent
from certdeploy.ports.store.paging import Page


class JobEvents(Protocol):
    def append(self, events: Sequence[NewJobEvent]) -> None:
        """Add `events`, in order, at the store clock's time. Written in the transaction of the change they tell of."""
        ...

    def page(self, account_id: int, job_id: int, *, page: int = 1, page_size: int = 50) -> Page[JobEvent]:
        """The events of the account's job, oldest first (in the order appended); another account's job has none."""
        ...
