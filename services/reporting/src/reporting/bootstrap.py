"""The composition root of reporting: the only place adapters are chosen and wired."""

from __future__ import annotations

from pathlib import Path

from inclusion_kit.calendar import load_calendar
from inclusion_kit.contracts.catalogue import PUBLIC_EVENTS
from inclusion_kit.service import ServiceKernel
from reporting.adapters.orm import tables
from reporting.config import Settings
from reporting.service_layer.handlers import Context, consumers
from reporting.service_layer.unit_of_work import UnitOfWork

SOURCE = "inclusion/reporting"
MIGRATIONS = Path(__file__).parent / "migrations"


def context(settings: Settings) -> Context:
    return Context(calendar=load_calendar(settings.calendar_path or settings.la_code))


def bootstrap(settings: Settings | None = None) -> ServiceKernel[UnitOfWork]:
    settings = settings or Settings()
    return ServiceKernel(
        settings=settings,
        source=SOURCE,
        migrations=MIGRATIONS,
        tables=tables,
        registry=PUBLIC_EVENTS,
        uow_class=UnitOfWork,
        consumers=consumers(context(settings)),
    )
