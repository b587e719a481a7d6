"""Tables of the store, one definition for SQLite, PostgreSQL and MySQL/MariaDB.

Portability rules: ids are BIGINT (INTEGER on SQLite, with AUTOINCREMENT so an id is never reused: the ledger is keyed
by worker id); times are timezone-naive columns holding UTC (MySQL DATETIME has no zone) with microseconds; enums are
plain strings; PEM and JSON lists are TEXT (MEDIUMTEXT on MySQL, whose TEXT stops at 64 KB); indexed strings stay
short enough for InnoDB's 3072-byte index limit in utf8mb4; MySQL tables use the binary collation so uniqueness and
equality are case-sensitive as on the other two databases. Nullable columns take part in a unique key only where NULLs
must all be distinct (a certificate's `cas_cert_id`, a contact's email and mobile: unique when set); elsewhere "no
port" is stored as 0. Case-insensitive uniqueness compares a lower-cased copy the store writes (`email_lower`), the
same on every database whatever its collation.

The migrations under `migrations/versions` create exactly these tables; a contract test compares the two.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

MYSQL_DIALECTS = ("mysql", "mariadb")

Id = BigInteger().with_variant(Integer(), "sqlite")


def _mysql_type(dialect: Dialect, name: str, **arguments: Any) -> TypeEngine[Any]:
    """MySQL's own type `name`, imported only when a MySQL engine asks for it: the MySQL dialect is about a MiB and
    several ms of every cold start on the other databases (docs/runtime.md#cold-starts)."""
    from sqlalchemy.dialects import mysql

    return dialect.type_descriptor(getattr(mysql, name)(**arguments))


class LongText(TypeDecorator[str]):
    """TEXT; MEDIUMTEXT on MySQL, whose TEXT stops at 64 KB."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in MYSQL_DIALECTS:
            return _mysql_type(dialect, "MEDIUMTEXT")
        return dialect.type_descriptor(Text())


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; the column itself is naive and holds UTC."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in MYSQL_DIALECTS:
            return _mysql_type(dialect, "DATETIME", fsp=6)
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is timezone.utc:
            # What the store's clock gives: no conversion (a job's 10,000 new workers bind 20,000 of these).
            return value.replace(tzinfo=None)
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("The store only takes timezone-aware datetimes.")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class JsonList(TypeDecorator[list[Any]]):
    """A JSON array in a TEXT column (portable; no JSON operators are needed on it)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return LongText().load_dialect_impl(dialect)

    def process_bind_param(self, value: list[Any] | tuple[Any, ...] | None, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(list(value), separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> list[Any] | None:
        return None if value is None else list(json.loads(value))


class WorkerCounts(TypeDecorator[dict[tuple[str, str], int]]):
    """Counts per (product, status) as a small JSON object `{"product": {"status": count}}` in a TEXT column."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[tuple[str, str], int] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        nested: dict[str, dict[str, int]] = {}
        for (product, status), count in sorted(value.items()):
            if count:
                nested.setdefault(product, {})[status] = count
        return json.dumps(nested, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[tuple[str, str], int] | None:
        if value is None:
            return None
        return {
            (product, status): count
            for product, statuses in json.loads(value).items()
            for status, count in statuses.items()
        }


def table_options(*, autoincrement: bool = True) -> dict[str, Any]:
    """What the migrations create each table with, for SQLite; MySQL's engine, character set and binary collation are
    the migrations' alone (`migrations/versions`): these tables only build statements, and naming a `mysql_` option
    here would load the MySQL dialect on every engine to check it."""
    return {"sqlite_autoincrement": autoincrement}


metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("buy_count", BigInteger, nullable=False),
    Column("use_count", BigInteger, nullable=False),
    Column("hosting", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # When the scheduler last started syncing the account's resources from the inventory; NULL: never (due now).
    Column("resources_synced_at", UtcDateTime, nullable=True),
    UniqueConstraint("name", name="uq_accounts_name"),
    **table_options(),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", name="fk_access_keys_account"), nullable=False),
    Column("access_key_id", String(64), nullable=False),
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("access_key_id", name="uq_access_keys_access_key_id"),
    Index("ix_access_keys_account_id", "account_id"),
    **table_options(),
)

certificates = Table(
    "certificates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", name="fk_certificates_account"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("common_name", String(255), nullable=True),
    Column("sans", JsonList, nullable=False),
    Column("names", JsonList, nullable=False),
    Column("not_before", UtcDateTime, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),
    Column("serial", String(64), nullable=False),
    Column("fingerprint_sha256", String(64), nullable=False),
    Column("issuer", Text, nullable=False),
    Column("issuer_common_name", String(255), nullable=True),
    Column("algorithm", String(8), nullable=False),
    Column("chain_length", Integer, nullable=False),
    Column("cert_pem", LongText, nullable=False),
    Column("private_key_sealed", LargeBinary, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("cas_cert_id", BigInteger, nullable=True),
    # JSON [{"key": …, "value": …}] in upload order; tags are shown, never searched.
    Column("tags", JsonList, nullable=False),
    # The SM2 encryption pair, when uploaded beside the signing pair (`cert_pem`, `private_key_sealed`).
    Column("encrypt_cert_pem", LongText, nullable=True),
    Column("encrypt_private_key_sealed", LargeBinary, nullable=True),
    UniqueConstraint("account_id", "name", name="uq_certificates_account_name"),
    UniqueConstraint("account_id", "cas_cert_id", name="uq_certificates_account_cas_cert_id"),
    **table_options(),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", name="fk_contacts_account"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("email", String(254), nullable=True),
    Column("email_lower", String(254), nullable=True),
    Column("mobile", String(32), nullable=True),
    # JSON list of URLs sealed like private keys (their tokens and signing secrets are credentials); NULL: none.
    Column("webhooks_sealed", LargeBinary, nullable=True),
    UniqueConstraint("account_id", "email_lower", name="uq_contacts_account_email_lower"),
    UniqueConstraint("account_id", "mobile", name="uq_contacts_account_mobile"),
    **table_options(),
)

resources = Table(
    "resources",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", name="fk_resources_account"), nullable=False),
    Column("product", String(16), nullable=False),
    Column("region", String(64), nullable=False),
    Column("instance_id", String(128), nullable=False),
    Column("domain", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("listener_id", String(128), nullable=True),
    Column("namespace_id", String(128), nullable=True),
    # The resource's tags as sorted [key, value] pairs; NULL for rows written before tags were kept (no tags).
    Column("tags", JsonList, nullable=True),
    Column("https_enabled", Boolean, nullable=False),
    Column("bound_cert_id", BigInteger, nullable=True),
    Column("bound_cert_name", String(255), nullable=True),
    Column("gone", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("modified_at", UtcDateTime, nullable=False),
    UniqueConstraint(
        "account_id", "product", "region", "instance_id", "domain", "port", name="uq_resources_natural_key"
    ),
    Index("ix_resources_account_domain", "account_id", "domain"),
    # Pages of ListCloudResources, all products or one (docs/decisions.md#indexed-reads).
    Index("ix_resources_account_gone_id", "account_id", "gone", "id"),
    Index("ix_resources_account_product_gone_id", "account_id", "product", "gone", "id"),
    **table_options(),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", name="fk_jobs_account"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("job_type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cert_origin", String(16), nullable=False),
    Column("cert_ids", JsonList, nullable=False),
    Column("resource_ids", JsonList, nullable=False),
    Column("contact_ids", JsonList, nullable=False),
    Column("schedule_time", UtcDateTime, nullable=True),
    Column("start_time", UtcDateTime, nullable=True),
    Column("end_time", UtcDateTime, nullable=True),
    Column("rolled_back", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("modified_at", UtcDateTime, nullable=False),
    # The job's workers counted per product and status, kept by every worker write (adapters/sql/job_counters.py),
    # so completion and status reads never aggregate the workers; and how many certificates they deploy.
    Column("worker_counts", WorkerCounts, nullable=True),
    Column("worker_cert_count", Integer, nullable=False, server_default="0"),
    # Set while a due job waits for a maintenance window to open (docs/decisions.md#maintenance-windows).
    Column("window_wait_until", UtcDateTime, nullable=True),
    Index("ix_jobs_account_status", "account_id", "status"),
    Index("ix_jobs_status_schedule_time", "status", "schedule_time"),
    **table_options(),
)

workers = Table(
    "workers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("jobs.id", name="fk_workers_job"), nullable=False),
    Column("account_id", Id, nullable=False),
    Column("cert_id", BigInteger, nullable=False),
    Column("resource_id", BigInteger, nullable=False),
    Column("product", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("resource_cert_id", BigInteger, nullable=True),
    Column("resource_cert_name", String(255), nullable=True),
    Column("resource_domain", String(255), nullable=True),
    Column("resource_binding", Text, nullable=True),
    Column("error_code", String(128), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("modified_at", UtcDateTime, nullable=False),
    # The stage (from 1) the worker runs in, when its job has stages (docs/decisions.md#staged-rollout).
    Column("stage", Integer, nullable=False, server_default="1"),
    UniqueConstraint("job_id", "resource_id", name="uq_workers_job_resource"),
    Index("ix_workers_status_modified_at", "status", "modified_at"),
    # Pages of ListWorkerResource, all statuses or one (docs/decisions.md#indexed-reads).
    Index("ix_workers_job_id", "job_id", "id"),
    Index("ix_workers_job_status_id", "job_id", "status", "id"),
    **table_options(),
)

# A job's timeline (docs/decisions.md#timeline): rows are only inserted, and go with their job when it is deleted.
job_events = Table(
    "job_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("jobs.id", name="fk_job_events_job"), nullable=False),
    Column("account_id", Id, nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("worker_id", BigInteger, nullable=True),
    Column("product", String(16), nullable=True),
    Column("resource_id", BigInteger, nullable=True),
    Column("detail", Text, nullable=False),
    Column("error_code", String(128), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_job_events_job_id_id", "job_id", "id"),
    **table_options(),
)

# No foreign keys to jobs or workers: the ledger is history and outlives deleted jobs.
quota_ledger = Table(
    "quota_ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", name="fk_quota_ledger_account"), nullable=False),
    Column("job_id", BigInteger, nullable=False),
    Column("worker_id", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("units", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("worker_id", "direction", name="uq_quota_ledger_worker_direction"),
    Index("ix_quota_ledger_account_job", "account_id", "job_id"),
    **table_options(),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("queue", String(64), nullable=False),
    Column("body", LongText, nullable=False),
    Column("message_key", String(191), nullable=False),
    Column("delay_seconds", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Index("ix_outbox_sent_at_created_at", "sent_at", "created_at"),
    **table_options(),
)

processed_messages = Table(
    "processed_messages",
    metadata,
    Column("message_key", String(191), primary_key=True),
    Column("processed_at", UtcDateTime, nullable=False),
    Index("ix_processed_messages_processed_at", "processed_at"),
    **table_options(autoincrement=False),
)

# API nonces, each kept until the signing time it came with is no longer accepted
# (docs/protocol.md#clock-skew-and-nonces).
api_nonces = Table(
    "api_nonces",
    metadata,
    Column("nonce_key", String(191), primary_key=True),
    Column("access_key_id", String(64), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_api_nonces_expires_at", "expires_at"),
    Index("ix_api_nonces_access_key_id_expires_at", "access_key_id", "expires_at"),
    **table_options(autoincrement=False),
)

notifications_sent = Table(
    "notifications_sent",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", name="fk_notifications_sent_account"), nullable=False),
    Column("event_key", String(191), nullable=False),
    Column("contact_id", BigInteger, nullable=False),
    Column("channel", String(160), nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("address_digest", String(64), nullable=True),
    UniqueConstraint("event_key", "contact_id", "channel", name="uq_notifications_sent_event_contact_channel"),
    Index("ix_notifications_sent_account_sent_at", "account_id", "sent_at"),
    Index("ix_notifications_sent_address_sent_at", "address_digest", "sent_at"),
    **table_options(),
)

# Verification (docs/verification.md). No foreign keys, as for the ledger: the rows are keyed by ids that are never
# reused, and a deleted job's rows are never read again.
job_verify_policies = Table(
    "job_verify_policies",
    metadata,
    Column("job_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", Id, nullable=False),
    Column("mismatch", String(16), nullable=False),
    **table_options(autoincrement=False),
)

worker_verifications = Table(
    "worker_verifications",
    metadata,
    Column("worker_id", BigInteger, primary_key=True, autoincrement=False),
    Column("job_id", BigInteger, nullable=False),
    Column("account_id", Id, nullable=False),
    Column("status", String(16), nullable=False),
    Column("checks", Integer, nullable=False),
    Column("server_name", String(255), nullable=True),
    Column("detail", Text, nullable=True),
    Column("served_fingerprint", String(64), nullable=True),
    Column("served_subject", Text, nullable=True),
    Column("served_not_after", UtcDateTime, nullable=True),
    Column("checked_at", UtcDateTime, nullable=True),
    Index("ix_worker_verifications_account_job", "account_id", "job_id"),
    **table_options(autoincrement=False),
)

# Maintenance windows (docs/decisions.md#maintenance-windows): a handful per account, read whole.
maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", name="fk_maintenance_windows_account"), nullable=False),
    Column("days", JsonList, nullable=False),
    Column("start_time", String(5), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("tag_key", String(128), nullable=True),
    Column("tag_value", String(128), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_maintenance_windows_account", "account_id"),
    **table_options(),
)

# A job's staged rollout: its options and where it stands (docs/decisions.md#staged-rollout); no row, no stages.
job_stages = Table(
    "job_stages",
    metadata,
    Column("job_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", Id, nullable=False),
    Column("stages", String(100), nullable=False),
    Column("max_failures", String(16), nullable=False),
    Column("stage_count", Integer, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("resumes", Integer, nullable=False),
    Column("halt_reason", Text, nullable=True),
    **table_options(autoincrement=False),
)
