"""Indexes for the reads a console or SDK polls: pages of an account's resources (all products or one) and of a
job's workers (all statuses or one), each in id order, counted from the same index (docs/decisions.md#indexed-reads).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_resources_account_gone_id": ("resources", ["account_id", "gone", "id"]),
    "ix_resources_account_product_gone_id": ("resources", ["account_id", "product", "gone", "id"]),
    "ix_workers_job_id": ("workers", ["job_id", "id"]),
    "ix_workers_job_status_id": ("workers", ["job_id", "status", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in reversed(INDEXES.items()):
        op.drop_index(name, table_name=table)
