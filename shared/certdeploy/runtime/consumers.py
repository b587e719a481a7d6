"""What each queue's consumer does with one message body: parse it, call its one use case.

The FC handlers (fed by EventBridge) and the local runner (fed by the local queues) both come here, so the two
runtimes share one code path. A body that is not one of our messages is poison: `InvalidEvent`.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from certdeploy.app.execute import deploy_worker
from certdeploy.app.hosting import deploy_renewal, parse_certificate_issued
from certdeploy.app.messages import DeployWorker, NotifyContacts, QueueRole, RollbackWorker, parse_command
from certdeploy.app.notify import notify_contacts
from certdeploy.app.rollback import rollback_worker
from certdeploy.runtime.container import Container
from certdeploy.runtime.events import InvalidEvent

log = logging.getLogger(__name__)

_EXPECTED = {QueueRole.DEPLOY: DeployWorker, QueueRole.ROLLBACK: RollbackWorker, QueueRole.NOTIFY: NotifyContacts}


def consume(container: Container, role: QueueRole, body: str) -> None:
    deps = container.deps
    if role is QueueRole.CERTIFICATE_ISSUED:
        event = parse_certificate_issued(deps, body)
        if event is not None:
            deploy_renewal(deps, event)
        return
    try:
        command = parse_command(body)
    except ValidationError as exc:
        raise InvalidEvent(f"not a {role} message: {exc.errors(include_url=False)[:3]}") from exc
    if not isinstance(command, _EXPECTED[role]):
        raise InvalidEvent(f"a {command.kind} message on the {role} queue")
    if isinstance(command, DeployWorker):
        deploy_worker(deps, command)
    elif isinstance(command, RollbackWorker):
        rollback_worker(deps, command)
    else:
        notify_contacts(deps, container.notifier, command)
