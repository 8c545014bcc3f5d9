"""Settings for cme-tracker: environment variables prefixed CME_ (nested with __)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from cme_tracker.domain.model import EnquiryKind
from inclusion_kit.settings import ServiceSettings


class CmeRules(BaseModel):
    """The LA's rules; defaults are the first county's (DOMAIN.md §10.3)."""

    review_months: int = Field(
        default=1, ge=1, le=12, description="Every open case reviewed at least monthly."
    )
    placement_target_days: int = Field(
        default=30, ge=1, le=365, description="Found CME placed within 30 days."
    )
    located_target_days: int = Field(default=14, ge=1, le=365, description="Found within two weeks.")
    checklist: list[EnquiryKind] = Field(
        default_factory=lambda: list(EnquiryKind),
        min_length=1,
        description="The reasonable enquiries tried before a child is closed as not found.",
    )
    ehe_first_contact_months: int = Field(default=1, ge=1, le=12)
    ehe_visit_offer_months: int = Field(default=3, ge=1, le=12)
    ehe_review_months: int = Field(default=12, ge=1, le=24)


class OffRollingWatch(BaseModel):
    """When a school's Year 10-11 removals before the January census are flagged."""

    ratio_to_county: float = Field(default=2.0, gt=1.0, le=20.0)
    min_removals: int = Field(default=3, ge=1, le=1000)
    not_counted_grounds: list[str] = Field(default_factory=lambda: ["9(1)(k)", "9(1)(l)", "9(1)(o)"])


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CME_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "cme-tracker"
    database_url: str = "sqlite+aiosqlite:///./var/cme-tracker.db"
    rules: CmeRules = Field(default_factory=CmeRules)
    offrolling: OffRollingWatch = Field(default_factory=OffRollingWatch)
    # `cme-tracker reviews --loop`: how often the review job runs.
    reviews_interval_seconds: float = Field(default=3600.0, ge=1.0)
