"""Initial schema: accounts, access keys, certificates, contacts, resources, jobs, workers, quota ledger, outbox,
processed messages, notifications sent.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from certdeploy.adapters.sql.schema import Id, JsonList, LongText, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _options(*, autoincrement: bool = True) -> dict[str, Any]:
    return {
        "sqlite_autoincrement": autoincrement,
        "mysql_engine": "InnoDB",
        "mysql_charset": "utf8mb4",
        "mysql_collate": "utf8mb4_bin",
    }


def _id() -> sa.Column[Any]:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def _account_id(table: str) -> sa.Column[Any]:
    return sa.Column("account_id", Id, sa.ForeignKey("accounts.id", name=f"fk_{table}_account"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "accounts",
        _id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("buy_count", sa.BigInteger, nullable=False),
        sa.Column("use_count", sa.BigInteger, nullable=False),
        sa.Column("hosting", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
        **_options(),
    )
    op.create_table(
        "access_keys",
        _id(),
        _account_id("access_keys"),
        sa.Column("access_key_id", sa.String(64), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("access_key_id", name="uq_access_keys_access_key_id"),
        **_options(),
    )
    op.create_index("ix_access_keys_account_id", "access_keys", ["account_id"])
    op.create_table(
        "certificates",
        _id(),
        _account_id("certificates"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("common_name", sa.String(255), nullable=True),
        sa.Column("sans", JsonList, nullable=False),
        sa.Column("names", JsonList, nullable=False),
        sa.Column("not_before", UtcDateTime, nullable=False),
        sa.Column("not_after", UtcDateTime, nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("fingerprint_sha256", sa.String(64), nullable=False),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("issuer_common_name", sa.String(255), nullable=True),
        sa.Column("algorithm", sa.String(8), nullable=False),
        sa.Column("chain_length", sa.Integer, nullable=False),
        sa.Column("cert_pem", LongText, nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("cas_cert_id", sa.BigInteger, nullable=True),
        sa.Column("tags", JsonList, nullable=False),
        sa.Column("encrypt_cert_pem", LongText, nullable=True),
        sa.Column("encrypt_private_key_sealed", sa.LargeBinary, nullable=True),
        sa.UniqueConstraint("account_id", "name", name="uq_certificates_account_name"),
        sa.UniqueConstraint("account_id", "cas_cert_id", name="uq_certificates_account_cas_cert_id"),
        **_options(),
    )
    op.create_table(
        "contacts",
        _id(),
        _account_id("contacts"),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("email_lower", sa.String(254), nullable=True),
        sa.Column("mobile", sa.String(32), nullable=True),
        sa.Column("webhooks", JsonList, nullable=False),
        sa.UniqueConstraint("account_id", "email_lower", name="uq_contacts_account_email_lower"),
        sa.UniqueConstraint("account_id", "mobile", name="uq_contacts_account_mobile"),
        **_options(),
    )
    op.create_table(
        "resources",
        _id(),
        _account_id("resources"),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("instance_id", sa.String(128), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("listener_id", sa.String(128), nullable=True),
        sa.Column("https_enabled", sa.Boolean, nullable=False),
        sa.Column("bound_cert_id", sa.BigInteger, nullable=True),
        sa.Column("bound_cert_name", sa.String(255), nullable=True),
        sa.Column("gone", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("modified_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint(
            "account_id", "product", "region", "instance_id", "domain", "port", name="uq_resources_natural_key"
        ),
        **_options(),
    )
    op.create_index("ix_resources_account_domain", "resources", ["account_id", "domain"])
    op.create_table(
        "jobs",
        _id(),
        _account_id("jobs"),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("job_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cert_origin", sa.String(16), nullable=False),
        sa.Column("cert_ids", JsonList, nullable=False),
        sa.Column("resource_ids", JsonList, nullable=False),
        sa.Column("contact_ids", JsonList, nullable=False),
        sa.Column("schedule_time", UtcDateTime, nullable=True),
        sa.Column("start_time", UtcDateTime, nullable=True),
        sa.Column("end_time", UtcDateTime, nullable=True),
        sa.Column("rolled_back", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("modified_at", UtcDateTime, nullable=False),
        **_options(),
    )
    op.create_index("ix_jobs_account_status", "jobs", ["account_id", "status"])
    op.create_index("ix_jobs_status_schedule_time", "jobs", ["status", "schedule_time"])
    op.create_table(
        "workers",
        _id(),
        sa.Column("job_id", Id, sa.ForeignKey("jobs.id", name="fk_workers_job"), nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("cert_id", sa.BigInteger, nullable=False),
        sa.Column("resource_id", sa.BigInteger, nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resource_cert_id", sa.BigInteger, nullable=True),
        sa.Column("resource_cert_name", sa.String(255), nullable=True),
        sa.Column("resource_domain", sa.String(255), nullable=True),
        sa.Column("resource_binding", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(128), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("modified_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("job_id", "resource_id", name="uq_workers_job_resource"),
        **_options(),
    )
    op.create_index("ix_workers_status_modified_at", "workers", ["status", "modified_at"])
    op.create_table(
        "quota_ledger",
        _id(),
        _account_id("quota_ledger"),
        sa.Column("job_id", sa.BigInteger, nullable=False),
        sa.Column("worker_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("worker_id", "direction", name="uq_quota_ledger_worker_direction"),
        **_options(),
    )
    op.create_index("ix_quota_ledger_account_job", "quota_ledger", ["account_id", "job_id"])
    op.create_table(
        "outbox",
        _id(),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("body", LongText, nullable=False),
        sa.Column("message_key", sa.String(191), nullable=False),
        sa.Column("delay_seconds", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=True),
        **_options(),
    )
    op.create_index("ix_outbox_sent_at_created_at", "outbox", ["sent_at", "created_at"])
    op.create_table(
        "processed_messages",
        sa.Column("message_key", sa.String(191), primary_key=True),
        sa.Column("processed_at", UtcDateTime, nullable=False),
        **_options(autoincrement=False),
    )
    op.create_index("ix_processed_messages_processed_at", "processed_messages", ["processed_at"])
    op.create_table(
        "notifications_sent",
        _id(),
        _account_id("notifications_sent"),
        sa.Column("event_key", sa.String(191), nullable=False),
        sa.Column("contact_id", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(160), nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("event_key", "contact_id", "channel", name="uq_notifications_sent_event_contact_channel"),
        **_options(),
    )


def downgrade() -> None:
    for table in (
        "notifications_sent",
        "processed_messages",
        "outbox",
        "quota_ledger",
        "workers",
        "jobs",
        "resources",
        "contacts",
        "certificates",
        "access_keys",
        "accounts",
    ):
        op.drop_table(table)
