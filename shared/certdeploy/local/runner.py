"""The local runner behind `certdeploy serve`: every FC function in one process, fed the events FC would send.

- `functions/api` behind the HTTP front (`certdeploy.local.http_front` on uvicorn, `certdeploy.local.http_server`),
  which also answers `GET /health`;
- `functions/scheduler` on a timer, with a timer-trigger event every `tick` seconds;
- `functions/execute`, `notify` and `rollback` on the local deploy/notify/rollback queues (the deploy queue by
  `deploy_consumers` threads taking batches of 16), the messages of each receive wrapped into one EventBridge MNS
  CloudEvent array, as a batching queue trigger delivers them; `functions/certificate_issued` on its queue, whose
  body already is the CloudEvent.

Functions are loaded by file path (code dir `functions/<name>`, handler `handler.handler`), as FC loads them, and all
run on one container installed with `certdeploy.fc.function.use_container` (the initializers would build the
same thing from the environment). The messages of an invocation are deleted together (one BatchDeleteMessage) once
its function returns; when it raises, each of them is invoked alone, and one that still fails stays and comes back
after the visibility timeout, until its receive count sends it to the dead-letter queue. Queues and
store are durable files, so a process killed at any point resumes on restart.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import certdeploy
from certdeploy.adapters.local_inventory import read_inventory
from certdeploy.app.accounts import DEFAULT_ACCOUNT, Credentials, ensure_default_account
from certdeploy.app.messages import QueueRole
from certdeploy.app.resources import sync_resources
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.fc.function import trigger_decodes_base64, use_container
from certdeploy.local.context import LOCAL_ACCOUNT_ID, LOCAL_REGION, FcContext, FunctionMeta
from certdeploy.local.http_front import load_function
from certdeploy.local.http_server import ApiHttpServer
from certdeploy.ports.queue import MAX_BATCH_MESSAGES, Queue, QueueError, ReceivedMessage

log = logging.getLogger(__name__)

TIMER_TRIGGER_NAME = "certdeploy-local-timer"
HANDLER_FILE = "handler.py"


@dataclass(frozen=True)
class FunctionSpec:
    """One FC function as s.yaml declares it: code folder name, handler, memory and timeout."""

    name: str
    timeout_seconds: int
    memory_mb: int = 256
    handler: str = "handler.handler"


API = FunctionSpec("api", timeout_seconds=30)
SCHEDULER = FunctionSpec("scheduler", timeout_seconds=120)
EXECUTE = FunctionSpec("execute", timeout_seconds=300)
NOTIFY = FunctionSpec("notify", timeout_seconds=60)
ROLLBACK = FunctionSpec("rollback", timeout_seconds=300)
CERTIFICATE_ISSUED = FunctionSpec("certificate_issued", timeout_seconds=60)

# Which function consumes which queue, and whether the trigger delivers MNS CloudEvents (or the body is the event).
QUEUE_CONSUMERS: dict[QueueRole, tuple[FunctionSpec, bool]] = {
    QueueRole.DEPLOY: (EXECUTE, True),
    QueueRole.NOTIFY: (NOTIFY, True),
    QueueRole.ROLLBACK: (ROLLBACK, True),
    QueueRole.CERTIFICATE_ISSUED: (CERTIFICATE_ISSUED, False),
}
ALL_FUNCTIONS = (API, SCHEDULER, EXECUTE, NOTIFY, ROLLBACK, CERTIFICATE_ISSUED)


class FunctionsNotFound(RuntimeError):
    """The functions/ folder (the FC code directories) cannot be found."""


# --------------------------------------------------------------------------------------------- FC context


def fc_context(spec: FunctionSpec) -> FcContext:
    return FcContext(function=FunctionMeta(spec.name, spec.handler, spec.memory_mb, spec.timeout_seconds))


# --------------------------------------------------------------------------------------------- events


def _iso(moment: datetime, timespec: str = "milliseconds") -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def timer_event(now: datetime, trigger_name: str = TIMER_TRIGGER_NAME, payload: str = "") -> bytes:
    """The timer trigger's event (docs/runtime.md#timer-event), as FC passes it: bytes."""
    return json.dumps({"triggerTime": _iso(now, "seconds"), "triggerName": trigger_name, "payload": payload}).encode()


