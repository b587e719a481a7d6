"""When each account's resources were last synced from the inventory: the scheduler syncs an account once per
`resource_sync_seconds`, not on every tick (docs/decisions.md#resource-sync). NULL (every existing account) is due
at the next tick.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from certdeploy.adapters.sql.schema import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("resources_synced_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("accounts", "resources_synced_at")
