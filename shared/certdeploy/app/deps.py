"""What the use cases are given: ports and policies. Built once per runtime by a composition root."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from certdeploy.app.messages import QueueRole
from certdeploy.domain.failures import RetryPolicy
from certdeploy.domain.verification import DEFAULT_RECHECK_SECONDS
from certdeploy.ports.clock import Clock
from certdeploy.ports.cloud import CertificateSource, Deployers, Inventory
from certdeploy.ports.queue import Queue
from certdeploy.ports.store.unit_of_work import Store
from certdeploy.ports.verify import ServedChains


@dataclass(frozen=True)
class CertificateEventKind:
    """EventBridge `source` and `type` of "a certificate was issued" (CAS does not publish its own; configurable)."""

    source: str = "certdeploy.cas"
    type: str = "cas:Certificate:Issued"


@dataclass(frozen=True)
class NotifyLimits:
    """Notification deliveries allowed per hour, per account and per address (docs/decisions.md#notifications); 0 is
    no limit."""

    per_account_per_hour: int = 100
    per_address_per_hour: int = 10


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock
    queues: Mapping[QueueRole, Queue]
    deployers: Deployers
    inventory: Inventory | None = None
    # Official and uploaded certificates kept in the cloud (CAS); None where certificates are only uploaded here.
    certificate_source: CertificateSource | None = None
    # The account the inventory and certificate source describe (by name), when they are one cloud account's view;
    # None: the inventory answers for every account (the local cloud).
    source_account: str | None = None
    # How every queue consumer retries a transient failure (docs/failures.md).
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Seconds a worker may stay in `scheduling`/`processing` before the scheduler sends its message again.
    stuck_after_seconds: int = 900
    # Seconds between the scheduler's syncs of an account's resources (docs/runtime.md#resource-sync).
    resource_sync_seconds: int = 300
    certificate_event: CertificateEventKind = field(default_factory=CertificateEventKind)
    notify_limits: NotifyLimits = field(default_factory=NotifyLimits)
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)
    # Reads what resources serve, to verify deployments (docs/verification.md); None: no verification.
    served_chains: ServedChains | None = None
    # Seconds between the checks of a slowly propagating product, before its result is final.
    verify_recheck_seconds: tuple[int, ...] = DEFAULT_RECHECK_SECONDS
