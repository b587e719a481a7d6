"""The relational store: SQLAlchemy Core tables, Alembic migrations and the `Store` adapter.

The names below are loaded on first use (PEP 562), not with the package: importing `certdeploy.adapters.sql.crypto`
(the settings do) must not import Alembic and every repository, which a function's cold start would pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certdeploy.adapters.sql.crypto import generate_key_encryption_key
    from certdeploy.adapters.sql.engine import create_store_engine, sqlite_url
    from certdeploy.adapters.sql.migrate import upgrade
    from certdeploy.adapters.sql.store import SqlStore, SqlTransaction

_MODULES = {
    "generate_key_encryption_key": "crypto",
    "create_store_engine": "engine",
    "sqlite_url": "engine",
    "upgrade": "migrate",
    "SqlStore": "store",
    "SqlTransaction": "store",
}

__all__ = ["SqlStore", "SqlTransaction", "create_store_engine", "generate_key_encryption_key", "sqlite_url", "upgrade"]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
