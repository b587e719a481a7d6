"""Telling a job's contacts: one `Delivery` per contact and channel address, one `Sender` per channel.

The notify use case records each delivery it completed under `delivery_key(report, delivery)` — job, event,
contact, channel and a digest of the address — and passes the keys it already has as `skip_keys`, so a redelivered
notify message sends nothing twice and a retry sends only what failed.

Webhook URLs carry the bot's credential (access token / key): they are never logged or put in a result; `label`
gives a redacted form. Mobile numbers are personal data: their label shows only the first three and last four digits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from certdeploy.domain.failures import NotificationFailed, PermanentNotificationFailure
from certdeploy.domain.models import Contact
from certdeploy.domain.notifications import JobReport
from certdeploy.domain.timeline import mask_address
from certdeploy.ports.notifier import RATE_LIMITED, Admit, Channel, DeliveryResult


def redact_mobile(number: str) -> str:
    """`138****5678`: the first three and last four characters of a long number, only the last two of a short one."""
    if len(number) >= 11:
        return number[:3] + "*" * (len(number) - 7) + number[-4:]
    return "*" * max(len(number) - 2, 0) + number[-2:]


def redact_address(channel: Channel, address: str) -> str:
    """An address fit for logs: webhook query values and the last path segment (Lark's token) are masked, and so are
    the middle digits of a mobile number."""
    if channel is Channel.EMAIL:
        return address
    if channel is Channel.SMS:
        return redact_mobile(address)
    parts = urlsplit(address)
    path = parts.path
    if "/hook/" in path:
        path = path[: path.rindex("/") + 1] + "***"
    query = urlencode([(name, "***") for name, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], path, query, ""))


@dataclass(frozen=True)
class Delivery:
    """One message to send: to one address of one contact, on one channel."""

    contact_id: int
    channel: Channel
    address: str = field(repr=False)

    @property
    def label(self) -> str:
        return redact_address(self.channel, self.address)

    @property
    def address_digest(self) -> str:
        return hashlib.sha256(self.address.encode()).hexdigest()[:16]


def deliveries_for(contact: Contact) -> list[Delivery]:
    """The contact's email (if any), then each distinct webhook URL in the order given, then the mobile (if any)."""
    deliveries = [Delivery(contact.id, Channel.EMAIL, contact.email.strip())] if contact.email else []
    seen: set[str] = set()
    for url in contact.webhooks:
        url = url.strip()
        if url and url not in seen:
            seen.add(url)
            deliveries.append(Delivery(contact.id, Channel.WEBHOOK, url))
    mobile = (contact.mobile or "").strip()
    if mobile:
        deliveries.append(Delivery(contact.id, Channel.SMS, mobile))
    return deliveries


def delivery_key(report: JobReport, delivery: Delivery) -> str:
    """`job:event:contact:channel:address-digest` — stable across retries and redeliveries of the same event."""
    return f"{report.job_id}:{report.event}:{delivery.contact_id}:{delivery.channel}:{delivery.address_digest}"


class RenderedNotification(BaseModel):
    """One report, written out for every channel (by `certdeploy.adapters.notify.render`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    subject: str = Field(description="email subject: one line")
    text: str = Field(description="plain-text email body")
    html: str = Field(description="HTML email body; every user-controlled value escaped")
    bot_title: str = Field(description="short title for bots (DingTalk markdown title, Lark post title)")
    bot_markdown: str = Field(description="short markdown for DingTalk and WeCom; user-controlled values escaped")
    bot_lines: tuple[str, ...] = Field(description="the same short message as plain lines (Lark post)")
    sms_parameters: dict[str, str] = Field(description="the SMS template's variables (`render_sms_parameters`)")


class Sender(Protocol):
    """Sends one rendered notification to one address of its channel."""

    def send(self, address: str, message: RenderedNotification) -> None:
        """Deliver, or raise `TransientNotificationFailure` or `PermanentNotificationFailure`."""
        ...


class ContactNotifier:
    """The `Notifier`: sends a report to every address of a contact through the sender of each channel."""

    def __init__(self, senders: Mapping[Channel, Sender]) -> None:
        self._senders = dict(senders)

    def notify(
        self, contact: Contact, report: JobReport, *, skip_keys: Collection[str] = (), admit: Admit | None = None
    ) -> list[DeliveryResult]:
        """One result per delivery attempted; deliveries whose key is in `skip_keys` are neither sent nor listed, those
        `admit` refuses are listed failed for good and not sent."""
        # Imported here: only the notify function renders, so only it ships Jinja2 (packaging/build.py).
        from certdeploy.adapters.notify.render import render_notification

        message = render_notification(report)
        results = []
        for delivery in deliveries_for(contact):
            key = delivery_key(report, delivery)
            if key not in skip_keys:
                results.append(self._deliver(key, delivery, message, admit))
        return results

    def _deliver(
        self, key: str, delivery: Delivery, message: RenderedNotification, admit: Admit | None
    ) -> DeliveryResult:
        result = DeliveryResult(
            key=key,
            contact_id=delivery.contact_id,
            channel=delivery.channel,
            label=delivery.label,
            address_digest=delivery.address_digest,
        )
        if admit is not None and not admit(delivery.address_digest):
            return result.model_copy(update={"failure": PermanentNotificationFailure(RATE_LIMITED)})
        sender = self._senders.get(delivery.channel)
        if sender is None:
            failure = PermanentNotificationFailure(f"no {delivery.channel} sender configured")
            return result.model_copy(update={"failure": failure})
        try:
            sender.send(delivery.address, message)
        except NotificationFailed as failure:
            return result.model_copy(update={"failure": _without_address(failure, delivery)})
        return result


def _without_address(failure: NotificationFailed, delivery: Delivery) -> NotificationFailed:
    """The failure with the address it quotes (a mail server's refusal names its recipient) masked as the job's
    timeline shows addresses, its kind (transient or permanent) kept."""
    masked = mask_address(str(delivery.channel), delivery.label)
    message = re.sub(re.escape(delivery.address), lambda _: masked, failure.message, flags=re.IGNORECASE)
    return failure if message == failure.message else type(failure)(message)
