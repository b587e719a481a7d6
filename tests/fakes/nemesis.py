"""A nemesis for the embedded runtime (docs/decisions.md#delivery-guarantees, after Jepsen): it feeds the local queues'
messages to their
use cases the way an unreliable platform would, and records what really happened so a checker can judge the history.

Driven by one seeded `random.Random`, each step it either delivers a few messages — normally, twice, in a shuffled
order, crashing before the use case, crashing after it but before the delete, crashing inside it right after the cloud
changed, or letting the visibility timeout run out mid-work so a second consumer takes the same message — or it runs
a scheduler tick (sometimes two overlapping ones), lets time jump, makes a resource throttle or refuse deployments,
or makes the queues refuse sends for a while (so the outbox relay has to send). Every cloud change and every
notification delivered is recorded with the message that caused it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from certdeploy.adapters.local_cloud import LocalCloud
from certdeploy.adapters.notify import ContactNotifier, RenderedNotification
from certdeploy.app.consumers import consume
from certdeploy.app.messages import DeployJob, DeployWorker, NotifyContacts, QueueRole, RollbackWorker, parse_command
from certdeploy.app.scheduler import tick
from certdeploy.bootstrap.container import Container
from certdeploy.domain.deployment import (
    Binding,
    DeployableCertificate,
    PermanentDeployFailure,
    TransientDeployFailure,
)
from certdeploy.domain.failures import TransientNotificationFailure
from certdeploy.domain.models import Contact, Product, Resource
from certdeploy.domain.notifications import JobReport
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.domain.text_enum import TextEnum
from certdeploy.ports.notifier import Admit, Channel, DeliveryResult, Notifier
from certdeploy.ports.queue import QueueUnavailable, ReceiptHandleInvalid, ReceivedMessage
from certdeploy.ports.store.unit_of_work import Store

CONSUMED_ROLES = (QueueRole.DEPLOY, QueueRole.ROLLBACK, QueueRole.NOTIFY, QueueRole.CERTIFICATE_ISSUED)
IN_FLIGHT_JOBS = frozenset({JobStatus.PENDING, JobStatus.SCHEDULING, JobStatus.PROCESSING})
IN_FLIGHT_WORKERS = frozenset(
    {WorkerStatus.PENDING, WorkerStatus.SCHEDULING, WorkerStatus.PROCESSING, WorkerStatus.ROLLBACK}
)
# Time jumps: past a retry delay, a visibility timeout, the longest retry delay, the stuck-work deadline.
TIME_JUMPS_SECONDS = (1, 10, 60, 121, 301, 901, 3600)


class AdjustableClock(Protocol):
    def advance(self, seconds: float) -> None: ...


class SimulatedCrash(BaseException):
    """The function died at this line. Not an `Exception`, so no handler in the code under test catches it."""


class Fault(TextEnum):
    NONE = "deliver"
    DUPLICATE = "deliver twice"
    CRASH_BEFORE = "crash before the use case"
    CRASH_AFTER = "crash after the use case, before the delete"
    CRASH_AFTER_EFFECT = "crash right after the cloud changed"
    EXPIRE_MID_WORK = "visibility timeout runs out mid-work"
    POISON = "crash before the use case on every receive"


# Faults that leave the message to be received again; the nemesis stops using them on a message close to its
# receive limit, so a message is dead-lettered only when the system itself keeps failing it (or it is poisoned).
_REDELIVERING = frozenset({Fault.CRASH_BEFORE, Fault.CRASH_AFTER, Fault.CRASH_AFTER_EFFECT, Fault.EXPIRE_MID_WORK})


@dataclass(frozen=True)
class NemesisOdds:
    """Relative weights of the nemesis's moves and of the faults of one delivery."""

    deliver: int = 50
    tick: int = 10
    overlapping_ticks: int = 4
    time_jump: int = 10
    throttle: int = 3
    outage: int = 2
    queue_outage: int = 2
    faults: dict[Fault, int] = field(
        default_factory=lambda: {
            Fault.NONE: 60,
            Fault.DUPLICATE: 8,
            Fault.CRASH_BEFORE: 6,
            Fault.CRASH_AFTER: 8,
            Fault.CRASH_AFTER_EFFECT: 8,
            Fault.EXPIRE_MID_WORK: 6,
            Fault.POISON: 1,
        }
    )
    notification_failure_rate: float = 0.15
    # An outage of one address lasts at most this many sends in a row: fewer than the fault-injection world's retry
    # attempts (4), so every report gets through in the end. Giving up after the last attempt is a documented outcome
    # (docs/failures.md) with its own tests (tests/functional/test_failures.py), not something to draw at random.
    notification_outage_sends: int = 3


