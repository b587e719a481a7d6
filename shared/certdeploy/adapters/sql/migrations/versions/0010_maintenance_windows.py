"""Maintenance windows per account, the tags of each resource (which choose the windows that govern it), and the
time a due job waits for its window until (docs/decisions.md#maintenance-windows).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from certdeploy.adapters.sql.schema import Id, JsonList, UtcDateTime, table_options

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_windows",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "account_id",
            Id,
            sa.ForeignKey("accounts.id", name="fk_maintenance_windows_account"),
            nullable=False,
        ),
        sa.Column("days", JsonList, nullable=False),
        sa.Column("start_time", sa.String(5), nullable=False),
        sa.Column("duration_minutes", sa.Integer, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("tag_key", sa.String(128), nullable=True),
        sa.Column("tag_value", sa.String(128), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        **table_options(),
    )
    op.create_index("ix_maintenance_windows_account", "maintenance_windows", ["account_id"])
    op.add_column("resources", sa.Column("tags", JsonList, nullable=True))
    op.add_column("jobs", sa.Column("window_wait_until", UtcDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("window_wait_until")
    with op.batch_alter_table("resources", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("tags")
    op.drop_index("ix_maintenance_windows_account", table_name="maintenance_windows")
    op.drop_table("maintenance_windows")
