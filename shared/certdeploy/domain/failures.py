"""The one failure model: an adapter's failure is `Transient` (the same call may work later) or `Permanent` (it will
fail the same way again), and one `RetryPolicy` says how often and when a queue consumer tries again.

What each consumer does with each kind, and which adapter errors are which: docs/failures.md.
"""

from __future__ import annotations

from dataclasses import dataclass


class Failure(Exception):
    """An adapter could not do what it was asked. `code` and `message` are shown to the user as the cause."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Transient(Failure):
    """Worth retrying: throttling, a timeout, a 5xx, a busy resource, a version conflict, an unreachable channel."""


class Permanent(Failure):
    """Retrying will not help: bad input, not found, refused."""


class NotificationFailed(Failure):
    """A notification was not delivered to one address of one channel."""

    def __init__(self, message: str) -> None:
        super().__init__("NotificationFailed", message)


class TransientNotificationFailure(NotificationFailed, Transient):
    """The channel could not be reached or asked us to slow down: the same send may go through later."""


class PermanentNotificationFailure(NotificationFailed, Permanent):
    """The channel refused the message or the address: sending it again would be refused again."""


@dataclass(frozen=True)
class Retry:
    """Send the message again as attempt `attempt`, `delay_seconds` from now."""

    attempt: int
    delay_seconds: int


@dataclass(frozen=True)
class RetryPolicy:
    """How every queue consumer retries a `Transient` failure: up to `max_attempts` attempts in all, the delay
    doubling from `base_delay_seconds` up to `max_delay_seconds`."""

    max_attempts: int = 5
    base_delay_seconds: int = 5
    max_delay_seconds: int = 300

    def delay_before(self, attempt: int) -> int:
        """Delay before attempt number `attempt` (1 is the first retry)."""
        return min(self.base_delay_seconds * 2 ** (attempt - 1), self.max_delay_seconds)

    def after(self, failure: Failure, attempt: int) -> Retry | Permanent:
        """What follows `failure` at attempt `attempt` (0 is the first): a `Retry`, or the `Permanent` failure to
        record: the failure itself, or a transient one that used up the attempts, saying so."""
        if not isinstance(failure, Transient):
            return failure if isinstance(failure, Permanent) else Permanent(failure.code, failure.message)
        if attempt + 1 < self.max_attempts:
            return Retry(attempt + 1, self.delay_before(attempt + 1))
        return Permanent(failure.code, f"{failure.message} (gave up after {self.max_attempts} attempts)")
