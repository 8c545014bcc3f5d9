"""Settings for referral-api: environment variables prefixed REFERRAL_ (nested with __)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from inclusion_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "referral-api"
    database_url: str = "sqlite+aiosqlite:///./var/referral-api.db"
