"""A sender that only logs: the embedded default's email channel when no SMTP server is configured."""

from __future__ import annotations

import logging

from certdeploy.adapters.notify import RenderedNotification, redact_address
from certdeploy.ports.notifier import Channel

_log = logging.getLogger(__name__)


class LogSender:
    """Writes the notification to the log instead of sending it; never fails."""

    def __init__(self, channel: Channel = Channel.EMAIL, logger: logging.Logger | None = None) -> None:
        self._channel = channel
        self._logger = logger or _log

    def send(self, address: str, message: RenderedNotification) -> None:
        self._logger.info(
            "notification for %s %s (logged, not sent): %s\n%s",
            self._channel,
            redact_address(self._channel, address),
            message.subject,
            message.text,
        )