def mns_queue_event(
    messages: Sequence[ReceivedMessage], queue_name: str, spec: FunctionSpec, now: datetime, *, base64_body: bool
) -> bytes:
    """The event-streaming delivery of queue messages: an array of `mns:Queue:SendMessage` CloudEvents, one per
    message (docs/runtime.md#mns-queue-event). With `base64_body` (a trigger with `IsBase64Decode: false`) the bodies
    stay in the Base64 form MNS producers send."""
    return json.dumps([_cloud_event(message, queue_name, spec, now, base64_body) for message in messages]).encode()


def _cloud_event(
    message: ReceivedMessage, queue_name: str, spec: FunctionSpec, now: datetime, base64_body: bool
) -> dict[str, Any]:
    source = f"MNS-certdeploy-{spec.name}-trigger"
    body = base64.b64encode(message.body.encode()).decode("ascii") if base64_body else message.body
    enqueued = datetime.fromtimestamp(message.enqueue_time_ms / 1000, tz=timezone.utc)
    return {
        "id": message.message_id,
        "source": source,
        "specversion": "1.0",
        "type": "mns:Queue:SendMessage",
        "datacontenttype": "application/json;charset=utf-8",
        "subject": f"acs:mns:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:queues/{queue_name}",
        "time": _iso(enqueued),
        "aliyunaccountid": LOCAL_ACCOUNT_ID,
        "aliyunpublishtime": _iso(now),
        "aliyunoriginalaccountid": LOCAL_ACCOUNT_ID,
        "aliyuneventbusname": source,
        "aliyunregionid": LOCAL_REGION,
        "aliyunpublishaddr": "127.0.0.1",
        "data": {"requestId": uuid.uuid4().hex.upper(), "messageId": message.message_id, "messageBody": body},
    }


# --------------------------------------------------------------------------------------------- functions


def functions_dir(settings: Settings) -> Path:
    """The FC code directories: the `functions_dir` setting, else the repository's `functions/` next to the
    package (an editable install), else `./functions`."""
    package_root = Path(certdeploy.__file__).resolve().parent
    candidates = (
        [settings.functions_dir]
        if settings.functions_dir is not None
        else [package_root.parent.parent / "functions", Path.cwd() / "functions"]
    )
    for candidate in candidates:
        if all((candidate / spec.name / HANDLER_FILE).is_file() for spec in ALL_FUNCTIONS):
            return candidate.resolve()
    raise FunctionsNotFound(
        f"No functions/ folder with {', '.join(spec.name for spec in ALL_FUNCTIONS)} found at "
        f"{', '.join(str(c) for c in candidates)}; set CERTDEPLOY_FUNCTIONS_DIR to the repository's functions/ folder."
    )


