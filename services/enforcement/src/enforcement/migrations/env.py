"""Alembic environment for enforcement (the URL is passed in by `enforcement migrate`)."""

from enforcement.adapters.orm import metadata
from inclusion_kit.db.migrations import run_env

run_env(metadata)
