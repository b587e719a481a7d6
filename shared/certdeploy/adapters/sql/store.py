"""The `Store` port on SQLAlchemy Core: one implementation for SQLite, PostgreSQL and MySQL/MariaDB.

`_Operations` holds every operation once; it only asks for a connection in a transaction. `SqlStore` opens one per
call (or one for a whole `transaction()` block); `SqlTransaction` hands out the block's connection. Conditional
updates carry the expected status/version in their WHERE clause; a zero row count then means the race was lost.
Ledger writes lock the account row first (SELECT ... FOR UPDATE; the IMMEDIATE transaction on SQLite), so charges
and credits of one account are serialised and the stored UseCount stays equal to the ledger's net sum.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Executable,
    Row,
    Select,
    Table,
    Text,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, OperationalError

from certdeploy.adapters.sql.crypto import KeyCipher
from certdeploy.adapters.sql.engine import WRITE_OPTION, create_store_engine
from certdeploy.adapters.sql.schema import (
    access_keys,
    accounts,
    certificates,
    contacts,
    jobs,
    notifications_sent,
    outbox,
    processed_messages,
    quota_ledger,
    resources,
    workers,
)
from certdeploy.domain.errors import InvalidStatus, NotFound, QuotaExceeded
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
from certdeploy.domain.quota import LedgerDirection, LedgerEntry, LedgerEntryKind
from certdeploy.domain.states import (
    JOB_DELETABLE,
    WORKER_ROLLBACK_ACTIVE,
    JobStatus,
    WorkerStatus,
    check_job_transition,
    check_worker_transition,
)
from certdeploy.ports import (
    AccessKey,
    Account,
    AlreadyExists,
    Clock,
    ContactField,
    ContactTaken,
    EncryptionPair,
    OutboxMessage,
    OutboxRecord,
    Page,
    QuotaBalance,
    ResourceSpec,
    StaleState,
    StoreUnavailable,
    WorkerSpec,
)

# Keys that become indexed VARCHAR(191) columns (the utf8mb4 limit of older InnoDB row formats).
MAX_KEY_LENGTH = 191
# Rows per IN (...) list; well under every database's bound-parameter limit.
_CHUNK = 500
# Wildcard names matched in SQL, one LIKE each, in one query; far below SQLite's expression depth of 1000.
_WILDCARD_BASES_PER_QUERY = 100
# Writes of a contact whose unique email or mobile clashed with a contact that then changed before it could be named.
_CONTACT_WRITE_ATTEMPTS = 3

_ResourceKey = tuple[str, str, str, str, int]


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _check_key(key: str, what: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"A {what} must be 1 to {MAX_KEY_LENGTH} characters long.")


def _check_page(page: int, page_size: int) -> None:
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size start at 1.")


def _private_key_context(account_id: int, fingerprint: str) -> str:
    return f"certdeploy:private-key:{account_id}:{fingerprint}"


def _encrypt_private_key_context(account_id: int, fingerprint: str) -> str:
    # Its own label: the signing key's ciphertext cannot be passed off as the encryption key's, nor the reverse.
    return f"certdeploy:encrypt-private-key:{account_id}:{fingerprint}"


def _access_key_context(access_key_id: str) -> str:
    return f"certdeploy:access-key:{access_key_id}"


def _resource_key(spec: ResourceSpec) -> _ResourceKey:
    return (str(spec.product), spec.region, spec.instance_id, spec.domain, spec.port or 0)


def _row_resource_key(row: Row[Any]) -> _ResourceKey:
    return (row.product, row.region, row.instance_id, row.domain, row.port)


def _wildcard_base(domain: str) -> str | None:
    """What a wildcard covering `domain` is under: `a.example.com` → `example.com` (a wildcard covers one label)."""
    label, _, base = domain.partition(".")
    return base if label and base else None


def _account(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        buy_count=row.buy_count,
        use_count=row.use_count,
        hosting=row.hosting,
        created_at=row.created_at,
    )


def _certificate(row: Row[Any]) -> Certificate:
    return Certificate(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        origin=CertOrigin(row.origin),
        common_name=row.common_name,
        sans=tuple(row.sans),
        names=tuple(row.names),
        not_before=row.not_before,
        not_after=row.not_after,
        serial=row.serial,
        fingerprint_sha256=row.fingerprint_sha256,
        issuer=row.issuer,
        issuer_common_name=row.issuer_common_name,
        algorithm=CertAlgorithm(row.algorithm),
        chain_length=row.chain_length,
        cert_pem=row.cert_pem,
        created_at=row.created_at,
        cas_cert_id=row.cas_cert_id,
        tags=tuple(CertificateTag(**tag) for tag in row.tags),
    )


def _contact_values(contact: Contact) -> dict[str, Any]:
    """The row of a contact but its id and account."""
    return {
        "name": contact.name,
        "email": contact.email,
        "email_lower": None if contact.email is None else contact.email.lower(),
        "mobile": contact.mobile,
        "webhooks": list(contact.webhooks),
    }


def _contact_holding(conn: Connection, contact: Contact) -> ContactTaken | None:
    """Which other contact of the account holds `contact`'s email or mobile, as the error to raise."""
    values = _contact_values(contact)
    others = (contacts.c.account_id == contact.account_id, contacts.c.id != contact.id)
    for field, column in ((ContactField.EMAIL, contacts.c.email_lower), (ContactField.MOBILE, contacts.c.mobile)):
        value = values[column.name]
        if value is None:
            continue
        holder = conn.execute(select(contacts.c.id).where(*others, column == value).limit(1)).scalar()
        if holder is not None:
            return ContactTaken(field, holder)
    return None


def _contact(row: Row[Any]) -> Contact:
    return Contact(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        email=row.email,
        mobile=row.mobile,
        webhooks=tuple(row.webhooks),
    )


def _resource(row: Row[Any]) -> Resource:
    return Resource(
        id=row.id,
        account_id=row.account_id,
        product=Product(row.product),
        region=row.region,
        instance_id=row.instance_id,
        domain=row.domain,
        https_enabled=row.https_enabled,
        port=row.port or None,
        listener_id=row.listener_id,
        bound_cert_id=row.bound_cert_id,
        bound_cert_name=row.bound_cert_name,
        gone=row.gone,
    )


