"""Alembic environment for reporting (the URL is passed in by `reporting migrate`)."""

from inclusion_kit.db.migrations import run_env
from reporting.adapters.orm import metadata

run_env(metadata)
