"""Settings for referral-api: environment variables prefixed REFERRAL_ (nested with __)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from inclusion_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "referral-api"
    database_url: str = "sqlite+aiosqlite:///./var/referral-api.db"
    # Referrals are answered within this many school days of receipt (DOMAIN.md §10.3: the first
    # county's target; per-LA configuration).
    response_school_days: int = Field(default=10, ge=1, le=60)
