"""Database plumbing: naming convention, kit tables, async engines, Alembic helpers."""

from inclusion_kit.db.engine import create_engine, is_postgres, is_sqlite, normalise_url, session_factory
from inclusion_kit.db.metadata import KitTables, make_metadata
from inclusion_kit.db.migrations import StaleSchemaError, assert_schema_current

__all__ = [
    "KitTables",
    "StaleSchemaError",
    "assert_schema_current",
    "create_engine",
    "is_postgres",
    "is_sqlite",
    "make_metadata",
    "normalise_url",
    "session_factory",
]
