"""Settings for reporting: environment variables prefixed REPORTING_ (nested with __)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from inclusion_kit.settings import ConsumerSettings, ServiceSettings

# Events applied per transaction when the consumer (or a rebuild) is behind. A county day of
# registers is 240,000 events: each poll's transaction pays fixed costs (inbox and ledger
# statements, the attendance statement, the commit, the offsets) whatever its size, so reporting
# takes what the consumer has fetched up to 5,000 (the kit's default is 2,000). Measured on the
# county day: 14,300 marks/s at 2,000, 19,700 at 5,000 (bench/reports.py, same machine and load).
BATCH_MAX_RECORDS = 5000


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "reporting"
    consumer: ConsumerSettings = Field(
        default_factory=lambda: ConsumerSettings(batch_max_records=BATCH_MAX_RECORDS)
    )
    database_url: str = "sqlite+aiosqlite:///./var/reporting.db"
    # The county's table of indicators, floors and targets, and its districts grouped into areas
    # (packaged defaults per LA code when unset).
    indicators_path: str | None = None
    areas_path: str | None = None
    # Published figures: counts from 1 to threshold - 1 (and rates built on them) are withheld.
    suppression_threshold: int = Field(default=5, ge=2, le=100)
    # "Found within two weeks" (DOMAIN.md §10.1), in calendar days from the case opening.
    cme_found_within_days: int = Field(default=14, ge=1, le=60)
