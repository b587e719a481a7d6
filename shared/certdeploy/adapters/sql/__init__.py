"""The relational store: SQLAlchemy Core tables, Alembic migrations and the `Store` adapter."""

from certdeploy.adapters.sql.crypto import generate_key_encryption_key
from certdeploy.adapters.sql.engine import create_store_engine, sqlite_url
from certdeploy.adapters.sql.migrate import upgrade
from certdeploy.adapters.sql.store import SqlStore, SqlTransaction

__all__ = ["SqlStore", "SqlTransaction", "create_store_engine", "generate_key_encryption_key", "sqlite_url", "upgrade"]
