"""The composition root of reporting: the only place adapters are chosen and wired."""

from __future__ import annotations

import asyncio
import gc
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


# Gen-0 threshold of the worker and the rebuild: a consumed batch (2,000 events) allocates some
# 100,000 objects that live until its transaction commits. At CPython's default (700) they are
# promoted poll after poll and trigger full collections over everything start-up built; measured
# on the county day, validating the events took two to five times as long.
WORKER_GC_THRESHOLD = 10_000


def tune_gc_for_worker() -> None:
    """Leave what start-up built (modules, schemas, the calendar) out of the cyclic collector's
    scans, and collect the young generation less often. Called once the worker is wired, before it
    consumes; reference counting still frees everything as usual. (enforcement does the same; a
    candidate for the kit.)"""
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(WORKER_GC_THRESHOLD, gen0), gen1, gen2)


class ReportingKernel(ServiceKernel[UnitOfWork]):
    async def run_worker(self, stop: asyncio.Event) -> None:
        tune_gc_for_worker()
        await super().run_worker(stop)


def bootstrap(settings: Settings | None = None) -> ServiceKernel[UnitOfWork]:
    settings = settings or Settings()
    return ReportingKernel(
        settings=settings,
        source=SOURCE,
        migrations=MIGRATIONS,
        tables=tables,
        registry=PUBLIC_EVENTS,
        uow_class=UnitOfWork,
        consumers=consumers(context(settings)),
    )
