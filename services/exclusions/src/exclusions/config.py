"""Settings for exclusions: environment variables prefixed EXCLUSIONS_ (nested with __)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from inclusion_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXCLUSIONS_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "exclusions"
    database_url: str = "sqlite+aiosqlite:///./var/exclusions.db"
    # The LA's own figures (DOMAIN.md §10: configuration, shipped as the first county's defaults).
    # Warn when a pupil's suspensions this academic year reach this many days (the cap is 45).
    suspension_warning_days: float = Field(default=40.0, gt=0, le=45)
    # Flag a pupil at this many suspensions in an academic year (§10.3: three).
    repeat_suspensions: int = Field(default=3, ge=2, le=20)
    # Whether lunchtime suspensions count towards that flag.
    repeat_counts_lunchtimes: bool = True
    # A part-time timetable not reviewed within this many school days raises an alert ("six weeks").
    part_time_review_school_days: int = Field(default=30, ge=5, le=120)
    # The reason-code file (CSV: code,label,from_year,to_year,verified); default: the packaged one.
    reason_codes_path: str | None = None
    # Accept the extended (UNVERIFIED, third-party CBDS May 2026) codes from their effective year.
    extended_reason_codes: bool = False
    # How often the worker runs the scheduled checks (sixth-day provision, overdue alerts).
    scheduler_interval_seconds: float = Field(default=900.0, gt=0)