def _job(row: Row[Any]) -> Job:
    return Job(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        job_type=JobType(row.job_type),
        status=JobStatus(row.status),
        cert_origin=CertOrigin(row.cert_origin),
        cert_ids=tuple(row.cert_ids),
        resource_ids=tuple(row.resource_ids),
        contact_ids=tuple(row.contact_ids),
        schedule_time=row.schedule_time,
        start_time=row.start_time,
        end_time=row.end_time,
        created_at=row.created_at,
        modified_at=row.modified_at,
        rolled_back=row.rolled_back,
        version=row.version,
    )


def _worker(row: Row[Any]) -> Worker:
    return Worker(
        id=row.id,
        job_id=row.job_id,
        account_id=row.account_id,
        cert_id=row.cert_id,
        resource_id=row.resource_id,
        product=Product(row.product),
        status=WorkerStatus(row.status),
        resource_cert_id=row.resource_cert_id,
        resource_cert_name=row.resource_cert_name,
        resource_domain=row.resource_domain,
        resource_binding=row.resource_binding,
        error_code=row.error_code,
        error_message=row.error_message,
        attempt=row.attempt,
        created_at=row.created_at,
        modified_at=row.modified_at,
        version=row.version,
    )


def _ledger_entry(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(
        account_id=row.account_id,
        job_id=row.job_id,
        worker_id=row.worker_id,
        kind=LedgerEntryKind(row.kind),
        units=row.units,
    )


def _outbox_record(row: Row[Any]) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        queue=row.queue,
        body=row.body,
        key=row.message_key,
        delay_seconds=row.delay_seconds,
        created_at=row.created_at,
    )


