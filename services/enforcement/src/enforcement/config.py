"""Settings for enforcement: environment variables prefixed ENFORCEMENT_ (nested with __)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from inclusion_kit.settings import ServiceSettings


class AbsenceSettings(BaseModel):
    """Persistent and severe absence (DOMAIN.md §2); the first county's defaults."""

    persistent_percent: float = Field(default=10.0, gt=0, le=100)
    severe_percent: float = Field(default=50.0, gt=0, le=100)
    # No position is judged before it has this many possible sessions (2 school weeks), so that
    # one early absence does not flag a child.
    min_possible_sessions: int = Field(default=20, ge=1, le=380)
    # The early warning projects the term-to-date rate only once the term has this many sessions.
    early_warning_min_term_sessions: int = Field(default=10, ge=1, le=200)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENFORCEMENT_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "enforcement"
    database_url: str = "sqlite+aiosqlite:///./var/enforcement.db"
    absence: AbsenceSettings = Field(default_factory=AbsenceSettings)
    # The codes of conduct (YAML); None: the packaged national framework and the county's 2016 code.
    codes_of_conduct_path: str | None = None
    # The LA's notice-to-improve period on the national framework (3 to 6 weeks).
    notice_to_improve_weeks: int | None = Field(default=None, ge=3, le=6)
    # How often the worker moves unpaid notices past their last due date to prosecution.
    sweep_interval_seconds: float = Field(default=3600.0, gt=0)
