"""API nonces in their own table, each kept until it expires (docs/protocol.md#clock-skew-and-nonces).

Nonces the processed-messages table holds move over when they may still be in their window (marked less than 30
minutes ago; kept as if signed 15 minutes ahead of our clock), and leave it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

from certdeploy.adapters.sql.schema import UtcDateTime, table_options

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The longest a nonce was needed: signed up to 15 minutes ahead of our clock, accepted up to 15 minutes after that.
_WINDOW = timedelta(minutes=30)
_NONCE_PREFIXES = ("nonce:", "nonce-sha256:")
# The tables as this revision knows them, whatever schema.py says later.
_processed = sa.table("processed_messages", sa.column("message_key", sa.String), sa.column("processed_at", UtcDateTime))
_nonces = sa.table(
    "api_nonces",
    sa.column("nonce_key", sa.String),
    sa.column("access_key_id", sa.String),
    sa.column("expires_at", UtcDateTime),
)


def _access_key_id(key: str) -> str:
    """`nonce:<AccessKeyId>:<nonce>` names its AccessKey; a digest key does not (it counts under no key)."""
    return key.split(":", 2)[1] if key.startswith("nonce:") else ""


def upgrade() -> None:
    op.create_table(
        "api_nonces",
        sa.Column("nonce_key", sa.String(191), primary_key=True),
        sa.Column("access_key_id", sa.String(64), nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        **table_options(autoincrement=False),
    )
    op.create_index("ix_api_nonces_expires_at", "api_nonces", ["expires_at"])
    op.create_index("ix_api_nonces_access_key_id_expires_at", "api_nonces", ["access_key_id", "expires_at"])

    conn = op.get_bind()
    is_nonce = sa.or_(*(_processed.c.message_key.startswith(prefix) for prefix in _NONCE_PREFIXES))
    recent = _processed.c.processed_at >= datetime.now(timezone.utc) - _WINDOW
    rows = conn.execute(sa.select(_processed).where(is_nonce, recent)).all()
    if rows:
        conn.execute(
            sa.insert(_nonces),
            [
                {
                    "nonce_key": row.message_key,
                    "access_key_id": _access_key_id(row.message_key),
                    "expires_at": row.processed_at + _WINDOW,
                }
                for row in rows
            ],
        )
    conn.execute(sa.delete(_processed).where(is_nonce))


def downgrade() -> None:
    op.drop_table("api_nonces")