class _Operations(ABC):
    """Every store operation, written once against a connection that is already inside a transaction."""

    def __init__(self, cipher: KeyCipher, clock: Clock) -> None:
        self._cipher = cipher
        self._clock = clock

    @abstractmethod
    def _connection(self, *, write: bool) -> AbstractContextManager[Connection]:
        """A connection inside a transaction; `write` says the transaction will write."""

    # ------------------------------------------------------------------------------------------- helpers

    @staticmethod
    def _insert_unique(conn: Connection, statement: Executable, conflict: str, params: Any = None) -> CursorResult[Any]:
        """Run an INSERT in a savepoint so a unique-key violation leaves the surrounding transaction usable."""
        try:
            with conn.begin_nested():
                return conn.execute(statement, params)
        except IntegrityError as exc:
            raise AlreadyExists(conflict) from exc

    @staticmethod
    def _insert_if_absent(conn: Connection, statement: Executable) -> bool:
        try:
            with conn.begin_nested():
                conn.execute(statement)
        except IntegrityError:
            return False
        return True

    @staticmethod
    def _page(
        conn: Connection, query: Select[Any], order_by: Sequence[Any], page: int, page_size: int
    ) -> tuple[int, Sequence[Row[Any]]]:
        _check_page(page, page_size)
        total = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
        rows = conn.execute(query.order_by(*order_by).offset((page - 1) * page_size).limit(page_size)).all()
        return total, rows

    @staticmethod
    def _stale(conn: Connection, table: Table, entity: str, entity_id: int, account_id: int) -> StaleState:
        """Why a conditional update of one row matched nothing: NotFound (raised) or the row's real state."""
        row = conn.execute(
            select(table.c.status, table.c.version).where(table.c.id == entity_id, table.c.account_id == account_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"{entity.capitalize()} {entity_id} does not exist.")
        return StaleState(entity, entity_id, row.status, row.version)

    @staticmethod
    def _lock_account(conn: Connection, account_id: int) -> Row[Any]:
        row = conn.execute(select(accounts).where(accounts.c.id == account_id).with_for_update()).one_or_none()
        if row is None:
            raise NotFound(f"Account {account_id} does not exist.")
        return row

    def _now(self) -> datetime:
        return self._clock.now()

    # ------------------------------------------------------------------------------------------- accounts

    def create_account(self, name: str, *, buy_count: int = 0, hosting: bool = False) -> Account:
        if buy_count < 0:
            raise ValueError("buy_count cannot be negative.")
        values = {"name": name, "buy_count": buy_count, "use_count": 0, "hosting": hosting, "created_at": self._now()}
        with self._connection(write=True) as conn:
            result = self._insert_unique(conn, insert(accounts).values(values), f"An account named '{name}' exists.")
            return Account(id=result.inserted_primary_key[0], **values)

    def get_account(self, account_id: int) -> Account:
        with self._connection(write=False) as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).one_or_none()
        if row is None:
            raise NotFound(f"Account {account_id} does not exist.")
        return _account(row)

    def find_account(self, name: str) -> Account:
        with self._connection(write=False) as conn:
            row = conn.execute(select(accounts).where(accounts.c.name == name)).one_or_none()
        if row is None:
            raise NotFound(f"There is no account named '{name}'.")
        return _account(row)

    def list_accounts(self) -> list[Account]:
        with self._connection(write=False) as conn:
            return [_account(row) for row in conn.execute(select(accounts).order_by(accounts.c.id))]

    def set_hosting(self, account_id: int, enabled: bool) -> Account:
        with self._connection(write=True) as conn:
            conn.execute(update(accounts).where(accounts.c.id == account_id).values(hosting=enabled))
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).one_or_none()
        if row is None:
            raise NotFound(f"Account {account_id} does not exist.")
        return _account(row)

    def add_access_key(self, account_id: int, access_key_id: str, secret: str) -> AccessKey:
        sealed = self._cipher.seal(secret, _access_key_context(access_key_id))
        with self._connection(write=True) as conn:
            if conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
                raise NotFound(f"Account {account_id} does not exist.")
            statement = insert(access_keys).values(
                account_id=account_id, access_key_id=access_key_id, secret_sealed=sealed, created_at=self._now()
            )
            self._insert_unique(conn, statement, f"AccessKeyId '{access_key_id}' is taken.")
        return AccessKey(access_key_id=access_key_id, account_id=account_id, secret=secret)

    def find_access_key(self, access_key_id: str) -> AccessKey:
        with self._connection(write=False) as conn:
            row = conn.execute(
                select(access_keys.c.account_id, access_keys.c.secret_sealed).where(
                    access_keys.c.access_key_id == access_key_id
                )
            ).one_or_none()
        if row is None:
            raise NotFound(f"AccessKeyId '{access_key_id}' does not exist.")
        secret = self._cipher.open(row.secret_sealed, _access_key_context(access_key_id))
        return AccessKey(access_key_id=access_key_id, account_id=row.account_id, secret=secret)

    # ------------------------------------------------------------------------------------------- quota

    def add_quota(self, account_id: int, units: int) -> QuotaBalance:
        with self._connection(write=True) as conn:
            row = self._lock_account(conn, account_id)
            buy_count = row.buy_count + units
            if buy_count < 0:
                raise ValueError(f"Account {account_id} has bought {row.buy_count} units; cannot take {-units} back.")
            conn.execute(update(accounts).where(accounts.c.id == account_id).values(buy_count=buy_count))
            return QuotaBalance(buy_count=buy_count, use_count=row.use_count)

    def quota(self, account_id: int) -> QuotaBalance:
        account = self.get_account(account_id)
        return QuotaBalance(buy_count=account.buy_count, use_count=account.use_count)

    @staticmethod
    def _ledger_keys(conn: Connection, worker_ids: Sequence[int]) -> set[tuple[int, LedgerDirection]]:
        keys: set[tuple[int, LedgerDirection]] = set()
        for chunk in _chunks(sorted(set(worker_ids))):
            rows = conn.execute(
                select(quota_ledger.c.worker_id, quota_ledger.c.direction).where(quota_ledger.c.worker_id.in_(chunk))
            )
            keys.update((row.worker_id, LedgerDirection(row.direction)) for row in rows)
        return keys

    def _apply_ledger(self, conn: Connection, account_id: int, new: Sequence[LedgerEntry], delta: int) -> None:
        now = self._now()
        rows = [
            {
                "account_id": entry.account_id,
                "job_id": entry.job_id,
                "worker_id": entry.worker_id,
                "kind": str(entry.kind),
                "direction": str(entry.direction),
                "units": entry.units,
                "created_at": now,
            }
            for entry in new
        ]
        conn.execute(insert(quota_ledger), rows)
        conn.execute(update(accounts).where(accounts.c.id == account_id).values(use_count=accounts.c.use_count + delta))

    @staticmethod
    def _check_entries(account_id: int, entries: Sequence[LedgerEntry], direction: LedgerDirection) -> None:
        for entry in entries:
            if entry.account_id != account_id or entry.direction is not direction:
                raise ValueError(f"Expected {direction} entries of account {account_id}, got {entry!r}.")

    def charge_quota(self, account_id: int, entries: Sequence[LedgerEntry]) -> int:
        self._check_entries(account_id, entries, LedgerDirection.DEBIT)
        with self._connection(write=True) as conn:
            account = self._lock_account(conn, account_id)
            if not entries:
                return 0
            existing = self._ledger_keys(conn, [entry.worker_id for entry in entries])
            new = list({entry.key: entry for entry in entries if entry.key not in existing}.values())
            cost = sum(entry.units for entry in new)
            available = account.buy_count - account.use_count
            if cost > available:
                raise QuotaExceeded(
                    f"The job needs {cost} deployment quota units but only {max(available, 0)} of "
                    f"{account.buy_count} are left."
                )
            if new:
                self._apply_ledger(conn, account_id, new, cost)
            return cost

    def credit_quota(self, account_id: int, entries: Sequence[LedgerEntry]) -> int:
        self._check_entries(account_id, entries, LedgerDirection.CREDIT)
        with self._connection(write=True) as conn:
            self._lock_account(conn, account_id)
            if not entries:
                return 0
            existing = self._ledger_keys(conn, [entry.worker_id for entry in entries])
            held = {
                entry.key: entry
                for entry in entries
                if (entry.worker_id, LedgerDirection.DEBIT) in existing and entry.key not in existing
            }
            given_back = sum(entry.units for entry in held.values())
            if held:
                self._apply_ledger(conn, account_id, list(held.values()), -given_back)
            return given_back

    def ledger_entries(self, account_id: int, *, job_id: int | None = None) -> list[LedgerEntry]:
        query = select(quota_ledger).where(quota_ledger.c.account_id == account_id)
        if job_id is not None:
            query = query.where(quota_ledger.c.job_id == job_id)
        with self._connection(write=False) as conn:
            return [_ledger_entry(row) for row in conn.execute(query.order_by(quota_ledger.c.id))]

    # ------------------------------------------------------------------------------------------- certificates

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
        if encryption_pair is not None and private_key_pem is None:
            raise ValueError("An encryption pair is kept only beside a signing certificate and its key.")
        # Built first so the model's limits (name length, …) hold before anything is written, on every database.
        cert = Certificate(
            id=0,
            account_id=account_id,
            name=name,
            origin=origin,
            cert_pem=cert_pem,
            created_at=self._now(),
            cas_cert_id=cas_cert_id,
            tags=tuple(tags),
            **dict(info),
        )
        values = {
            **cert.model_dump(exclude={"id"}),
            "origin": str(origin),
            "algorithm": str(info.algorithm),
            "private_key_sealed": self._sealed_private_key(account_id, info, private_key_pem),
            "encrypt_cert_pem": None if encryption_pair is None else encryption_pair.cert_pem,
            "encrypt_private_key_sealed": self._sealed_encryption_key(account_id, info, encryption_pair),
        }
        conflict = f"A certificate named '{name}' exists." + (
            "" if cas_cert_id is None else f" (or one mirroring CAS certificate {cas_cert_id})"
        )
        with self._connection(write=True) as conn:
            if conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
                raise NotFound(f"Account {account_id} does not exist.")
            result = self._insert_unique(conn, insert(certificates).values(values), conflict)
        return cert.model_copy(update={"id": result.inserted_primary_key[0]})

    def _sealed_private_key(self, account_id: int, info: CertificateInfo, private_key_pem: str | None) -> bytes | None:
        if private_key_pem is None:
            return None
        return self._cipher.seal(private_key_pem, _private_key_context(account_id, info.fingerprint_sha256))

    def _sealed_encryption_key(
        self, account_id: int, info: CertificateInfo, encryption_pair: EncryptionPair | None
    ) -> bytes | None:
        if encryption_pair is None:
            return None
        context = _encrypt_private_key_context(account_id, info.fingerprint_sha256)
        return self._cipher.seal(encryption_pair.private_key_pem, context)

    def get_certificates_by_cas_id(self, account_id: int, cas_cert_ids: Collection[int]) -> list[Certificate]:
        found: list[Certificate] = []
        with self._connection(write=False) as conn:
            for chunk in _chunks(sorted(set(cas_cert_ids))):
                query = select(certificates).where(
                    certificates.c.account_id == account_id, certificates.c.cas_cert_id.in_(chunk)
                )
                found.extend(_certificate(row) for row in conn.execute(query))
        return sorted(found, key=lambda cert: cert.id)

    def fill_certificate_content(
        self, account_id: int, cert_id: int, *, info: CertificateInfo, cert_pem: str, private_key_pem: str | None
    ) -> Certificate:
        if not cert_pem:
            raise ValueError("A certificate's content cannot be empty.")
        # The key is sealed under the fingerprint written with it, so it opens with the row's new fingerprint.
        values = {
            **info.model_dump(),
            "algorithm": str(info.algorithm),
            "cert_pem": cert_pem,
            "private_key_sealed": self._sealed_private_key(account_id, info, private_key_pem),
        }
        mine = (certificates.c.id == cert_id, certificates.c.account_id == account_id)
        with self._connection(write=True) as conn:
            conn.execute(update(certificates).where(*mine, certificates.c.cert_pem == "").values(values))
            row = conn.execute(select(certificates).where(*mine)).one_or_none()
        if row is None:
            raise NotFound(f"Certificate {cert_id} does not exist.")
        return _certificate(row)

    def get_certificate(self, account_id: int, cert_id: int) -> Certificate:
        with self._connection(write=False) as conn:
            row = conn.execute(
                select(certificates).where(certificates.c.id == cert_id, certificates.c.account_id == account_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"Certificate {cert_id} does not exist.")
        return _certificate(row)

    def get_certificates(self, account_id: int, cert_ids: Collection[int]) -> list[Certificate]:
        found: list[Certificate] = []
        with self._connection(write=False) as conn:
            for chunk in _chunks(sorted(set(cert_ids))):
                query = select(certificates).where(
                    certificates.c.account_id == account_id, certificates.c.id.in_(chunk)
                )
                found.extend(_certificate(row) for row in conn.execute(query))
        return sorted(found, key=lambda cert: cert.id)

    def list_certificates(
        self,
        account_id: int,
        *,
        origin: CertOrigin | None = None,
        keyword: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> Page[Certificate]:
        query = select(certificates).where(certificates.c.account_id == account_id)
        if origin is not None:
            query = query.where(certificates.c.origin == str(origin))
        if keyword:
            query = query.where(
                or_(
                    certificates.c.name.icontains(keyword, autoescape=True),
                    type_coerce(certificates.c.names, Text).icontains(keyword, autoescape=True),
                )
            )
        with self._connection(write=False) as conn:
            total, rows = self._page(conn, query, [certificates.c.id.desc()], page, page_size)
        return Page(items=[_certificate(row) for row in rows], total=total)

    def get_private_key(self, account_id: int, cert_id: int) -> str | None:
        with self._connection(write=False) as conn:
            row = conn.execute(
                select(certificates.c.private_key_sealed, certificates.c.fingerprint_sha256).where(
                    certificates.c.id == cert_id, certificates.c.account_id == account_id
                )
            ).one_or_none()
        if row is None:
            raise NotFound(f"Certificate {cert_id} does not exist.")
        if row.private_key_sealed is None:
            return None
        return self._cipher.open(row.private_key_sealed, _private_key_context(account_id, row.fingerprint_sha256))

    def get_encryption_pair(self, account_id: int, cert_id: int) -> EncryptionPair | None:
        columns = (certificates.c.encrypt_cert_pem, certificates.c.encrypt_private_key_sealed)
        query = select(*columns, certificates.c.fingerprint_sha256).where(
            certificates.c.id == cert_id, certificates.c.account_id == account_id
        )
        with self._connection(write=False) as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"Certificate {cert_id} does not exist.")
        if row.encrypt_cert_pem is None:
            return None
        context = _encrypt_private_key_context(account_id, row.fingerprint_sha256)
        return EncryptionPair(
            cert_pem=row.encrypt_cert_pem, private_key_pem=self._cipher.open(row.encrypt_private_key_sealed, context)
        )

    def delete_certificate(self, account_id: int, cert_id: int) -> None:
        with self._connection(write=True) as conn:
            result = conn.execute(
                delete(certificates).where(certificates.c.id == cert_id, certificates.c.account_id == account_id)
            )
        if result.rowcount == 0:
            raise NotFound(f"Certificate {cert_id} does not exist.")

    # ------------------------------------------------------------------------------------------- contacts

    def add_contact(
        self,
        account_id: int,
        *,
        name: str,
        email: str | None = None,
        mobile: str | None = None,
        webhooks: Sequence[str] = (),
    ) -> Contact:
        contact = Contact(id=0, account_id=account_id, name=name, email=email, mobile=mobile, webhooks=tuple(webhooks))
        statement = insert(contacts).values(account_id=account_id, **_contact_values(contact))
        with self._connection(write=True) as conn:
            if conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
                raise NotFound(f"Account {account_id} does not exist.")
            result = self._write_contact(conn, statement, contact)
        return contact.model_copy(update={"id": result.inserted_primary_key[0]})

    @staticmethod
    def _write_contact(conn: Connection, statement: Executable, contact: Contact) -> CursorResult[Any]:
        """Insert or update a contact; an email or mobile another contact of the account holds raises `ContactTaken`.

        The unique keys decide, so two writers racing for one value cannot both win. At READ COMMITTED the statement
        after the violation sees the holder, which committed first; should the holder have let the value go meanwhile,
        the write is simply tried again.
        """
        for attempt in range(1, _CONTACT_WRITE_ATTEMPTS + 1):
            try:
                with conn.begin_nested():
                    return conn.execute(statement)
            except IntegrityError as exc:
                taken = _contact_holding(conn, contact)
                if taken is not None:
                    raise taken from exc
                if attempt == _CONTACT_WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def get_contact(self, account_id: int, contact_id: int) -> Contact:
        with self._connection(write=False) as conn:
            row = conn.execute(
                select(contacts).where(contacts.c.id == contact_id, contacts.c.account_id == account_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"Contact {contact_id} does not exist.")
        return _contact(row)

    def get_contacts(self, account_id: int, contact_ids: Collection[int]) -> list[Contact]:
        found: list[Contact] = []
        with self._connection(write=False) as conn:
            for chunk in _chunks(sorted(set(contact_ids))):
                query = select(contacts).where(contacts.c.account_id == account_id, contacts.c.id.in_(chunk))
                found.extend(_contact(row) for row in conn.execute(query))
        return sorted(found, key=lambda contact: contact.id)

    def update_contact(self, contact: Contact) -> Contact:
        statement = (
            update(contacts)
            .where(contacts.c.id == contact.id, contacts.c.account_id == contact.account_id)
            .values(**_contact_values(contact))
        )
        with self._connection(write=True) as conn:
            result = self._write_contact(conn, statement, contact)
        if result.rowcount == 0:
            raise NotFound(f"Contact {contact.id} does not exist.")
        return contact

    def delete_contact(self, account_id: int, contact_id: int) -> None:
        with self._connection(write=True) as conn:
            result = conn.execute(
                delete(contacts).where(contacts.c.id == contact_id, contacts.c.account_id == account_id)
            )
        if result.rowcount == 0:
            raise NotFound(f"Contact {contact_id} does not exist.")

    def list_contacts(
        self, account_id: int, *, keyword: str | None = None, page: int = 1, page_size: int = 20
    ) -> Page[Contact]:
        query = select(contacts).where(contacts.c.account_id == account_id)
        if keyword:
            query = query.where(
                or_(
                    *(
                        column.icontains(keyword, autoescape=True)
                        for column in (contacts.c.name, contacts.c.email, contacts.c.mobile)
                    )
                )
            )
        with self._connection(write=False) as conn:
            total, rows = self._page(conn, query, [contacts.c.id], page, page_size)
        return Page(items=[_contact(row) for row in rows], total=total)

    # ------------------------------------------------------------------------------------------- resources

    def upsert_resources(self, account_id: int, specs: Sequence[ResourceSpec]) -> list[int]:
        latest = {_resource_key(spec): spec for spec in specs}
        products = sorted({str(spec.product) for spec in specs})
        now = self._now()
        with self._connection(write=True) as conn:
            # The account row lock serialises upserts of one account, so two syncs never insert the same key.
            self._lock_account(conn, account_id)
            if not specs:
                return []
            key_columns = (resources.c.product, resources.c.region, resources.c.instance_id, resources.c.domain)
            known_query = select(resources.c.id, *key_columns, resources.c.port, *self._refreshed_columns()).where(
                resources.c.account_id == account_id, resources.c.product.in_(products)
            )
            known = {_row_resource_key(row): row for row in conn.execute(known_query)}
            inserts = [
                {**self._refreshed_values(spec), **self._key_values(account_id, key), "created_at": now}
                for key, spec in latest.items()
                if key not in known
            ]
            updates = [
                {"b_id": known[key].id, **{f"b_{k}": v for k, v in self._refreshed_values(spec).items()}}
                for key, spec in latest.items()
                if key in known and self._refreshed_values(spec) != self._refreshed_values_of(known[key])
            ]
            if inserts:
                conn.execute(insert(resources), [{**row, "modified_at": now} for row in inserts])
            if updates:
                refreshed = {name: bindparam(f"b_{name}") for name in self._refreshed_values(specs[0])}
                conn.execute(
                    update(resources).where(resources.c.id == bindparam("b_id")).values(**refreshed, modified_at=now),
                    updates,
                )
            ids = {
                _row_resource_key(row): row.id
                for row in conn.execute(
                    select(resources.c.id, *key_columns, resources.c.port).where(
                        resources.c.account_id == account_id, resources.c.product.in_(products)
                    )
                )
            }
        return [ids[_resource_key(spec)] for spec in specs]

    @staticmethod
    def _key_values(account_id: int, key: _ResourceKey) -> dict[str, Any]:
        product, region, instance_id, domain, port = key
        return {
            "account_id": account_id,
            "product": product,
            "region": region,
            "instance_id": instance_id,
            "domain": domain,
            "port": port,
        }

    @staticmethod
    def _refreshed_columns() -> list[Any]:
        return [
            resources.c.listener_id,
            resources.c.https_enabled,
            resources.c.bound_cert_id,
            resources.c.bound_cert_name,
            resources.c.gone,
        ]

    @staticmethod
    def _refreshed_values(spec: ResourceSpec) -> dict[str, Any]:
        return {
            "listener_id": spec.listener_id,
            "https_enabled": spec.https_enabled,
            "bound_cert_id": spec.bound_cert_id,
            "bound_cert_name": spec.bound_cert_name,
            "gone": False,
        }

    @staticmethod
    def _refreshed_values_of(row: Row[Any]) -> dict[str, Any]:
        return {
            "listener_id": row.listener_id,
            "https_enabled": bool(row.https_enabled),
            "bound_cert_id": row.bound_cert_id,
            "bound_cert_name": row.bound_cert_name,
            "gone": bool(row.gone),
        }

    def get_resources(self, account_id: int, resource_ids: Collection[int]) -> list[Resource]:
        found: list[Resource] = []
        with self._connection(write=False) as conn:
            for chunk in _chunks(sorted(set(resource_ids))):
                query = select(resources).where(resources.c.account_id == account_id, resources.c.id.in_(chunk))
                found.extend(_resource(row) for row in conn.execute(query))
        return sorted(found, key=lambda resource: resource.id)

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
        query = select(resources).where(resources.c.account_id == account_id)
        if product is not None:
            query = query.where(resources.c.product == str(product))
        if keyword:
            query = query.where(
                or_(
                    resources.c.domain.icontains(keyword, autoescape=True),
                    resources.c.instance_id.icontains(keyword, autoescape=True),
                )
            )
        if resource_ids is not None:
            query = query.where(resources.c.id.in_(sorted(set(resource_ids))))
        if not include_gone:
            query = query.where(resources.c.gone.is_(False))
        with self._connection(write=False) as conn:
            total, rows = self._page(conn, query, [resources.c.id], page, page_size)
        return Page(items=[_resource(row) for row in rows], total=total)

    def resources_for_names(self, account_id: int, names: Collection[str]) -> list[Resource]:
        exact = sorted(set(names))
        wildcard_bases = frozenset(name[2:] for name in exact if name.startswith("*."))
        live = select(resources).where(resources.c.account_id == account_id, resources.c.gone.is_(False))
        # Never one SQL expression per name over all names: SQLite refuses an expression tree deeper than 1000, and a
        # certificate may hold 10,000 names (README "Limits"). Exact names go by the domain index, a batch at a time.
        queries = [live.where(resources.c.domain.in_(chunk)) for chunk in _chunks(exact)]
        if wildcard_bases:
            # A few wildcards narrow the scan in SQL; more are looked up in a set as the account's domains stream by.
            narrowed = len(wildcard_bases) <= _WILDCARD_BASES_PER_QUERY
            suffixes = (resources.c.domain.endswith("." + base, autoescape=True) for base in sorted(wildcard_bases))
            queries.append(live.where(or_(*suffixes)) if narrowed else live)
        found: dict[int, Row[Any]] = {}
        exact_names = set(exact)
        with self._connection(write=False) as conn:
            for query in queries:
                for row in conn.execute(query):
                    if row.domain in exact_names or _wildcard_base(row.domain) in wildcard_bases:
                        found[row.id] = row
        return [_resource(found[resource_id]) for resource_id in sorted(found)]

    def set_resource_binding(
        self, account_id: int, resource_id: int, cert_id: int | None, cert_name: str | None
    ) -> Resource:
        with self._connection(write=True) as conn:
            conn.execute(
                update(resources)
                .where(resources.c.id == resource_id, resources.c.account_id == account_id)
                .values(bound_cert_id=cert_id, bound_cert_name=cert_name, modified_at=self._now())
            )
            row = conn.execute(
                select(resources).where(resources.c.id == resource_id, resources.c.account_id == account_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"Resource {resource_id} does not exist.")
        return _resource(row)

    def set_resources_gone(self, account_id: int, resource_ids: Collection[int], gone: bool = True) -> int:
        changed = 0
        with self._connection(write=True) as conn:
            for chunk in _chunks(sorted(set(resource_ids))):
                result = conn.execute(
                    update(resources)
                    .where(resources.c.account_id == account_id, resources.c.id.in_(chunk), resources.c.gone != gone)
                    .values(gone=gone, modified_at=self._now())
                )
                changed += result.rowcount
        return changed

    # ------------------------------------------------------------------------------------------- jobs

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
        now = self._now()
        job = Job(
            id=0,
            account_id=account_id,
            name=name,
            job_type=job_type,
            cert_origin=cert_origin,
            cert_ids=tuple(cert_ids),
            resource_ids=tuple(resource_ids),
            contact_ids=tuple(contact_ids),
            schedule_time=schedule_time,
            created_at=now,
            modified_at=now,
        )
        with self._connection(write=True) as conn:
            if conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
                raise NotFound(f"Account {account_id} does not exist.")
            values = {**job.model_dump(exclude={"id"}), "job_type": str(job_type), "status": str(job.status)}
            values["cert_origin"] = str(cert_origin)
            result = conn.execute(insert(jobs).values(values))
            row = conn.execute(select(jobs).where(jobs.c.id == result.inserted_primary_key[0])).one()
        return _job(row)

    def get_job(self, account_id: int, job_id: int) -> Job:
        with self._connection(write=False) as conn:
            return _job(self._job_row(conn, account_id, job_id))

    @staticmethod
    def _job_row(conn: Connection, account_id: int, job_id: int, *, for_update: bool = False) -> Row[Any]:
        query = select(jobs).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
        row = conn.execute(query.with_for_update() if for_update else query).one_or_none()
        if row is None:
            raise NotFound(f"Job {job_id} does not exist.")
        return row

    def list_jobs(
        self,
        account_id: int,
        *,
        status: JobStatus | None = None,
        job_type: JobType | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> Page[Job]:
        query = select(jobs).where(jobs.c.account_id == account_id)
        if status is not None:
            query = query.where(jobs.c.status == str(status))
        if job_type is not None:
            query = query.where(jobs.c.job_type == str(job_type))
        with self._connection(write=False) as conn:
            total, rows = self._page(conn, query, [jobs.c.id.desc()], page, page_size)
        return Page(items=[_job(row) for row in rows], total=total)

    def update_job(self, job: Job) -> Job:
        with self._connection(write=True) as conn:
            result = conn.execute(
                update(jobs)
                .where(
                    jobs.c.id == job.id,
                    jobs.c.account_id == job.account_id,
                    jobs.c.status == str(JobStatus.EDITING),
                    jobs.c.version == job.version,
                )
                .values(
                    name=job.name,
                    job_type=str(job.job_type),
                    cert_origin=str(job.cert_origin),
                    cert_ids=list(job.cert_ids),
                    resource_ids=list(job.resource_ids),
                    contact_ids=list(job.contact_ids),
                    schedule_time=job.schedule_time,
                    version=jobs.c.version + 1,
                    modified_at=self._now(),
                )
            )
            if result.rowcount == 0:
                raise self._stale(conn, jobs, "job", job.id, job.account_id)
            return _job(self._job_row(conn, job.account_id, job.id))

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
        if expected is not to:
            check_job_transition(expected, to)
        changes: dict[str, Any] = {"status": str(to), "version": jobs.c.version + 1, "modified_at": self._now()}
        optional = {"start_time": start_time, "end_time": end_time, "rolled_back": rolled_back}
        changes.update({column: value for column, value in optional.items() if value is not None})
        conditions = [jobs.c.id == job_id, jobs.c.account_id == account_id, jobs.c.status == str(expected)]
        if expected_version is not None:
            conditions.append(jobs.c.version == expected_version)
        with self._connection(write=True) as conn:
            result = conn.execute(update(jobs).where(*conditions).values(changes))
            if result.rowcount == 0:
                raise self._stale(conn, jobs, "job", job_id, account_id)
            return _job(self._job_row(conn, account_id, job_id))

    def delete_job(self, account_id: int, job_id: int, *, expected_version: int | None = None) -> Job:
        with self._connection(write=True) as conn:
            row = self._job_row(conn, account_id, job_id, for_update=True)
            if expected_version is not None and row.version != expected_version:
                raise StaleState("job", job_id, row.status, row.version)
            if JobStatus(row.status) not in JOB_DELETABLE:
                raise InvalidStatus(f"A job in status '{row.status}' cannot be deleted.")
            rollback_running = conn.execute(
                select(
                    exists().where(
                        workers.c.job_id == job_id, workers.c.status.in_([str(s) for s in WORKER_ROLLBACK_ACTIVE])
                    )
                )
            ).scalar_one()
            if rollback_running:
                raise InvalidStatus("A job cannot be deleted while a rollback in it runs.")
            conn.execute(delete(workers).where(workers.c.job_id == job_id))
            conn.execute(delete(jobs).where(jobs.c.id == job_id))
        return _job(row)

    def due_jobs(self, now: datetime, limit: int = 100) -> list[Job]:
        query = (
            select(jobs)
            .where(
                jobs.c.status == str(JobStatus.PENDING),
                or_(jobs.c.schedule_time.is_(None), jobs.c.schedule_time <= now),
            )
            .order_by(func.coalesce(jobs.c.schedule_time, jobs.c.created_at), jobs.c.id)
            .limit(limit)
        )
        with self._connection(write=False) as conn:
            return [_job(row) for row in conn.execute(query)]

    # ------------------------------------------------------------------------------------------- workers

    def create_workers(self, account_id: int, job_id: int, specs: Sequence[WorkerSpec]) -> list[Worker]:
        with self._connection(write=True) as conn:
            self._job_row(conn, account_id, job_id)
            return self._insert_workers(conn, account_id, job_id, specs)

    def _insert_workers(
        self, conn: Connection, account_id: int, job_id: int, specs: Sequence[WorkerSpec]
    ) -> list[Worker]:
        if not specs:
            return []
        now = self._now()
        rows = [
            {
                "job_id": job_id,
                "account_id": account_id,
                "cert_id": spec.cert_id,
                "resource_id": spec.resource_id,
                "product": str(spec.product),
                "status": str(WorkerStatus.EDITING),
                "attempt": 0,
                "version": 0,
                "created_at": now,
                "modified_at": now,
            }
            for spec in specs
        ]
        self._insert_unique(conn, insert(workers), f"A resource has two workers in job {job_id}.", rows)
        by_resource = {row.resource_id: row for row in conn.execute(select(workers).where(workers.c.job_id == job_id))}
        return [_worker(by_resource[spec.resource_id]) for spec in specs]

    def replace_workers(self, account_id: int, job_id: int, specs: Sequence[WorkerSpec]) -> list[Worker]:
        with self._connection(write=True) as conn:
            self._job_row(conn, account_id, job_id, for_update=True)
            started = conn.execute(
                select(exists().where(workers.c.job_id == job_id, workers.c.status != str(WorkerStatus.EDITING)))
            ).scalar_one()
            if started:
                raise InvalidStatus(f"Job {job_id} has workers that left 'editing'; they cannot be replaced.")
            conn.execute(delete(workers).where(workers.c.job_id == job_id))
            return self._insert_workers(conn, account_id, job_id, specs)

    def get_worker(self, account_id: int, worker_id: int) -> Worker:
        with self._connection(write=False) as conn:
            row = conn.execute(
                select(workers).where(workers.c.id == worker_id, workers.c.account_id == account_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"Worker {worker_id} does not exist.")
        return _worker(row)

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
        query = select(workers).where(workers.c.account_id == account_id, workers.c.job_id == job_id)
        if status is not None:
            query = query.where(workers.c.status == str(status))
        if product is not None:
            query = query.where(workers.c.product == str(product))
        with self._connection(write=False) as conn:
            self._job_row(conn, account_id, job_id)
            total, rows = self._page(conn, query, [workers.c.id], page, page_size)
        return Page(items=[_worker(row) for row in rows], total=total)

    def worker_counts(self, account_id: int, job_id: int) -> dict[tuple[Product, WorkerStatus], int]:
        query = (
            select(workers.c.product, workers.c.status, func.count())
            .where(workers.c.account_id == account_id, workers.c.job_id == job_id)
            .group_by(workers.c.product, workers.c.status)
        )
        with self._connection(write=False) as conn:
            self._job_row(conn, account_id, job_id)
            return {(Product(product), WorkerStatus(status)): count for product, status, count in conn.execute(query)}

    def job_workers(self, account_id: int, job_id: int) -> list[Worker]:
        with self._connection(write=False) as conn:
            self._job_row(conn, account_id, job_id)
            rows = conn.execute(
                select(workers)
                .where(workers.c.account_id == account_id, workers.c.job_id == job_id)
                .order_by(workers.c.id)
            )
            return [_worker(row) for row in rows]

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
        if expected is not to:
            check_worker_transition(expected, to)
        changes: dict[str, Any] = {"status": str(to), "version": workers.c.version + 1, "modified_at": self._now()}
        optional = {
            "resource_cert_id": resource_cert_id,
            "resource_cert_name": resource_cert_name,
            "resource_domain": resource_domain,
            "resource_binding": resource_binding,
            "error_code": error_code,
            "error_message": error_message,
            "attempt": attempt,
        }
        changes.update({column: value for column, value in optional.items() if value is not None})
        conditions = [workers.c.id == worker_id, workers.c.account_id == account_id, workers.c.status == str(expected)]
        if expected_version is not None:
            conditions.append(workers.c.version == expected_version)
        with self._connection(write=True) as conn:
            result = conn.execute(update(workers).where(*conditions).values(changes))
            if result.rowcount == 0:
                raise self._stale(conn, workers, "worker", worker_id, account_id)
            row = conn.execute(select(workers).where(workers.c.id == worker_id)).one()
        return _worker(row)

    def transition_workers(self, account_id: int, job_id: int, *, expected: WorkerStatus, to: WorkerStatus) -> int:
        check_worker_transition(expected, to)
        with self._connection(write=True) as conn:
            result = conn.execute(
                update(workers)
                .where(
                    workers.c.account_id == account_id, workers.c.job_id == job_id, workers.c.status == str(expected)
                )
                .values(status=str(to), version=workers.c.version + 1, modified_at=self._now())
            )
        return result.rowcount

    def stuck_workers(
        self, statuses: Collection[WorkerStatus], modified_before: datetime, limit: int = 100
    ) -> list[Worker]:
        query = (
            select(workers)
            .where(workers.c.status.in_([str(s) for s in statuses]), workers.c.modified_at < modified_before)
            .order_by(workers.c.modified_at, workers.c.id)
            .limit(limit)
        )
        with self._connection(write=False) as conn:
            return [_worker(row) for row in conn.execute(query)]

    # ------------------------------------------------------------------------------------------- outbox

    def add_outbox(self, messages: Sequence[OutboxMessage]) -> list[int]:
        now = self._now()
        rows = []
        for message in messages:
            _check_key(message.key, "message key")
            rows.append(
                {
                    "queue": message.queue,
                    "body": message.body,
                    "message_key": message.key,
                    "delay_seconds": message.delay_seconds,
                    "created_at": now,
                }
            )
        if not rows:
            return []
        with self._connection(write=True) as conn:
            if conn.dialect.insert_executemany_returning_sort_by_parameter_order:
                statement = insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True)
                return list(conn.execute(statement, rows).scalars())
            # MySQL has no INSERT ... RETURNING: one row at a time gives each id.
            return [conn.execute(insert(outbox).values(row)).inserted_primary_key[0] for row in rows]

    def pending_outbox(self, limit: int = 100, *, created_before: datetime | None = None) -> list[OutboxRecord]:
        query = select(outbox).where(outbox.c.sent_at.is_(None))
        if created_before is not None:
            query = query.where(outbox.c.created_at < created_before)
        with self._connection(write=False) as conn:
            return [_outbox_record(row) for row in conn.execute(query.order_by(outbox.c.id).limit(limit))]

    def unsent_outbox(self, ids: Collection[int]) -> list[OutboxRecord]:
        records: list[OutboxRecord] = []
        with self._connection(write=False) as conn:
            for chunk in _chunks(sorted(set(ids))):
                query = select(outbox).where(outbox.c.id.in_(chunk), outbox.c.sent_at.is_(None)).order_by(outbox.c.id)
                records += [_outbox_record(row) for row in conn.execute(query)]
        return records

    def mark_outbox_sent(self, ids: Collection[int]) -> None:
        now = self._now()
        with self._connection(write=True) as conn:
            for chunk in _chunks(sorted(set(ids))):
                conn.execute(
                    update(outbox).where(outbox.c.id.in_(chunk), outbox.c.sent_at.is_(None)).values(sent_at=now)
                )

    def delete_sent_outbox(self, sent_before: datetime) -> int:
        with self._connection(write=True) as conn:
            result = conn.execute(delete(outbox).where(outbox.c.sent_at < sent_before))
        return result.rowcount

    # ------------------------------------------------------------------------------------------- idempotency

    def mark_processed(self, key: str) -> bool:
        _check_key(key, "message key")
        statement = insert(processed_messages).values(message_key=key, processed_at=self._now())
        with self._connection(write=True) as conn:
            return self._insert_if_absent(conn, statement)

    def forget_processed(self, processed_before: datetime) -> int:
        with self._connection(write=True) as conn:
            result = conn.execute(
                delete(processed_messages).where(processed_messages.c.processed_at < processed_before)
            )
        return result.rowcount

    def record_notification(self, account_id: int, event_key: str, contact_id: int, channel: str) -> bool:
        _check_key(event_key, "notification event key")
        statement = insert(notifications_sent).values(
            account_id=account_id, event_key=event_key, contact_id=contact_id, channel=channel, sent_at=self._now()
        )
        with self._connection(write=True) as conn:
            return self._insert_if_absent(conn, statement)

    def sent_notifications(self, account_id: int, event_key: str) -> set[str]:
        query = select(notifications_sent.c.channel).where(
            notifications_sent.c.account_id == account_id, notifications_sent.c.event_key == event_key
        )
        with self._connection(write=False) as conn:
            return set(conn.execute(query).scalars())


class SqlTransaction(_Operations):
    """The store's operations on one open transaction (see `SqlStore.transaction`)."""

    def __init__(self, connection: Connection, cipher: KeyCipher, clock: Clock) -> None:
        super().__init__(cipher, clock)
        self._conn = connection

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[Connection]:
        yield self._conn


class SqlStore(_Operations):
    """The `Store` port on a SQLAlchemy engine. The schema comes from `certdeploy.adapters.sql.migrate.upgrade`."""

    def __init__(self, engine: Engine, *, key_encryption_key: str | bytes, clock: Clock) -> None:
        super().__init__(KeyCipher(key_encryption_key), clock)
        self.engine = engine

    @classmethod
    def from_url(cls, url: str | URL, *, key_encryption_key: str | bytes, clock: Clock) -> SqlStore:
        return cls(create_store_engine(url), key_encryption_key=key_encryption_key, clock=clock)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: write})
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise StoreUnavailable(f"The database failed: {exc.orig}") from exc

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """One transaction for several operations: use only the yielded object's methods inside the block."""
        with self._connection(write=True) as conn:
            yield SqlTransaction(conn, self._cipher, self._clock)
