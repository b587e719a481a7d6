"""The store: every row the use cases read and write, on one relational database (adapters/sql)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from certdeploy.domain.models import (
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
from certdeploy.domain.states import JobMove, JobStatus, WorkerMove, WorkerStatus
from certdeploy.domain.text_enum import TextEnum

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
        """Apply a job's debit entries all or nothing, as the domain's `Ledger.charge` decides; returns the units
        charged now. Raises `QuotaExceeded` (nothing applied) when they do not fit; concurrent charges of one account
        are serialised (its row is locked), so quota is never oversold."""
        ...

    def credit_quota(self, account_id: int, entries: Sequence[LedgerEntry]) -> int:
        """Apply refund/release entries as `Ledger.apply_all` decides (a worker never charged, or already credited,
        gets nothing); returns the units given back."""
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
        move: JobMove,
        *,
        expected_version: int | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        rolled_back: bool | None = None,
    ) -> Job:
        """Apply `move` (the domain's `move_job` decided it is allowed) and set the fields not left None. Raises
        `StaleState` if the job is not in `move.expected` (or not at `expected_version`)."""
        ...

    def delete_job(self, account_id: int, job_id: int, *, expected_version: int | None = None) -> Job:
        """Delete the job and its workers; returns what was deleted. Raises `StaleState` if it is not at
        `expected_version`. Whether it may be deleted is the domain's `check_job_deletable`; ledger entries stay
        (release them in the same transaction)."""
        ...

    def lock_job(self, account_id: int, job_id: int) -> Job:
        """Read the job and hold its row lock until the transaction ends (SELECT ... FOR UPDATE; SQLite's write
        transaction holds the whole database already): concurrent writers of one job queue behind it."""
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
        """Drop the job's workers and create `specs` instead (re-matching an `editing` job, once the domain's
        `check_workers_replaceable` allowed it)."""
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
        move: WorkerMove,
        *,
        expected_version: int | None = None,
        resource_cert_id: int | None = None,
        resource_cert_name: str | None = None,
        resource_domain: str | None = None,
        resource_binding: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        attempt: int | None = None,
    ) -> Worker:
        """As `transition_job`, for one worker; a move that keeps the status updates fields (and modified_at) only."""
        ...

    def transition_workers(self, account_id: int, job_id: int, move: WorkerMove) -> int:
        """Apply `move` to every worker of the job in `move.expected`; returns how many moved."""
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
