"""The repositories of every aggregate on one transaction, and the store that opens such transactions."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from certdeploy.ports.store.accounts import Accounts, Quota
from certdeploy.ports.store.certificates import Certificates
from certdeploy.ports.store.contacts import Contacts
from certdeploy.ports.store.job_events import JobEvents
from certdeploy.ports.store.job_stages import JobStages
from certdeploy.ports.store.jobs import Jobs, Workers
from certdeploy.ports.store.messages import Nonces, Outbox, ProcessedMessages, SentNotifications
from certdeploy.ports.store.resources import Resources
from certdeploy.ports.store.verifications import Verifications
from certdeploy.ports.store.windows import MaintenanceWindows


class UnitOfWork(Protocol):
    """Everything the use cases read and write, one repository per aggregate."""

    accounts: Accounts
    quota: Quota
    certificates: Certificates
    contacts: Contacts
    resources: Resources
    jobs: Jobs
    workers: Workers
    job_events: JobEvents
    job_stages: JobStages
    outbox: Outbox
    processed: ProcessedMessages
    nonces: Nonces
    notifications: SentNotifications
    verifications: Verifications
    windows: MaintenanceWindows


class Store(UnitOfWork, Protocol):
    """Each repository call in its own transaction; `transaction()` groups several into one."""

    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """Commit on normal exit, roll back on an exception (which propagates). Inside the block use only the
        yielded unit of work: a second transaction opened meanwhile would wait for this one (SQLite has one writer)."""
        ...