@dataclass(frozen=True)
class Actor:
    """The message a use case was running for when it changed the cloud."""

    kind: str
    account_id: int
    job_id: int
    worker_id: int
    attempt: int


@dataclass(frozen=True)
class CloudChange:
    """One bind or restore that reached the cloud. `in_turn`: the worker was, in the store, at that very moment in
    the state (and deploy attempt) the message was for."""

    resource_id: int
    actor: Actor | None
    changed: bool
    in_turn: bool
    cert_id: int | None
    cert_name: str | None


@dataclass(frozen=True)
class Notified:
    """One notification delivered: the notify message's key and the delivery (contact, channel, address digest)."""

    event_key: str
    delivery_key: str
    contact_id: int
    channel: Channel


class RecordingCloud:
    """The local cloud as the `Deployers` port, recording every change with its actor; the nemesis can make a
    resource throttle or refuse deployments, and can hook the moment right after a change (to crash there)."""

    def __init__(self, cloud: LocalCloud, store: Store) -> None:
        self.cloud = cloud
        self._store = store
        self.actor: Actor | None = None
        self.after_change: Callable[[], None] | None = None
        self.changes: list[CloudChange] = []
        self.throttled: dict[int, int] = {}
        self.refusing: dict[int, str] = {}

    def for_product(self, product: Product) -> RecordingCloud:
        return self

    def current_binding(self, resource: Resource) -> Binding:
        return self.cloud.current_binding(resource)

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        self._change(resource, (certificate.cert_id, certificate.name), lambda: self.cloud.bind(resource, certificate))

    def restore(self, resource: Resource, binding: Binding) -> None:
        self._change(resource, (binding.cert_id, binding.cert_name), lambda: self.cloud.restore(resource, binding))

    def _change(self, resource: Resource, target: tuple[int | None, str | None], call: Callable[[], None]) -> None:
        served = self.cloud.current_binding(resource)
        # The `Deployer` port promises that binding what is already bound succeeds: only real changes are refused.
        if (served.cert_id, served.cert_name) != target:
            if self.throttled.get(resource.id, 0) > 0:
                self.throttled[resource.id] -= 1
                raise TransientDeployFailure("Throttling.User", "Request was denied due to user flow control.")
            if resource.id in self.refusing:
                raise PermanentDeployFailure("OperationDenied", self.refusing[resource.id])
        in_turn = self._in_turn()
        before = self.cloud.deploy_count(resource)
        call()
        now = self.cloud.current_binding(resource)
        self.changes.append(
            CloudChange(
                resource.id, self.actor, self.cloud.deploy_count(resource) > before, in_turn, now.cert_id, now.cert_name
            )
        )
        hook, self.after_change = self.after_change, None
        if hook is not None:
            hook()

    def _in_turn(self) -> bool:
        if self.actor is None:
            return False
        worker = self._store.workers.get(self.actor.account_id, self.actor.worker_id)
        if self.actor.kind == "rollback":
            return worker.status is WorkerStatus.ROLLBACK
        return worker.status is WorkerStatus.PROCESSING and worker.attempt == self.actor.attempt


