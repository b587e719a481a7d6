"""What a job's timeline shows: notification addresses masked, long texts cut, a worker's facts and cause."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from certdeploy.domain.failures import Permanent
from certdeploy.domain.models import Product, Worker
from certdeploy.domain.timeline import MAX_DETAIL, JobEventType, mask_address, retry_detail, worker_event

T = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("channel", "address", "shown"),
    [
        ("email", "alice@example.com", "a***@example.com"),
        ("email", "no-at-sign", "***"),
        ("webhook", "https://oapi.dingtalk.com/robot/send?access_token=***", "oapi.dingtalk.com"),
        ("webhook", "https://open.feishu.cn/open-apis/bot/v2/hook/***", "open.feishu.cn"),
        ("webhook", "not a url", "***"),
        ("sms", "138****5678", "138****5678"),
    ],
)
def test_addresses_are_masked_the_webhook_down_to_its_host(channel: str, address: str, shown: str) -> None:
    assert mask_address(channel, address) == shown


def test_a_worker_event_carries_the_worker_its_resource_and_the_cause_cut_to_size() -> None:
    worker = Worker(
        id=7, job_id=3, account_id=1, cert_id=2, resource_id=9, product=Product.ALB, created_at=T, modified_at=T
    )

    event = worker_event(worker, JobEventType.WORKER_FAILED, "x" * 5000, Permanent("Denied", "y" * 5000))

    assert (event.job_id, event.worker_id, event.product, event.resource_id) == (3, 7, Product.ALB, 9)
    assert len(event.detail) == len(event.error_message or "") == MAX_DETAIL
    assert event.detail.endswith("…") and event.error_code == "Denied"


def test_the_retry_detail_says_which_attempt_failed_and_when_the_next_is_due() -> None:
    assert retry_detail("rollback", 2, 5, 10, T) == (
        "rollback attempt 2 failed; attempt 3 of 5 at 2026-12-04T12:00:00Z (in 10 s)"
    )
