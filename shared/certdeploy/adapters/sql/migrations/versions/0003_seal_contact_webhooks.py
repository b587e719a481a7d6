"""Contacts' webhook URLs (which carry the bots' access tokens and signing secrets) sealed at rest like private keys:
`webhooks` (JSON in clear) becomes `webhooks_sealed`, NULL for a contact without webhooks.

Sealing needs the key-encryption key: `upgrade(..., key_encryption_key=...)` passes it (the embedded store and
`certdeploy migrate` do when it is configured). Without it, a database holding webhooks is refused before anything
changes; one without webhooks migrates as it is.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import context, op

from certdeploy.adapters.sql.contacts import seal_webhooks
from certdeploy.adapters.sql.crypto import KeyCipher

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The table as this revision knows it, whatever schema.py says later.
_contacts = sa.table(
    "contacts",
    sa.column("id", sa.BigInteger),
    sa.column("account_id", sa.BigInteger),
    sa.column("webhooks", sa.Text),
    sa.column("webhooks_sealed", sa.LargeBinary),
)


def upgrade() -> None:
    conn = op.get_bind()
    # Checked before any change: MySQL commits each ALTER TABLE at once.
    clear = sa.select(_contacts.c.id, _contacts.c.account_id, _contacts.c.webhooks).where(_contacts.c.webhooks != "[]")
    rows = conn.execute(clear).all()
    key = context.config.attributes.get("key_encryption_key")
    if rows and key is None:
        raise RuntimeError(
            "Migration 0003 seals contacts' webhooks: run it with the key-encryption key the store uses "
            "(CERTDEPLOY_KEY_ENCRYPTION_KEY)."
        )
    op.add_column("contacts", sa.Column("webhooks_sealed", sa.LargeBinary, nullable=True))
    if rows:
        cipher = KeyCipher(key)
        for row in rows:
            sealed = seal_webhooks(cipher, row.account_id, row.id, json.loads(row.webhooks))
            conn.execute(sa.update(_contacts).where(_contacts.c.id == row.id).values(webhooks_sealed=sealed))
    # SQLite before 3.35 cannot drop a column: the batch copies the table there.
    with op.batch_alter_table("contacts", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("webhooks")


def downgrade() -> None:
    raise NotImplementedError("Sealed webhooks are not put back in clear.")
