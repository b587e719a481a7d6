"""Notification rate limits: the address digest of each delivery sent, and indexes to count deliveries per account
and per address over the last hour (docs/decisions.md#notifications).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications_sent", sa.Column("address_digest", sa.String(64), nullable=True))
    op.create_index("ix_notifications_sent_account_sent_at", "notifications_sent", ["account_id", "sent_at"])
    op.create_index("ix_notifications_sent_address_sent_at", "notifications_sent", ["address_digest", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_sent_address_sent_at", table_name="notifications_sent")
    op.drop_index("ix_notifications_sent_account_sent_at", table_name="notifications_sent")
    op.drop_column("notifications_sent", "address_digest")
