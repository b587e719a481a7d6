"""Sending a report to a contact: one delivery per address and channel, keyed so a retry sends only what is missing."""

from __future__ import annotations

import logging

import pytest

from certdeploy.adapters.notify import (
    ContactNotifier,
    Delivery,
    RenderedNotification,
    deliveries_for,
    delivery_key,
    redact_address,
)
from certdeploy.adapters.notify.log import LogSender
from certdeploy.adapters.notify.render import render_notification
from certdeploy.domain.failures import NotificationFailed, Permanent, Transient, TransientNotificationFailure
from certdeploy.domain.models import Contact
from certdeploy.domain.notifications import JobReport, NotificationEvent
from certdeploy.domain.states import JobStatus
from certdeploy.ports.notifier import Channel

DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=secret-token"
LARK = "https://open.feishu.cn/open-apis/bot/v2/hook/secret-hook"
REPORT = JobReport(job_id=7, job_name="www", event=NotificationEvent.JOB_FINISHED, outcome=JobStatus.SUCCESS)
CONTACT = Contact(id=3, account_id=1, name="ops", email="ops@example.com", webhooks=(DINGTALK, LARK, DINGTALK))


class RecordingSender:
    def __init__(self, failures: dict[str, NotificationFailed] | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures = failures or {}

    def send(self, address: str, message: RenderedNotification) -> None:
        if address in self.failures:
            raise self.failures[address]
        self.sent.append((address, message.subject))


def test_a_contact_gets_its_email_and_each_distinct_webhook_once() -> None:
    assert [(d.channel, d.address) for d in deliveries_for(CONTACT)] == [
        (Channel.EMAIL, "ops@example.com"),
        (Channel.WEBHOOK, DINGTALK),
        (Channel.WEBHOOK, LARK),
    ]


def test_every_delivery_is_sent_and_reported() -> None:
    email, webhook = RecordingSender(), RecordingSender()
    results = ContactNotifier({Channel.EMAIL: email, Channel.WEBHOOK: webhook}).notify(CONTACT, REPORT)
    subject = render_notification(REPORT).subject
    assert email.sent == [("ops@example.com", subject)]
    assert webhook.sent == [(DINGTALK, subject), (LARK, subject)]
    assert [(r.channel, r.delivered) for r in results] == [
        (Channel.EMAIL, True),
        (Channel.WEBHOOK, True),
        (Channel.WEBHOOK, True),
    ]


def test_failures_are_reported_per_delivery_and_a_retry_sends_only_those() -> None:
    # GIVEN a Lark bot that is rate limiting
    webhook = RecordingSender({LARK: TransientNotificationFailure("lark bot refused the message: 11232")})
    notifier = ContactNotifier({Channel.EMAIL: RecordingSender(), Channel.WEBHOOK: webhook})
    # WHEN the contact is notified
    first = notifier.notify(CONTACT, REPORT)
    # THEN the failure says what and whether to retry
    [failed] = [r for r in first if not r.delivered]
    assert (failed.channel, isinstance(failed.failure, Transient), failed.failure and failed.failure.message) == (
        Channel.WEBHOOK,
        True,
        "lark bot refused the message: 11232",
    )
    # AND a retry that skips what was delivered sends only the failed one
    webhook.failures.clear()
    done = {r.key for r in first if r.delivered}
    retry = notifier.notify(CONTACT, REPORT, skip_keys=done)
    assert [r.key for r in retry] == [failed.key]
    assert webhook.sent[-1][0] == LARK


def test_keys_are_stable_and_distinguish_job_event_contact_channel_and_address() -> None:
    delivery = Delivery(3, Channel.WEBHOOK, DINGTALK)
    key = delivery_key(REPORT, delivery)
    assert key == delivery_key(REPORT, Delivery(3, Channel.WEBHOOK, DINGTALK))
    assert key.startswith("7:job_finished:3:webhook:")
    rollback = REPORT.model_copy(update={"event": NotificationEvent.ROLLBACK_FINISHED, "outcome": "rolled_back"})
    others = {
        delivery_key(rollback, delivery),
        delivery_key(REPORT, Delivery(4, Channel.WEBHOOK, DINGTALK)),
        delivery_key(REPORT, Delivery(3, Channel.WEBHOOK, LARK)),
    }
    assert key not in others and len(others) == 3
    assert "secret-token" not in key


def test_a_channel_without_sender_is_a_permanent_failure() -> None:
    results = ContactNotifier({Channel.EMAIL: RecordingSender()}).notify(CONTACT, REPORT)
    failed = [(r.channel, isinstance(r.failure, Permanent), r.failure and r.failure.message) for r in results[1:]]
    assert failed == [(Channel.WEBHOOK, True, "no webhook sender configured")] * 2


def test_webhook_credentials_never_show_in_labels_or_reprs() -> None:
    for url in (DINGTALK, LARK):
        delivery = Delivery(3, Channel.WEBHOOK, url)
        assert "secret" not in delivery.label and "secret" not in repr(delivery)
    assert redact_address(Channel.WEBHOOK, DINGTALK) == "https://oapi.dingtalk.com/robot/send?access_token=***"
    assert redact_address(Channel.WEBHOOK, LARK) == "https://open.feishu.cn/open-apis/bot/v2/hook/***"


def test_log_sender_logs_the_message_with_a_redacted_address(caplog: pytest.LogCaptureFixture) -> None:
    rendered = render_notification(REPORT)
    with caplog.at_level(logging.INFO):
        LogSender(Channel.WEBHOOK).send(DINGTALK, rendered)
    assert rendered.subject in caplog.text
    assert "access_token=***" in caplog.text
    assert "secret-token" not in caplog.text


def test_a_refusal_that_echoes_the_address_keeps_its_kind_but_not_the_address() -> None:
    # GIVEN a mail server whose refusal quotes the recipient (Postfix does) and a bot whose error quotes its URL
    email = RecordingSender(
        {"ops@example.com": TransientNotificationFailure("450 4.2.0 <OPS@example.com>: greylisted")}
    )
    webhook = RecordingSender({DINGTALK: TransientNotificationFailure(f"{DINGTALK} answered HTTP 503")})
    # WHEN the contact is notified
    results = ContactNotifier({Channel.EMAIL: email, Channel.WEBHOOK: webhook}).notify(CONTACT, REPORT)
    # THEN the failures, which the job's timeline shows, still say what and whether to retry, without the address
    messages = [r.failure.message for r in results if r.failure is not None]
    assert messages == ["450 4.2.0 <o***@example.com>: greylisted", "oapi.dingtalk.com answered HTTP 503"]
    assert all(isinstance(r.failure, Transient) for r in results if r.failure is not None)
