"""Settings for reporting: environment variables prefixed REPORTING_ (nested with __)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from inclusion_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "reporting"
    database_url: str = "sqlite+aiosqlite:///./var/reporting.db"
    # The county's table of indicators, floors and targets, and its districts grouped into areas
    # (packaged defaults per LA code when unset).
    indicators_path: str | None = None
    areas_path: str | None = None
    # Published figures: counts from 1 to threshold - 1 (and rates built on them) are withheld.
    suppression_threshold: int = Field(default=5, ge=2, le=100)
    # "Found within two weeks" (DOMAIN.md §10.1), in calendar days from the case opening.
    cme_found_within_days: int = Field(default=14, ge=1, le=60)
