"""Telling a contact about a job: the notifier the notify use case calls, and how a delivery fails or ends."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from certdeploy.domain.models import Contact
from certdeploy.domain.notifications import JobReport
from certdeploy.domain.text_enum import TextEnum


class NotificationFailed(Exception):
    """A notification was not delivered. `transient`: the same send may succeed later (retry with backoff)."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


class Channel(TextEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    SMS = "sms"


class DeliveryResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    contact_id: int
    channel: Channel
    label: str
    delivered: bool
    transient: bool = False
    error: str | None = None


class Notifier(Protocol):
    """What the notify use case calls: tell one contact about one report, skipping deliveries already made."""

    def notify(
        self, contact: Contact, report: JobReport, *, skip_keys: Collection[str] = ()
    ) -> list[DeliveryResult]: ...
