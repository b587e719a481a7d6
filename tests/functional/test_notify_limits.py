"""Notification rate limits (issue 10 item 11, docs/decisions.md#notifications): deliveries over the per-address or
per-account hourly limit are not sent, are failures for good (no retry), and the limit frees up an hour later."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from certdeploy.app.accounts import Credentials
from certdeploy.app.deps import NotifyLimits
from certdeploy.app.messages import NotifyContacts
from certdeploy.app.notify import notify_contacts
from certdeploy.bootstrap.container import Container
from certdeploy.domain.notifications import NotificationEvent
from certdeploy.ports.notifier import RATE_LIMITED
from tests.fakes.queue_drain import drain
from tests.functional.conftest import ManualClock
from tests.functional.test_failures import OneWorkerJob, _one_worker_job


def _tell(world: OneWorkerJob, limits: NotifyLimits, sequences: range) -> list[int]:
    """The job's end told again as the distinct events `sequences` (as a job run again would be): deliveries of
    each."""
    deps = replace(world.container.deps, notify_limits=limits)
    return [
        notify_contacts(
            deps,
            world.container.notifier,
            NotifyContacts(
                account_id=world.account_id, job_id=world.job_id, event=NotificationEvent.JOB_FINISHED, sequence=n
            ),
        )
        for n in sequences
    ]


@pytest.fixture
def world(container: Container, account: Credentials, tmp_path: Path) -> OneWorkerJob:
    """A job whose one contact has an email and a mobile, told once that it ended (2 deliveries, unlimited)."""
    world = _one_worker_job(container, account, tmp_path)
    drain(container)
    assert (world.email.sent, world.sms.sent) == (["ops@example.com"], ["13800001234"])
    return world


def test_an_address_over_its_hourly_limit_is_not_sent_to_until_the_hour_has_passed(
    world: OneWorkerJob, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    limits = NotifyLimits(per_account_per_hour=0, per_address_per_hour=3)
    # GIVEN each address was sent to once, WHEN the job's end is told three more times
    assert _tell(world, limits, range(1, 4)) == [2, 2, 0]
    # THEN each address got 3 in the hour, the third telling none, given up on for good (no retry message)
    assert (len(world.email.sent), len(world.sms.sent)) == (3, 3)
    assert f"failed for good: {RATE_LIMITED}" in caplog.text
    assert drain(world.container) == 0
    # AND an hour later the addresses are sent to again
    clock.advance(3601)
    assert _tell(world, limits, range(4, 5)) == [2]


def test_an_account_over_its_hourly_limit_sends_nothing_more(world: OneWorkerJob) -> None:
    limits = NotifyLimits(per_account_per_hour=3, per_address_per_hour=0)
    assert _tell(world, limits, range(1, 3)) == [1, 0]
    assert (len(world.email.sent), len(world.sms.sent)) == (2, 1)
