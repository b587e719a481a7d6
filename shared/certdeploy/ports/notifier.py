"""Telling a contact about a job: the notifier the notify use case calls, and how each delivery ended (its failure,
if any, is a `Transient` or `Permanent` one of `certdeploy.domain.failures`)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from certdeploy.domain.failures import NotificationFailed
from certdeploy.domain.models import Contact
from certdeploy.domain.notifications import JobReport
from certdeploy.domain.text_enum import TextEnum


class Channel(TextEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    SMS = "sms"


# Whether a delivery to the address of a digest may be sent now (the notification rate limits).
Admit = Callable[[str], bool]
RATE_LIMITED = "over the notification rate limit"


class DeliveryResult(BaseModel):
    """One delivery attempted: made, or failed with a `Transient` or `Permanent` `NotificationFailed`."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True)

    key: str
    contact_id: int
    channel: Channel
    label: str
    address_digest: str = ""
    failure: NotificationFailed | None = None

    @property
    def delivered(self) -> bool:
        return self.failure is None


class Notifier(Protocol):
    """What the notify use case calls: tell one contact about one report, skipping deliveries already made."""

    def notify(
        self, contact: Contact, report: JobReport, *, skip_keys: Collection[str] = (), admit: Admit | None = None
    ) -> list[DeliveryResult]:
        """`admit(address_digest)` is asked before each send: False refuses the delivery (a permanent
        failure, `RATE_LIMITED`) without sending it."""
        ...
