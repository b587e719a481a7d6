"""Job timelines: the `job_events` table (docs/decisions.md#timeline).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from certdeploy.adapters.sql.schema import Id, UtcDateTime, table_options

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("job_id", Id, sa.ForeignKey("jobs.id", name="fk_job_events_job"), nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("worker_id", sa.BigInteger, nullable=True),
        sa.Column("product", sa.String(16), nullable=True),
        sa.Column("resource_id", sa.BigInteger, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("error_code", sa.String(128), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        **table_options(),
    )
    op.create_index("ix_job_events_job_id_id", "job_events", ["job_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_job_events_job_id_id", table_name="job_events")
    op.drop_table("job_events")
