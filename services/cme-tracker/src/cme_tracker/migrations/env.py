"""Alembic environment for cme-tracker (the URL is passed in by `cme-tracker migrate`)."""

from cme_tracker.adapters.orm import metadata
from inclusion_kit.db.migrations import run_env

run_env(metadata)