class Functions:
    """The loaded handlers; `invoke` calls one with a fresh context, as one FC invocation."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._handlers = {spec.name: load_function(root / spec.name, spec.handler) for spec in ALL_FUNCTIONS}

    def invoke(self, spec: FunctionSpec, event: bytes) -> Any:
        return self._handlers[spec.name](event, fc_context(spec))


# --------------------------------------------------------------------------------------------- the runner


def cpu_count() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class RunnerOptions:
    host: str = "127.0.0.1"
    port: int = 8787
    tick_seconds: float = 10.0
    receive_wait_seconds: int = 1
    # Threads consuming the deploy queue, each taking MNS batches of up to 16: deployments wait on the store's
    # commits and on the clouds, so several overlap even under one interpreter lock (docs/runtime.md#job-execution).
    deploy_consumers: int = field(default_factory=cpu_count)


# How many messages one receive takes, per queue: the deploy queue's messages are short and many; the others are few,
# and a notification may take long enough that a batch would outlive its visibility timeout.
RECEIVE_BATCH: dict[QueueRole, int] = {QueueRole.DEPLOY: MAX_BATCH_MESSAGES}


class LocalRunner:
    """The threads of `certdeploy serve`: HTTP front, timer, one consumer per queue. `start()`, then `stop()`."""

    def __init__(self, container: Container, functions: Functions, options: RunnerOptions) -> None:
        self._container = container
        self._functions = functions
        self._options = options
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        use_container(container)
        self._http = ApiHttpServer(lambda event: functions.invoke(API, event), options.host, options.port)

    @property
    def address(self) -> tuple[str, int]:
        return self._http.server_address

    def start(self) -> None:
        self._spawn("timer", self._tick_forever)
        for role, (spec, mns_trigger) in QUEUE_CONSUMERS.items():
            threads = self._options.deploy_consumers if role is QueueRole.DEPLOY else 1
            for index in range(threads):
                self._spawn(f"consume-{role}-{index}", self._consume_forever, role, spec, mns_trigger)
        self._spawn("http", self._http.serve_forever)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stop taking work, let the invocations in flight finish, join every thread."""
        self._stopping.set()
        self._http.shutdown()
        for thread in self._threads:
            thread.join(timeout_seconds)
            if thread.is_alive():
                log.warning("thread %s did not stop within %.0f s", thread.name, timeout_seconds)
        self._http.server_close()

    def _spawn(self, name: str, target: Callable[..., object], *arguments: object) -> None:
        thread = threading.Thread(target=target, args=arguments, name=f"certdeploy-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _tick_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                self._functions.invoke(SCHEDULER, timer_event(self._container.deps.clock.now()))
            except Exception:
                log.exception("the scheduler function failed; the next tick tries again")
            self._stopping.wait(self._options.tick_seconds)

    def _consume_forever(self, role: QueueRole, spec: FunctionSpec, mns_trigger: bool) -> None:
        queue = self._container.deps.queues[role]
        queue_name = getattr(queue, "name", str(role))
        batch = RECEIVE_BATCH.get(role, 1)
        while not self._stopping.is_set():
            try:
                messages = queue.receive_batch(batch, wait_seconds=self._options.receive_wait_seconds)
            except QueueError:
                log.warning("cannot receive from the %s queue; retrying", role, exc_info=True)
                self._stopping.wait(1.0)
                continue
            if messages and mns_trigger:
                self._deliver(queue, queue_name, spec, messages)
            elif messages:
                for message in messages:
                    self._deliver_body(queue, spec, message)

    def _deliver(self, queue: Queue, queue_name: str, spec: FunctionSpec, messages: list[ReceivedMessage]) -> None:
        """The messages of one receive in one invocation, as an MNS trigger batches them, deleted together once the
        function returned. When it raised, each message is invoked alone, so that one failing message does not keep
        the others coming back with it (towards the dead-letter queue)."""
        now = self._container.deps.clock.now()
        event = mns_queue_event(messages, queue_name, spec, now, base64_body=not trigger_decodes_base64())
        if not self._invoke(spec, event, messages):
            if len(messages) > 1:
                for message in messages:
                    self._deliver(queue, queue_name, spec, [message])
            return
        _delete(queue, messages)

    def _deliver_body(self, queue: Queue, spec: FunctionSpec, message: ReceivedMessage) -> None:
        """A message whose body is the event (the certificate-issued queue), deleted once the function returned."""
        if self._invoke(spec, message.body.encode(), [message]):
            _delete(queue, [message])

    def _invoke(self, spec: FunctionSpec, event: bytes, messages: list[ReceivedMessage]) -> bool:
        """One invocation; False (logged) when the function raised."""
        try:
            self._functions.invoke(spec, event)
        except Exception:
            log.exception(
                "function %s failed on message(s) %s (receive %s); delivered again unless deleted",
                spec.name,
                ", ".join(message.message_id for message in messages),
                ", ".join(str(message.receive_count) for message in messages),
            )
            return False
        return True


def _delete(queue: Queue, messages: list[ReceivedMessage]) -> None:
    """Acknowledge handled messages in one request; one that cannot be deleted is delivered again."""
    try:
        stale = queue.delete_batch([message.receipt_handle for message in messages])
    except QueueError:
        log.warning("cannot delete %d message(s); they will be delivered again", len(messages), exc_info=True)
        return
    for message in messages:
        if message.receipt_handle in stale:
            log.warning("message %s outlived its visibility timeout; it will be delivered again", message.message_id)


# --------------------------------------------------------------------------------------------- serve


def load_inventory(container: Container, account_id: int, path: Path) -> int:
    """Load an inventory file into the local cloud for one account and sync the account's resources from it;
    returns how many resources the account has now."""
    if container.local_cloud is None:
        raise InventoryNotLocal("An inventory file only feeds the local cloud; CERTDEPLOY_CLOUD is not 'local'.")
    container.local_cloud.load(account_id, read_inventory(path))
    return sync_resources(container.deps, account_id)


class InventoryNotLocal(RuntimeError):
    """An inventory file was given while the resources come from Alibaba Cloud."""


def access_key_banner(credentials: Credentials, endpoint: str) -> str:
    """Shown once, when `serve` creates the default account with a generated AccessKey."""
    return "\n".join(
        (
            "",
            "=" * 78,
            f"Created account '{credentials.account.name}' with a new AccessKey. It is shown only this once:",
            "",
            f"    AccessKeyId:     {credentials.access_key_id}",
            f"    AccessKeySecret: {credentials.access_key_secret}",
            "",
            "Point the CAS SDK (alibabacloud_cas20200407) or the certdeploy CLI at this server with:",
            f"    export CERTDEPLOY_ENDPOINT={endpoint}",
            f"    export CERTDEPLOY_ACCESS_KEY_ID={credentials.access_key_id}",
            f"    export CERTDEPLOY_ACCESS_KEY_SECRET={credentials.access_key_secret}",
            "    certdeploy jobs list",
            "or in Python: Config(endpoint=<host:port>, protocol='http', access_key_id=..., access_key_secret=...).",
            "=" * 78,
            "",
        )
    )


def serve(
    settings: Settings,
    options: RunnerOptions,
    *,
    inventory: Path | None = None,
    out: TextIO = sys.stdout,
    stop: threading.Event | None = None,
) -> None:
    """Run until `stop` is set (the CLI sets it on SIGTERM/SIGINT): set up, start the runner, then shut down."""
    stop = stop or threading.Event()
    functions = Functions(functions_dir(settings))
    container = build_container(settings)
    try:
        created = ensure_default_account(container.store, settings.bootstrap_access_key())
        if inventory is not None:
            account = container.store.accounts.find(DEFAULT_ACCOUNT)
            count = load_inventory(container, account.id, inventory)
            print(f"Loaded {inventory} into the local cloud: account '{account.name}' has {count} resources.", file=out)
        runner = LocalRunner(container, functions, options)
        host, port = runner.address
        endpoint = f"http://{host}:{port}"
        if created is not None:
            if settings.bootstrap_access_key() is None:
                print(access_key_banner(created, endpoint), file=out)
            else:
                print(
                    f"Created account '{created.account.name}' with the AccessKey from CERTDEPLOY_ACCESS_KEY_ID.",
                    file=out,
                )
        runner.start()
        print(f"certdeploy is serving the CAS API on {endpoint} (data: {settings.data.resolve()})", file=out)
        if container.local_tls is not None:
            tls_host, tls_port = container.local_tls.address
            print(
                f"The local cloud serves TLS on {tls_host}:{tls_port} (SNI picks the resource): "
                f"openssl s_client -connect {tls_host}:{tls_port} -servername <domain>",
                file=out,
            )
        print(f"the web console is at {endpoint}/console/", file=out)
        print(f"Health: {endpoint}/health  ·  stop with Ctrl-C", file=out, flush=True)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            print("Stopping…", file=out, flush=True)
            runner.stop()
    finally:
        container.close()
    print("Stopped.", file=out, flush=True)
