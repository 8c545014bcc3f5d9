"""Alembic environment for exclusions (the URL is passed in by `exclusions migrate`)."""

from exclusions.adapters.orm import metadata
from inclusion_kit.db.migrations import run_env

run_env(metadata)
