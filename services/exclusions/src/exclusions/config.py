"""Settings for exclusions: environment variables prefixed EXCLUSIONS_ (nested with __)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from inclusion_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXCLUSIONS_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "exclusions"
    database_url: str = "sqlite+aiosqlite:///./var/exclusions.db"
