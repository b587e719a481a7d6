"""Run the embedded runtime's consumers by hand: take what the local queues hold and feed it to its use case."""

from __future__ import annotations

from certdeploy.app.consumers import consume
from certdeploy.app.fanout import fan_out_job
from certdeploy.app.messages import DeployJob, QueueRole, parse_command
from certdeploy.bootstrap.container import Container
from certdeploy.ports.queue import ReceivedMessage

CONSUMED_ROLES = (QueueRole.DEPLOY, QueueRole.ROLLBACK, QueueRole.NOTIFY, QueueRole.CERTIFICATE_ISSUED)


def drain(container: Container, *, max_messages: int = 1000) -> int:
    """Consume every visible message (and those its handling sends) until all queues are empty; returns the count."""
    handled = 0
    while handled < max_messages:
        round_handled = 0
        for role in CONSUMED_ROLES:
            queue = container.deps.queues[role]
            for message in queue.receive_batch(16):
                consume(container.deps, container.notifier, role, message.body)
                queue.delete(message.receipt_handle)
                round_handled += 1
        if round_handled == 0:
            return handled
        handled += round_handled
    raise AssertionError(f"queues still busy after {max_messages} messages")


def deploy_messages(container: Container) -> list[ReceivedMessage]:
    """Take the deploy queue's worker messages, received and in flight, as an execute function gets them: the job
    fan-outs (`DeployJob`) among them are run first, as their consumer runs them."""
    queue = container.deps.queues[QueueRole.DEPLOY]
    taken: list[ReceivedMessage] = []
    while batch := queue.receive_batch(16):
        for message in batch:
            command = parse_command(message.body)
            if isinstance(command, DeployJob):
                fan_out_job(container.deps, command)
                queue.delete(message.receipt_handle)
            else:
                taken.append(message)
    return taken