class FlakySender:
    """A notification channel that is down now and then (a transient failure), as mail relays and SMS gateways are."""

    def __init__(self, rng: random.Random, failure_rate: float, outage_sends: int) -> None:
        self._rng = rng
        self._failure_rate = failure_rate
        self._outage_sends = outage_sends
        self._failed_in_a_row: Counter[tuple[str, str]] = Counter()

    def send(self, address: str, message: RenderedNotification) -> None:
        key = (address, message.subject)
        if self._failed_in_a_row[key] < self._outage_sends and self._rng.random() < self._failure_rate:
            self._failed_in_a_row[key] += 1
            raise TransientNotificationFailure("simulated relay outage")
        self._failed_in_a_row[key] = 0


class NeverFailingSender:
    def send(self, address: str, message: RenderedNotification) -> None:
        return None


class RecordingNotifier:
    """The `Notifier`, recording each delivery it made under the key of the notify message being handled."""

    def __init__(self, inner: Notifier) -> None:
        self._inner = inner
        self.event_key = ""
        self.delivered: list[Notified] = []

    def notify(
        self, contact: Contact, report: JobReport, *, skip_keys: Collection[str] = (), admit: Admit | None = None
    ) -> list[DeliveryResult]:
        results = self._inner.notify(contact, report, skip_keys=skip_keys, admit=admit)
        self.delivered += [Notified(self.event_key, r.key, r.contact_id, r.channel) for r in results if r.delivered]
        return results


