"""Alembic environment for referral-api (the URL is passed in by `referral-api migrate`)."""

from inclusion_kit.db.migrations import run_env
from referral_api.adapters.orm import metadata

run_env(metadata)
