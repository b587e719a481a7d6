"""What each queue's consumer does with one message body: parse it, call its one use case.

The FC handlers (fed by EventBridge) and the local runner (fed by the local queues) both come here, so the two
runtimes share one code path. A body that is not one of our messages, or one on the wrong queue, is poison:
`InvalidMessage`.

Each consumer imports its use case when it runs: an FC function serves one queue, so its cold start loads that queue's
use case alone (the deployers' certificate handling is not the notifier's, nor the reverse).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from certdeploy.app.deps import Deps
from certdeploy.app.messages import (
    Command,
    DeployJob,
    DeployWorker,
    InvalidMessage,
    NotifyContacts,
    QueueRole,
    RollbackWorker,
    VerifyWorker,
    parse_command,
)
from certdeploy.ports.notifier import Notifier

Consumer = Callable[[Deps, Notifier, str], None]
_Command = TypeVar("_Command", DeployWorker, RollbackWorker, NotifyContacts)


def _certificate_issued(deps: Deps, notifier: Notifier, body: str) -> None:
    from certdeploy.app.hosting import deploy_renewal, relevant_certificate_issued

    event = relevant_certificate_issued(deps, body)
    if event is not None:
        deploy_renewal(deps, event)


def _deploy(deps: Deps, notifier: Notifier, body: str) -> None:
    _deploy_command(deps, parse_command(body))


def _deploy_command(deps: Deps, command: Command) -> None:
    if isinstance(command, DeployJob):
        from certdeploy.app.fanout import fan_out_job

        fan_out_job(deps, command)
    elif isinstance(command, VerifyWorker):
        from certdeploy.app.verify import verify_worker

        verify_worker(deps, command)
    else:
        from certdeploy.app.execute import deploy_worker

        deploy_worker(deps, _checked(command, DeployWorker))


def _rollback(deps: Deps, notifier: Notifier, body: str) -> None:
    from certdeploy.app.rollback import rollback_worker

    rollback_worker(deps, _command(body, RollbackWorker))


def _notify(deps: Deps, notifier: Notifier, body: str) -> None:
    from certdeploy.app.notify import notify_contacts

    notify_contacts(deps, notifier, _command(body, NotifyContacts))


_CONSUMERS: dict[QueueRole, Consumer] = {
    QueueRole.DEPLOY: _deploy,
    QueueRole.ROLLBACK: _rollback,
    QueueRole.NOTIFY: _notify,
    QueueRole.CERTIFICATE_ISSUED: _certificate_issued,
}


def _command(body: str, expected: type[_Command]) -> _Command:
    return _checked(parse_command(body), expected)


def _checked(command: Command, expected: type[_Command]) -> _Command:
    if not isinstance(command, expected):
        raise InvalidMessage(f"a {command.kind} message on the {expected.model_fields['kind'].default} queue")
    return command


def consume(deps: Deps, notifier: Notifier, role: QueueRole, body: str) -> None:
    """Handle one message of the queue of `role`."""
    _CONSUMERS[role](deps, notifier, body)


def consume_many(deps: Deps, notifier: Notifier, role: QueueRole, bodies: Sequence[str]) -> dict[int, InvalidMessage]:
    """Handle the messages of one delivery of the queue of `role` (what one receive took); returns the poison ones by
    their index. The deploy queue's worker messages are deployed together (`app/execute.py` `deploy_workers`): a few
    transactions for the batch instead of a few per worker."""
    poison: dict[int, InvalidMessage] = {}
    workers: list[DeployWorker] = []
    for index, body in enumerate(bodies):
        try:
            if role is not QueueRole.DEPLOY:
                consume(deps, notifier, role, body)
                continue
            command = parse_command(body)
            if isinstance(command, DeployWorker):
                workers.append(command)
            else:
                _deploy_command(deps, command)
        except InvalidMessage as invalid:
            poison[index] = invalid
    if workers:
        from certdeploy.app.execute import deploy_workers

        deploy_workers(deps, workers)
    return poison
