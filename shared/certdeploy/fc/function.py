"""What every FC handler shares: one container per instance, built in the initializer (or on first use), and
the queue-consumer loop over an EventBridge MNS event.

Errors: a poison message (not one of ours) is put on the dead-letter queue with a log line and the rest of the
batch goes on; anything else propagates so the trigger's retry policy delivers the event again — every consumer
is idempotent, so redoing the messages that already succeeded is harmless.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from certdeploy.app.consumers import consume, consume_many
from certdeploy.app.messages import QueueRole
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.fc.events import MNS_QUEUE_EVENT_TYPE, parse_mns_queue_event

log = logging.getLogger(__name__)

_container: Container | None = None


def initialize(context: Any) -> None:
    """FC initializer: runs once per instance."""
    global _container
    _container = build_container(context=context, migrate=False)


def use_container(container: Container | None) -> None:
    """Run every function of this process on `container`: the local runner builds one for all of them instead of
    running each function's initializer."""
    global _container
    _container = container


def container_for(context: Any) -> Container:
    if _container is None:
        initialize(context)
    assert _container is not None
    return _container


def trigger_decodes_base64() -> bool:
    """Whether the MNS trigger was created with `IsBase64Decode: true` (s.yaml sets it; the default)."""
    return os.environ.get("CERTDEPLOY_MNS_TRIGGER_BASE64_DECODE", "true").lower() != "false"


def consume_mns_event(container: Container, role: QueueRole, event: bytes) -> int:
    """Run the messages of the event through their consumer, together (`consume_many`); returns how many were
    handled."""
    messages = parse_mns_queue_event(event, trigger_base64_decode=trigger_decodes_base64())
    poisoned = consume_many(container.deps, container.notifier, role, [message.body for message in messages])
    for index, poison in poisoned.items():
        log.error("poison message %s on %s dead-lettered: %s", messages[index].message_id, role, poison)
        container.deps.queues[QueueRole.DEAD_LETTER].send(messages[index].body)
    return len(messages)


def _is_mns_queue_event(event: bytes) -> bool:
    try:
        parsed = json.loads(event)
    except ValueError:
        return False
    first = parsed[0] if isinstance(parsed, list) and parsed else parsed
    return isinstance(first, dict) and first.get("type") == MNS_QUEUE_EVENT_TYPE


def consume_certificate_issued(container: Container, event: bytes) -> int:
    """The certificate-issued CloudEvent straight from an EventBridge rule, or wrapped in MNS queue messages."""
    if _is_mns_queue_event(event):
        return consume_mns_event(container, QueueRole.CERTIFICATE_ISSUED, event)
    consume(container.deps, container.notifier, QueueRole.CERTIFICATE_ISSUED, event.decode("utf-8"))
    return 1