class FlakyQueue:
    """A queue whose sends fail while an outage lasts (the process that committed the outbox row cannot send)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.failing_sends = 0

    def send(self, body: str, delay_seconds: int = 0) -> str:
        self._fail_while_out()
        return self._inner.send(body, delay_seconds)

    def send_batch(self, bodies: Sequence[str], delay_seconds: int = 0) -> list[str]:
        self._fail_while_out()
        return self._inner.send_batch(bodies, delay_seconds)

    def _fail_while_out(self) -> None:
        if self.failing_sends > 0:
            self.failing_sends -= 1
            raise QueueUnavailable("simulated queue outage")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _InterleavingStore:
    """The store, except that right after the repository method at `path` (e.g. `jobs.due`) answers, `interleave`
    runs: a second tick then acts before the first goes on with what it read, which is now stale."""

    def __init__(self, inner: Any, path: str, interleave: Callable[[], None]) -> None:
        self._inner = inner
        self._path = path
        self._interleave = interleave

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        head, _, rest = self._path.partition(".")
        if name != head:
            return attribute
        if rest:
            return _InterleavingStore(attribute, rest, self._interleave)

        def read_then_interleave(*args: Any, **kwargs: Any) -> Any:
            answer = attribute(*args, **kwargs)
            self._interleave()
            return answer

        return read_then_interleave


class Nemesis:
    def __init__(self, container: Container, clock: AdjustableClock, rng: random.Random, odds: NemesisOdds) -> None:
        assert container.local_cloud is not None
        self.container = container
        self.clock = clock
        self.rng = rng
        self.odds = odds
        self.cloud = RecordingCloud(container.local_cloud, container.store)
        self.queues = {role: FlakyQueue(queue) for role, queue in container.deps.queues.items()}
        container.deps = replace(container.deps, deployers=self.cloud, queues=self.queues)
        sender = FlakySender(rng, odds.notification_failure_rate, odds.notification_outage_sends)
        self.notifier = RecordingNotifier(ContactNotifier({Channel.EMAIL: sender, Channel.SMS: sender}))
        container.notifier = self.notifier
        self.history: list[str] = []
        # Exceptions the use cases raised to the queue (so the message came back), by type name.
        self.raised: list[str] = []
        self._poisoned: set[str] = set()
        # Bodies of the messages poisoned: they end in the dead-letter queue, so what they asked for may not happen.
        self.poisoned: list[tuple[QueueRole, str]] = []
        self._max_receives = container.settings.queue_max_receives
        self._visibility_seconds = container.settings.queue_visibility_seconds

    # ----------------------------------------------------------------------------------------------- moves

    def step(self) -> None:
        odds = self.odds
        moves: dict[Callable[[], None], int] = {
            self.deliver: odds.deliver,
            self.tick: odds.tick,
            self.overlapping_ticks: odds.overlapping_ticks,
            self.time_jump: odds.time_jump,
            self.throttle: odds.throttle,
            self.outage: odds.outage,
            self.queue_outage: odds.queue_outage,
        }
        move = self.rng.choices(list(moves), weights=list(moves.values()))[0]
        move()

    def deliver(self) -> None:
        roles = list(CONSUMED_ROLES)
        self.rng.shuffle(roles)
        for role in roles:
            batch = self.queues[role].receive_batch(self.rng.randint(1, 4))
            if batch:
                self.rng.shuffle(batch)
                for message in batch:
                    self._handle(role, message, self._fault_for(message))
                return

    def tick(self) -> None:
        self.history.append("tick")
        tick(self.container.deps, sync=self.rng.random() < 0.3)

    def overlapping_ticks(self) -> None:
        """Tick A reads its work list, tick B runs whole, then A acts on what it read."""
        method = self.rng.choice(["jobs.due", "outbox.pending", "workers.stuck"])
        self.history.append(f"two ticks overlapping at {method}")
        ran = False

        def second_tick() -> None:
            nonlocal ran
            if not ran:
                ran = True
                tick(self.container.deps, sync=False)

        deps = self.container.deps
        tick(replace(deps, store=_InterleavingStore(deps.store, method, second_tick)), sync=False)

    def time_jump(self) -> None:
        seconds = self.rng.choice(TIME_JUMPS_SECONDS)
        self.history.append(f"time +{seconds}s")
        self.clock.advance(seconds)

    def throttle(self) -> None:
        resource_id = self.rng.choice(self._resource_ids())
        times = self.rng.randint(1, 4)
        self.history.append(f"resource {resource_id} throttles the next {times} changes")
        self.cloud.throttled[resource_id] = self.cloud.throttled.get(resource_id, 0) + times

    def outage(self) -> None:
        """A resource starts refusing changes for good, or one that refused accepts them again."""
        if self.cloud.refusing and self.rng.random() < 0.5:
            resource_id = self.rng.choice(sorted(self.cloud.refusing))
            self.history.append(f"resource {resource_id} accepts changes again")
            del self.cloud.refusing[resource_id]
            return
        resource_id = self.rng.choice(self._resource_ids())
        self.history.append(f"resource {resource_id} refuses changes")
        self.cloud.refusing[resource_id] = "the listener is locked by its owner"

    def queue_outage(self) -> None:
        role = self.rng.choice([QueueRole.DEPLOY, QueueRole.ROLLBACK, QueueRole.NOTIFY])
        sends = self.rng.randint(1, 3)
        self.history.append(f"{role} queue refuses the next {sends} sends")
        self.queues[role].failing_sends += sends

    # ----------------------------------------------------------------------------------------------- quiescence

    def calm(self) -> None:
        """The faults stop: throttles and queue outages end (a resource that refuses changes keeps refusing)."""
        self.cloud.throttled.clear()
        for queue in self.queues.values():
            queue.failing_sends = 0

    def quiesce(self, in_flight: Callable[[], bool], max_rounds: int = 80) -> None:
        """Let time pass, tick and deliver normally until no message and no work is left; fail if that never comes."""
        self.calm()
        self.history.append("quiesce")
        quiet_rounds = 0
        for _ in range(max_rounds):
            self.clock.advance(self._visibility_seconds + 300)
            tick(self.container.deps, sync=False)
            handled = self.drain()
            quiet_rounds = quiet_rounds + 1 if handled == 0 and not in_flight() else 0
            if quiet_rounds == 2:
                return
        raise AssertionError(f"still busy after {max_rounds} quiet rounds:\n" + "\n".join(self.history[-40:]))

    def drain(self) -> int:
        """Deliver every visible message without faults (poisoned ones still crash) until none is visible."""
        handled = 0
        while True:
            batch = [(role, m) for role in CONSUMED_ROLES for m in self.queues[role].receive_batch(16)]
            if not batch:
                return handled
            for role, message in batch:
                self._handle(role, message, Fault.NONE)
                handled += 1

    # ----------------------------------------------------------------------------------------------- delivery

    def _fault_for(self, message: ReceivedMessage) -> Fault:
        faults = self.odds.faults
        fault = self.rng.choices(list(faults), weights=list(faults.values()))[0]
        if fault in _REDELIVERING and message.receive_count >= self._max_receives - 2:
            return Fault.NONE
        return fault

    def _handle(self, role: QueueRole, message: ReceivedMessage, fault: Fault) -> None:
        if message.message_id in self._poisoned:
            fault = Fault.POISON
        self.history.append(f"{fault}: {role} #{message.receive_count} {message.body[:120]}")
        queue = self.queues[role]
        if fault is Fault.POISON:
            if message.message_id not in self._poisoned:
                self._poisoned.add(message.message_id)
                self.poisoned.append((role, message.body))
            return
        if fault is Fault.CRASH_BEFORE:
            return
        if fault is Fault.CRASH_AFTER:
            self._consume(role, message.body)
            return
        if fault is Fault.CRASH_AFTER_EFFECT:
            self.cloud.after_change = self.crash
            self._consume(role, message.body)
            self.cloud.after_change = None
            return
        if fault is Fault.EXPIRE_MID_WORK:
            self.cloud.after_change = lambda: self._second_consumer(role, message.message_id)
        done = self._consume(role, message.body)
        self.cloud.after_change = None
        if fault is Fault.DUPLICATE:
            done = self._consume(role, message.body)
        if done:
            try:
                queue.delete(message.receipt_handle)
            except ReceiptHandleInvalid:
                self.history.append("delete refused: the receipt handle expired")

    @staticmethod
    def crash() -> None:
        raise SimulatedCrash

    def _second_consumer(self, role: QueueRole, message_id: str) -> None:
        """The first consumer's visibility timeout runs out; a second one receives the same message and handles it
        while the first is still at work."""
        self.clock.advance(self._visibility_seconds + 1)
        for message in self.queues[role].receive_batch(16):
            if message.message_id == message_id:
                self._handle(role, message, Fault.NONE)

    def _consume(self, role: QueueRole, body: str) -> bool:
        """Run the use case; False when it did not return (the message stays and comes back)."""
        command = parse_command(body) if role is not QueueRole.CERTIFICATE_ISSUED else None
        outer_actor, outer_key = self.cloud.actor, self.notifier.event_key
        if isinstance(command, (DeployWorker, RollbackWorker)):
            self.cloud.actor = Actor(
                command.kind, command.account_id, command.job_id, command.worker_id, command.attempt
            )
        if isinstance(command, NotifyContacts):
            self.notifier.event_key = command.key
        try:
            consume(self.container.deps, self.container.notifier, role, body)
        except SimulatedCrash:
            self.history.append("  crashed")
            return False
        except Exception as exc:
            # A job's fan-out that cannot send leaves its message to come back: the queue's retry is its retry.
            if not (isinstance(command, DeployJob) and isinstance(exc, QueueUnavailable)):
                self.raised.append(type(exc).__name__)
            self.history.append(f"  raised {type(exc).__name__}: {exc}")
            return False
        finally:
            self.cloud.actor, self.notifier.event_key = outer_actor, outer_key
        return True

    def _resource_ids(self) -> list[int]:
        store = self.container.store
        return sorted(r.id for account in store.accounts.all() for r in store.resources.search(account.id).items)
