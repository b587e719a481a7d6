"""Alembic environment: runs the migrations on the connection `certdeploy.adapters.sql.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from certdeploy.adapters.sql.schema import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through certdeploy.adapters.sql.migrate.upgrade (or `certdeploy migrate`).")

# render_as_batch lets future ALTERs work on SQLite, which rebuilds a table to alter it.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
