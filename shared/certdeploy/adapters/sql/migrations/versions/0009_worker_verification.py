"""Verification of what each resource serves: the job's `VerifyMismatch` option and each worker's verification
(docs/verification.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from certdeploy.adapters.sql.schema import Id, UtcDateTime, table_options

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_verify_policies",
        sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("mismatch", sa.String(16), nullable=False),
        **table_options(autoincrement=False),
    )
    op.create_table(
        "worker_verifications",
        sa.Column("worker_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("job_id", sa.BigInteger, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checks", sa.Integer, nullable=False),
        sa.Column("server_name", sa.String(255), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("served_fingerprint", sa.String(64), nullable=True),
        sa.Column("served_subject", sa.Text, nullable=True),
        sa.Column("served_not_after", UtcDateTime, nullable=True),
        sa.Column("checked_at", UtcDateTime, nullable=True),
        **table_options(autoincrement=False),
    )
    op.create_index("ix_worker_verifications_account_job", "worker_verifications", ["account_id", "job_id"])


def downgrade() -> None:
    op.drop_index("ix_worker_verifications_account_job", table_name="worker_verifications")
    op.drop_table("worker_verifications")
    op.drop_table("job_verify_policies")
