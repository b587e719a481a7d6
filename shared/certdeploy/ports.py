"""Ports: what the use cases need from the outside world. Adapters implement them; the domain never sees them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Generic, Protocol, TypeVar

from pydantic import SecretStr

from certdeploy.domain.deployment import Binding, DeployableCertificate
from certdeploy.domain.models import (
    CertAlgorithm,
    Certificate,
    CertificateInfo,
    CertificateTag,
    CertOrigin,
    Contact,
    Job,
    JobType,
    Product,
    Resource,
    Worker,
)
from certdeploy.domain.quota import LedgerEntry
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.domain.text_enum import TextEnum

# --------------------------------------------------------------------------------------------- clock


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


# --------------------------------------------------------------------------------------------- queue
# MNS semantics (docs/runtime.md#mns-semantics): at-least-once delivery, delay, visibility timeout,
# receipt handles that change on every receive and every visibility change, dead-letter after N receives.

MAX_MESSAGE_BYTES = 64 * 1024
# A body travels Base64-encoded (MNS triggers expect that), and MNS counts the encoded form against its 64 KB, so a body
# may hold 3/4 of it in UTF-8: "the total size of the original messages cannot exceed 47 KB"
# (alibabacloud.com/help/en/mns/can-i-use-mns-to-send-or-receive-multiple-messages-at-a-time).
MAX_BODY_BYTES = MAX_MESSAGE_BYTES // 4 * 3
MAX_DELAY_SECONDS = 604_800
MAX_WAIT_SECONDS = 30
MAX_BATCH_MESSAGES = 16
MAX_VISIBILITY_SECONDS = 43_200


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    body: str
    receipt_handle: str
    receive_count: int
    enqueue_time_ms: int
    first_receive_time_ms: int
    next_visible_time_ms: int


class QueueError(Exception):
    """Base of every queue failure an adapter reports."""


class MessageTooLarge(QueueError):
    """The body is over `MAX_BODY_BYTES` in UTF-8 (its Base64 form would be over MNS's 64 KB)."""


class InvalidArgument(QueueError):
    """A delay, wait or visibility value outside what MNS accepts."""


class ReceiptHandleInvalid(QueueError):
    """The receipt handle is stale (the message was received again, or its visibility changed), expired (its visibility
    timeout ran out) or unknown."""


class QueueUnavailable(QueueError):
    """The queue service could not be reached or failed; the call may be retried."""


class QueueNotFound(QueueError):
    """The queue does not exist (MNS `QueueNotExist`): a deployment mistake, retrying will not help."""


class QueueAccessDenied(QueueError):
    """The credentials were refused (bad key or signature, expired STS token, no permission on the queue)."""


def check_send_arguments(body: str, delay_seconds: int, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
    """Refuse what MNS would refuse, before it is sent: every adapter applies the same limits."""
    if not body:
        raise InvalidArgument("the message body is empty")
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"the message body is not valid Unicode text: {exc}") from exc
    if size > max_body_bytes:
        raise MessageTooLarge(f"the message body is {size} bytes in UTF-8, over the {max_body_bytes} allowed")
    if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
        raise InvalidArgument(f"delay_seconds must be 0–{MAX_DELAY_SECONDS}, not {delay_seconds}")


def check_receive_arguments(max_messages: int, wait_seconds: int) -> None:
    if not 1 <= max_messages <= MAX_BATCH_MESSAGES:
        raise InvalidArgument(f"max_messages must be 1–{MAX_BATCH_MESSAGES}, not {max_messages}")
    if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
        raise InvalidArgument(f"wait_seconds must be 0–{MAX_WAIT_SECONDS}, not {wait_seconds}")


def check_visibility_timeout(seconds: int) -> None:
    if not 1 <= seconds <= MAX_VISIBILITY_SECONDS:
        raise InvalidArgument(f"a visibility timeout must be 1–{MAX_VISIBILITY_SECONDS} s, not {seconds}")


@dataclass(frozen=True)
class QueueAttributes:
    """How a queue treats its messages; on MNS these are set on the queue itself (console, s.yaml), not per call."""

    visibility_timeout_seconds: int = 30
    # After this many receives the next receive moves the message to `dead_letter_queue` instead of delivering it.
    max_receive_count: int | None = None
    dead_letter_queue: str | None = None

    def __post_init__(self) -> None:
        check_visibility_timeout(self.visibility_timeout_seconds)
        if (self.max_receive_count is None) != (self.dead_letter_queue is None):
            raise InvalidArgument("max_receive_count and dead_letter_queue go together")
        if self.max_receive_count is not None and self.max_receive_count < 1:
            raise InvalidArgument(f"max_receive_count must be at least 1, not {self.max_receive_count}")


class Queue(Protocol):
    name: str

    def send(self, body: str, delay_seconds: int = 0) -> str:
        """Enqueue `body`; it becomes visible after `delay_seconds`. Returns the message id."""
        ...

    def receive(self, wait_seconds: int = 0) -> ReceivedMessage | None:
        """Take one visible message (long-polling up to `wait_seconds`), hiding it for the visibility timeout."""
        ...

    def receive_batch(self, max_messages: int, wait_seconds: int = 0) -> list[ReceivedMessage]:
        """Take up to `max_messages` (1–16) visible messages."""
        ...

    def delete(self, receipt_handle: str) -> None:
        """Acknowledge a message; raises `ReceiptHandleInvalid` for a stale handle."""
        ...

    def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> str:
        """Hide the message for `visibility_timeout` seconds from now; returns the new receipt handle."""
        ...


# --------------------------------------------------------------------------------------------- store
# One relational store (adapters/sql) on SQLite, PostgreSQL or MySQL/MariaDB. Rules every implementation keeps:
# - Tenancy: every method that touches an account's rows takes `account_id`; another account's row reads as `NotFound`.
# - Times go in and come out as timezone-aware UTC datetimes.
# - State changes are conditional (expected status, optionally expected version). Losing a race raises `StaleState`
#   (never a silent no-op), so the transaction that hit it rolls back with everything else it wrote.
# - `Store` runs each call in its own transaction; `Store.transaction()` gives the same operations on one
#   transaction, so a state change and the outbox messages it causes commit together or not at all.

_Item = TypeVar("_Item")


class StoreError(Exception):
    """Base of every failure the store reports besides the domain's `NotFound`, `InvalidStatus` and `QuotaExceeded`."""


class StaleState(StoreError):
    """A conditional update lost: the row is no longer in the expected status or version. Re-read and decide again."""

    def __init__(self, entity: str, entity_id: int, actual_status: str, actual_version: int) -> None:
        super().__init__(f"{entity} {entity_id} changed meanwhile: now '{actual_status}' at version {actual_version}.")
        self.entity = entity
        self.entity_id = entity_id
        self.actual_status = actual_status
        self.actual_version = actual_version


class AlreadyExists(StoreError):
    """A unique name is taken: account name, AccessKeyId, certificate name in the account, worker (job, resource),
    a contact's email or mobile in the account (`ContactTaken`)."""


class ContactField(TextEnum):
    """The contact fields unique in an account, named as the CAS parameters."""

    EMAIL = "Email"
    MOBILE = "Mobile"


class ContactTaken(AlreadyExists):
    """Another contact of the account holds this email (compared case-insensitively) or this mobile number."""

    def __init__(self, field: ContactField, holder_id: int) -> None:
        super().__init__(f"Contact {holder_id} has the same {field.value.lower()}.")
        self.field = field
        self.holder_id = holder_id


class KeyDecryptionFailed(StoreError):
    """Stored ciphertext cannot be decrypted: the key-encryption key is not the one it was written with."""


class StoreUnavailable(StoreError):
    """The database could not be reached, or gave up on a lock or deadlock; the whole operation may be retried."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    buy_count: int
    use_count: int
    hosting: bool
    created_at: datetime


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    account_id: int
    secret: str = field(repr=False)


@dataclass(frozen=True)
class EncryptionPair:
    """The encryption certificate and key an SM2 certificate may have beside its signing pair (SM2 TLS uses both)."""

    cert_pem: str
    private_key_pem: str = field(repr=False)


@dataclass(frozen=True)
class QuotaBalance:
    """CAS `BuyCount` and `UseCount`; `use_count` always equals the net sum of the account's ledger."""

    buy_count: int
    use_count: int

    @property
    def available(self) -> int:
        return self.buy_count - self.use_count


@dataclass(frozen=True)
class ResourceSpec:
    """A resource as the inventory reports it. (product, region, instance_id, domain, port) is its natural key."""

    product: Product
    region: str
    instance_id: str
    domain: str
    port: int | None = None
    listener_id: str | None = None
    https_enabled: bool = True
    bound_cert_id: int | None = None
    bound_cert_name: str | None = None
    # What a source that only knows CAS certificates reports (CAS CertId); the resource sync maps it to our id.
    bound_cas_cert_id: int | None = None


@dataclass(frozen=True)
class WorkerSpec:
    cert_id: int
    resource_id: int
    product: Product


@dataclass(frozen=True)
class OutboxMessage:
    """A message to send to the queue named `queue` once the transaction that wrote it commits."""

    queue: str
    body: str
    key: str  # the consumer's idempotency key, e.g. `job:worker:step:attempt`
    delay_seconds: int = 0


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    queue: str
    body: str
    key: str
    delay_seconds: int
    created_at: datetime


@dataclass(frozen=True)
class Page(Generic[_Item]):
    items: list[_Item]
    total: int


class StoreOperations(Protocol):
    """Everything the use cases read and write. Paging is 1-based; `page_size` rows per page."""

    # ---- accounts and access keys
    def create_account(self, name: str, *, buy_count: int = 0, hosting: bool = False) -> Account:
        """Raises `AlreadyExists` if the name is taken."""
        ...

    def get_account(self, account_id: int) -> Account: ...

    def find_account(self, name: str) -> Account:
        """The account of that name. Raises `NotFound`."""
        ...

    def list_accounts(self) -> list[Account]:
        """Every account, by id (the scheduler refreshes each one's resources)."""
        ...

    def set_hosting(self, account_id: int, enabled: bool) -> Account: ...

    def add_access_key(self, account_id: int, access_key_id: str, secret: str) -> AccessKey:
        """The secret is stored encrypted. Raises `AlreadyExists` if the AccessKeyId is taken."""
        ...

    def find_access_key(self, access_key_id: str) -> AccessKey:
        """The key and its decrypted secret, to verify a request signature. Raises `NotFound`."""
        ...

    # ---- quota: BuyCount, UseCount and the ledger keyed by (worker, direction)
    def add_quota(self, account_id: int, units: int) -> QuotaBalance:
        """Add purchased units to BuyCount (negative to take back unused ones; BuyCount never goes below 0)."""
        ...

    def quota(self, account_id: int) -> QuotaBalance: ...

    def charge_quota(self, account_id: int, entries: Sequence[LedgerEntry]) -> int:
        """Apply a job's debit entries all or nothing; returns the units charged now.

        Entries already in the ledger are skipped. Raises `QuotaExceeded` (nothing applied) when the new ones do not fit
        in BuyCount - UseCount; concurrent charges of one account are serialised, so quota is never oversold.
        """
        ...

    def credit_quota(self, account_id: int, entries: Sequence[LedgerEntry]) -> int:
        """Apply refund/release entries; returns the units given back. An entry whose worker was never charged, or
        was already credited, is a no-op."""
        ...

    def ledger_entries(self, account_id: int, *, job_id: int | None = None) -> list[LedgerEntry]: ...

    # ---- certificates
    def add_certificate(
        self,
        account_id: int,
        *,
        name: str,
        origin: CertOrigin,
        info: CertificateInfo,
        cert_pem: str,
        private_key_pem: str | None,
        cas_cert_id: int | None = None,
        tags: Sequence[CertificateTag] = (),
        encryption_pair: EncryptionPair | None = None,
    ) -> Certificate:
        """The private keys are stored encrypted. Raises `AlreadyExists` if the account has a certificate of that name,
        or one with that `cas_cert_id`. A CAS certificate may come without content yet: `cert_pem` "" and no key."""
        ...

    def get_certificates_by_cas_id(self, account_id: int, cas_cert_ids: Collection[int]) -> list[Certificate]:
        """The account's certificates mirrored from CAS with one of `cas_cert_ids`, by id."""
        ...

    def fill_certificate_content(
        self, account_id: int, cert_id: int, *, info: CertificateInfo, cert_pem: str, private_key_pem: str | None
    ) -> Certificate:
        """Store the content of a certificate that has none yet (PEM, parsed facts, key encrypted); returns the
        certificate as stored. A certificate that has its content already keeps it (the first fill wins)."""
        ...

    def get_certificate(self, account_id: int, cert_id: int) -> Certificate: ...

    def get_certificates(self, account_id: int, cert_ids: Collection[int]) -> list[Certificate]:
        """The account's certificates among `cert_ids`, by id; ids it does not own are simply absent."""
        ...

    def list_certificates(
        self,
        account_id: int,
        *,
        origin: CertOrigin | None = None,
        keyword: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> Page[Certificate]:
        """Newest first. `keyword` matches the name or any covered domain, case-insensitively."""
        ...

    def get_private_key(self, account_id: int, cert_id: int) -> str | None:
        """The decrypted PEM key (None for official certificates). Raises `KeyDecryptionFailed` on a wrong key."""
        ...

    def get_encryption_pair(self, account_id: int, cert_id: int) -> EncryptionPair | None:
        """The SM2 encryption certificate and its decrypted key, if it was uploaded with one. Raises `NotFound`."""
        ...

    def delete_certificate(self, account_id: int, cert_id: int) -> None: ...

    # ---- contacts
    def add_contact(
        self,
        account_id: int,
        *,
        name: str,
        email: str | None = None,
        mobile: str | None = None,
        webhooks: Sequence[str] = (),
    ) -> Contact:
        """Raises `ContactTaken` if another contact of the account has the email (any case) or the mobile."""
        ...

    def get_contact(self, account_id: int, contact_id: int) -> Contact: ...

    def get_contacts(self, account_id: int, contact_ids: Collection[int]) -> list[Contact]:
        """By id; ids the account does not own are absent."""
        ...

    def update_contact(self, contact: Contact) -> Contact:
        """Overwrite name, email, mobile and webhooks of `contact` (looked up by its id and account_id).
        Raises `ContactTaken` as `add_contact` does."""
        ...

    def delete_contact(self, account_id: int, contact_id: int) -> None: ...

    def list_contacts(
        self, account_id: int, *, keyword: str | None = None, page: int = 1, page_size: int = 20
    ) -> Page[Contact]:
        """By id. `keyword` matches name, email or mobile, case-insensitively."""
        ...

    # ---- resources
    def upsert_resources(self, account_id: int, specs: Sequence[ResourceSpec]) -> list[int]:
        """Insert or refresh resources by natural key; returns their stable ids in input order. Marks them not gone."""
        ...

    def get_resources(self, account_id: int, resource_ids: Collection[int]) -> list[Resource]:
        """By id; ids the account does not own are absent (the caller states why they were excluded)."""
        ...

    def list_resources(
        self,
        account_id: int,
        *,
        product: Product | None = None,
        keyword: str | None = None,
        resource_ids: Collection[int] | None = None,
        include_gone: bool = False,
        page: int = 1,
        page_size: int = 20,
    ) -> Page[Resource]:
        """By id. `keyword` matches the domain or the instance id, case-insensitively."""
        ...

    def resources_for_names(self, account_id: int, names: Collection[str]) -> list[Resource]:
        """Candidates for matching: resources (not gone) whose domain equals one of the normalised `names`, or is one
        label under a wildcard name (`*.example.com` → `a.example.com`). Matching itself stays in the domain."""
        ...

    def set_resource_binding(
        self, account_id: int, resource_id: int, cert_id: int | None, cert_name: str | None
    ) -> Resource: ...

    def set_resources_gone(self, account_id: int, resource_ids: Collection[int], gone: bool = True) -> int: ...

    # ---- jobs
    def create_job(
        self,
        account_id: int,
        *,
        name: str,
        cert_origin: CertOrigin,
        cert_ids: Sequence[int],
        resource_ids: Sequence[int] = (),
        contact_ids: Sequence[int] = (),
        job_type: JobType = JobType.USER,
        schedule_time: datetime | None = None,
    ) -> Job:
        """A new job in `editing`, version 0."""
        ...

    def get_job(self, account_id: int, job_id: int) -> Job: ...

    def list_jobs(
        self,
        account_id: int,
        *,
        status: JobStatus | None = None,
        job_type: JobType | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> Page[Job]:
        """Newest first."""
        ...

    def update_job(self, job: Job) -> Job:
        """Save the editable fields of `job` (name, type, origin, cert/resource/contact ids, schedule time) if it is
        still in `editing` at `job.version`; returns it at the next version. Raises `StaleState` otherwise."""
        ...

    def transition_job(
        self,
        account_id: int,
        job_id: int,
        *,
        expected: JobStatus,
        to: JobStatus,
        expected_version: int | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        rolled_back: bool | None = None,
    ) -> Job:
        """Move the job from `expected` to `to` (InvalidStatus if the state machine forbids it; `expected == to` just
        updates the fields). Fields left None keep their value. Raises `StaleState` if the job is not in `expected`
        (or not at `expected_version`)."""
        ...

    def delete_job(self, account_id: int, job_id: int, *, expected_version: int | None = None) -> Job:
        """Delete the job and its workers; returns what was deleted. Raises `InvalidStatus` unless the job is in a
        deletable status with no rollback running, `StaleState` if it is not at `expected_version`. Ledger entries
        stay (release them in the same transaction)."""
        ...

    def due_jobs(self, now: datetime, limit: int = 100) -> list[Job]:
        """Pending jobs of every account whose schedule time is unset or not after `now`, oldest schedule first."""
        ...

    # ---- workers
    def create_workers(self, account_id: int, job_id: int, specs: Sequence[WorkerSpec]) -> list[Worker]:
        """New workers in `editing`, in input order. Raises `AlreadyExists` if a resource already has a worker in
        the job, `NotFound` if the job is not the account's."""
        ...

    def replace_workers(self, account_id: int, job_id: int, specs: Sequence[WorkerSpec]) -> list[Worker]:
        """Drop the job's workers and create `specs` instead (re-matching an `editing` job). Raises `InvalidStatus`
        if any existing worker has left `editing`."""
        ...

    def get_worker(self, account_id: int, worker_id: int) -> Worker: ...

    def list_workers(
        self,
        account_id: int,
        job_id: int,
        *,
        status: WorkerStatus | None = None,
        product: Product | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> Page[Worker]:
        """By id."""
        ...

    def job_workers(self, account_id: int, job_id: int) -> list[Worker]:
        """All the job's workers, by id."""
        ...

    def worker_counts(self, account_id: int, job_id: int) -> dict[tuple[Product, WorkerStatus], int]:
        """How many of the job's workers are in each (product, status); absent pairs have none. One aggregate
        query: what a finishing worker and a job listing need, without reading every worker."""
        ...

    def transition_worker(
        self,
        account_id: int,
        worker_id: int,
        *,
        expected: WorkerStatus,
        to: WorkerStatus,
        expected_version: int | None = None,
        resource_cert_id: int | None = None,
        resource_cert_name: str | None = None,
        resource_domain: str | None = None,
        resource_binding: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        attempt: int | None = None,
    ) -> Worker:
        """As `transition_job`, for one worker. `expected == to` updates fields (and modified_at) only."""
        ...

    def transition_workers(self, account_id: int, job_id: int, *, expected: WorkerStatus, to: WorkerStatus) -> int:
        """Move every worker of the job that is in `expected` to `to`; returns how many moved."""
        ...

    def stuck_workers(
        self, statuses: Collection[WorkerStatus], modified_before: datetime, limit: int = 100
    ) -> list[Worker]:
        """Workers of every account left in one of `statuses` since before `modified_before`, oldest first."""
        ...

    # ---- transactional outbox
    def add_outbox(self, messages: Sequence[OutboxMessage]) -> list[int]:
        """Record messages to send after commit; returns their ids (in input order) for `mark_outbox_sent`."""
        ...

    def pending_outbox(self, limit: int = 100, *, created_before: datetime | None = None) -> list[OutboxRecord]:
        """Messages not yet marked sent, oldest first; `created_before` leaves fresh ones to their own sender."""
        ...

    def unsent_outbox(self, ids: Collection[int]) -> list[OutboxRecord]:
        """Those of `ids` not yet marked sent, by id (what a transaction just wrote, to send right after commit)."""
        ...

    def mark_outbox_sent(self, ids: Collection[int]) -> None: ...

    def delete_sent_outbox(self, sent_before: datetime) -> int: ...

    # ---- consumer idempotency and notification dedupe
    def mark_processed(self, key: str) -> bool:
        """Insert-if-absent: True the first time `key` is seen, False afterwards (also under concurrency)."""
        ...

    def forget_processed(self, processed_before: datetime) -> int: ...

    def record_notification(self, account_id: int, event_key: str, contact_id: int, channel: str) -> bool:
        """Insert-if-absent on (event_key, contact_id, channel): True if this notification was not sent before.
        `channel` identifies one delivery (channel and address), at most 160 characters."""
        ...

    def sent_notifications(self, account_id: int, event_key: str) -> set[str]:
        """The `channel` values recorded for `event_key`: the deliveries already made for that event."""
        ...


class Store(StoreOperations, Protocol):
    """Each operation in its own transaction; `transaction()` groups several into one."""

    def transaction(self) -> AbstractContextManager[StoreOperations]:
        """Commit on normal exit, roll back on an exception (which propagates). Inside the block call only the
        yielded object: a second transaction opened meanwhile would wait for this one (SQLite has one writer)."""
        ...


# --------------------------------------------------------------------------------------------- cloud
# What a product looks like to the use cases: an inventory of its HTTPS resources and a deployer per product.


class Inventory(Protocol):
    def discover(self, account_id: int) -> list[ResourceSpec]:
        """Every HTTPS-capable resource of the account, as the cloud reports it now."""
        ...


class Deployer(Protocol):
    """One product's certificate binding. Every method raises `TransientDeployFailure` or `PermanentDeployFailure`."""

    def current_binding(self, resource: Resource) -> Binding:
        """The certificate the resource serves now."""
        ...

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        """Bind `certificate`; binding what is already bound succeeds."""
        ...

    def restore(self, resource: Resource, binding: Binding) -> None:
        """Put back a binding read earlier by `current_binding` (rollback)."""
        ...


class Deployers(Protocol):
    def for_product(self, product: Product) -> Deployer: ...


# --------------------------------------------------------------------------------------------- certificate source
# Where official and uploaded certificates live in the cloud (CAS): listed with their parsed names, their content
# fetched only when a deployment needs it.


@dataclass(frozen=True)
class SourceCertificate:
    """A certificate as the source lists it: names and dates, no content. Unknown facts are None."""

    cas_cert_id: int
    name: str
    common_name: str | None
    sans: tuple[str, ...]
    not_before: datetime | None
    not_after: datetime | None
    uploaded: bool
    expired: bool = False
    free: bool = False
    issuer: str | None = None
    serial: str | None = None
    fingerprint_sha256: str | None = None
    algorithm: CertAlgorithm | None = None


@dataclass(frozen=True)
class SourceCertificateContent:
    """A certificate's PEM (chain), key (None when the source holds none) and the facts parsed from the PEM."""

    cas_cert_id: int
    name: str
    cert_pem: str = field(repr=False)
    key_pem: SecretStr | None
    info: CertificateInfo
    identifier: str | None = None


class CertificateSource(Protocol):
    """Every method raises `TransientDeployFailure` or `PermanentDeployFailure` when the source fails."""

    def list_certificates(self) -> list[SourceCertificate]:
        """Every valid certificate the source holds (official and uploaded)."""
        ...

    def certificate(self, cas_cert_id: int) -> SourceCertificateContent:
        """One certificate's content."""
        ...
