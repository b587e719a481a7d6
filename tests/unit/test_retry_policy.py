"""The one retry policy and the two kinds of failure (docs/failures.md)."""

from __future__ import annotations

import pytest

from certdeploy.domain.deployment import DeployFailed, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.failures import (
    Failure,
    NotificationFailed,
    Permanent,
    PermanentNotificationFailure,
    Retry,
    RetryPolicy,
    Transient,
    TransientNotificationFailure,
)

POLICY = RetryPolicy(max_attempts=5, base_delay_seconds=5, max_delay_seconds=30)
THROTTLED = TransientDeployFailure("Throttling.User", "Request was denied due to user flow control.")


def test_the_delay_doubles_from_the_base_up_to_the_cap() -> None:
    assert [POLICY.delay_before(attempt) for attempt in range(1, 6)] == [5, 10, 20, 30, 30]


@pytest.mark.parametrize("attempt", [0, 1, 2, 3])
def test_a_transient_failure_with_attempts_left_is_retried_at_the_next_attempt_after_its_delay(attempt: int) -> None:
    assert POLICY.after(THROTTLED, attempt) == Retry(attempt + 1, POLICY.delay_before(attempt + 1))


def test_a_transient_failure_at_the_last_attempt_becomes_permanent_and_says_so() -> None:
    given_up = POLICY.after(THROTTLED, POLICY.max_attempts - 1)
    assert isinstance(given_up, Permanent)
    assert given_up.code == "Throttling.User"
    assert given_up.message == "Request was denied due to user flow control. (gave up after 5 attempts)"


def test_one_attempt_in_all_never_retries() -> None:
    assert isinstance(RetryPolicy(max_attempts=1).after(THROTTLED, 0), Permanent)


@pytest.mark.parametrize(
    "failure",
    [PermanentDeployFailure("OperationDenied", "locked"), PermanentNotificationFailure("550 no such user")],
)
def test_a_permanent_failure_is_never_retried_and_is_recorded_as_it_is(failure: Permanent) -> None:
    assert POLICY.after(failure, 0) is failure


def test_a_failure_of_neither_kind_is_not_retried() -> None:
    given_up = POLICY.after(Failure("Odd", "neither kind"), 0)
    assert isinstance(given_up, Permanent)
    assert (given_up.code, given_up.message) == ("Odd", "neither kind")


def test_every_adapter_failure_is_one_of_the_two_kinds() -> None:
    assert isinstance(THROTTLED, DeployFailed) and isinstance(THROTTLED, Transient)
    assert not isinstance(PermanentDeployFailure("x", "y"), Transient)
    relay_down = TransientNotificationFailure("SMTP connection failed")
    assert isinstance(relay_down, NotificationFailed) and isinstance(relay_down, Transient)
    assert (relay_down.code, relay_down.message, str(relay_down)) == (
        "NotificationFailed",
        "SMTP connection failed",
        "NotificationFailed: SMTP connection failed",
    )
