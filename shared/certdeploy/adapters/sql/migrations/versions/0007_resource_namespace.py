"""The SAE namespace of a cloud resource, which ListWorkerResource answers as a worker's `NamespaceId`
(docs/protocol.md#workers).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("resources", sa.Column("namespace_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("resources", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("namespace_id")
