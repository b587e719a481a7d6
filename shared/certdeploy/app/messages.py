"""Messages between functions. Each is JSON text on an MNS queue, written to the outbox in the transaction that
causes it; `key` is the consumer's idempotency key (`job:worker:step:attempt`). Every message names its account, so
a consumer acts only inside that account's rows.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from certdeploy.domain.notifications import NotificationEvent
from certdeploy.domain.states import JobStatus
from certdeploy.domain.text_enum import TextEnum
from certdeploy.ports.store.messages import OutboxMessage

SCHEMA_VERSION = 1


class InvalidMessage(ValueError):
    """A queue message that is not one of ours (poison): no retry can make it readable, so it is dead-lettered."""


class QueueRole(TextEnum):
    """The queues, by role; settings give each its real name."""

    DEPLOY = "deploy"
    NOTIFY = "notify"
    ROLLBACK = "rollback"
    CERTIFICATE_ISSUED = "certificate_issued"
    # One dead-letter queue behind all four: the messages say what they are.
    DEAD_LETTER = "dead_letter"


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    account_id: int


class DeployWorker(_Message):
    kind: Literal["deploy"] = "deploy"
    job_id: int
    worker_id: int
    attempt: int = Field(0, ge=0)

    @property
    def key(self) -> str:
        return f"{self.job_id}:{self.worker_id}:deploy:{self.attempt}"


class DeployJob(_Message):
    """Fan a started job out: send a `DeployWorker` for each of its `scheduling` workers after `after_worker_id`, a
    page at a time (app/fanout.py). One such message is what starting a job writes, whatever the job's size."""

    kind: Literal["deploy_job"] = "deploy_job"
    job_id: int
    after_worker_id: int = Field(0, ge=0)

    @property
    def key(self) -> str:
        return f"{self.job_id}:{self.after_worker_id}:deploy_job:0"


class RollbackWorker(_Message):
    kind: Literal["rollback"] = "rollback"
    job_id: int
    worker_id: int
    attempt: int = Field(0, ge=0)

    @property
    def key(self) -> str:
        return f"{self.job_id}:{self.worker_id}:rollback:{self.attempt}"


class NotifyContacts(_Message):
    kind: Literal["notify"] = "notify"
    job_id: int
    event: NotificationEvent
    worker_id: int | None = Field(None, description="the worker whose rollback finished, for rollback events")
    outcome: JobStatus | None = Field(
        None, description="how the job ended, for job_finished: by the time it is told the job may be rolled back"
    )
    sequence: int = Field(
        0,
        ge=0,
        description="tells one worker's rollbacks apart (a failed one may be asked for again): its version; a resumed "
        "job's finish from its halt: how many times it was resumed",
    )
    halt_reason: str | None = Field(None, description="why the job halted, for job_finished of a job its stages halted")
    attempt: int = Field(0, ge=0)

    @property
    def key(self) -> str:
        """The event told, the same at every attempt: deliveries are recorded under it, so a retry skips them."""
        return f"{self.job_id}:{self.worker_id or 0}:{self.event}:{self.sequence}"


class VerifyWorker(_Message):
    """Check what the worker's resource serves (`check` counts from 1), or with `roll_back`, roll the worker back
    once its job has finished (its verification failed it). Carried by the deploy queue: the checks leave from the
    `execute` function, where the cloud's outbound rules for deployments already apply."""

    kind: Literal["verify"] = "verify"
    job_id: int
    worker_id: int
    check: int = Field(1, ge=1)
    roll_back: bool = False

    @property
    def key(self) -> str:
        step = "verify-rollback" if self.roll_back else "verify"
        return f"{self.job_id}:{self.worker_id}:{step}:{self.check}"


Command = Annotated[
    DeployWorker | DeployJob | RollbackWorker | NotifyContacts | VerifyWorker, Field(discriminator="kind")
]
_command_adapter: TypeAdapter[Command] = TypeAdapter(Command, config=ConfigDict(defer_build=True))

QUEUE_OF: dict[str, QueueRole] = {
    "deploy": QueueRole.DEPLOY,
    "deploy_job": QueueRole.DEPLOY,
    "verify": QueueRole.DEPLOY,
    "rollback": QueueRole.ROLLBACK,
    "notify": QueueRole.NOTIFY,
}


def parse_command(body: str) -> Command:
    """The command in `body`; `InvalidMessage` for a body that is not one of our messages."""
    try:
        return _command_adapter.validate_json(body)
    except ValidationError as exc:
        raise InvalidMessage(f"not one of our messages: {exc.errors(include_url=False)[:3]}") from exc


class CertificateIssuedData(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)

    account_id: int = Field(alias="accountId")
    cert_id: int = Field(alias="certId")


class CertificateIssued(BaseModel):
    """ "A certificate was issued": a CloudEvents 1.0 event, as an EventBridge rule delivers it and as our uploads send
    it through the certificate-issued queue. `(source, id)` identifies one event; other envelope fields are kept."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    specversion: str
    type: str
    data: CertificateIssuedData


def parse_certificate_issued(body: bytes | str) -> CertificateIssued:
    try:
        return CertificateIssued.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidMessage(f"not a certificate-issued CloudEvent: {exc.errors(include_url=False)[:3]}") from exc


def outbox_message(command: Command, delay_seconds: int = 0) -> OutboxMessage:
    """The outbox row that sends `command` to the queue of its role once the transaction commits."""
    return OutboxMessage(
        queue=str(QUEUE_OF[command.kind]),
        body=command.model_dump_json(),
        key=command.key,
        delay_seconds=delay_seconds,
    )
