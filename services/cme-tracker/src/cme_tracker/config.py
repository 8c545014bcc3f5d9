"""Settings for cme-tracker: environment variables prefixed CME_ (nested with __)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from inclusion_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CME_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "cme-tracker"
    database_url: str = "sqlite+aiosqlite:///./var/cme-tracker.db"
