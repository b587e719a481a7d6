"""Staged rollout: a job's `Stages` and `MaxFailures` options with where it stands, and each worker's stage
(docs/decisions.md#staged-rollout). Existing workers are in stage 1, as every worker of a job without stages.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from certdeploy.adapters.sql.schema import Id, table_options

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_stages",
        sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("stages", sa.String(100), nullable=False),
        sa.Column("max_failures", sa.String(16), nullable=False),
        sa.Column("stage_count", sa.Integer, nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("resumes", sa.Integer, nullable=False),
        sa.Column("halt_reason", sa.Text, nullable=True),
        **table_options(autoincrement=False),
    )
    op.add_column("workers", sa.Column("stage", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    op.drop_column("workers", "stage")
    op.drop_table("job_stages")
