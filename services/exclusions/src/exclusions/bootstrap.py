"""The composition root of exclusions: the only place adapters are chosen and wired."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from exclusions.adapters.orm import tables
from exclusions.config import Settings
from exclusions.domain.reason_codes import ReasonCodeSet
from exclusions.domain.rules import Policy
from exclusions.service_layer import scheduler
from exclusions.service_layer.handlers import CONSUMERS, Context
from exclusions.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.calendar import load_calendar
from inclusion_kit.clock import Clock, SystemClock
from inclusion_kit.contracts.catalogue import PUBLIC_EVENTS
from inclusion_kit.service import PeriodicTask, ServiceKernel

SOURCE = "inclusion/exclusions"
MIGRATIONS = Path(__file__).parent / "migrations"


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> ServiceKernel[UnitOfWork]:
    settings = settings or Settings()
    kernel = ServiceKernel(
        settings=settings,
        source=SOURCE,
        migrations=MIGRATIONS,
        tables=tables,
        registry=PUBLIC_EVENTS,
        uow_class=UnitOfWork,
        consumers=CONSUMERS,
    )
    ctx = context(settings, clock)

    async def scheduled_checks() -> object:
        return await scheduler.run_once(kernel.uow, ctx)

    # Missed sixth-day provision and part-time timetable alerts: run by `exclusions worker` and by
    # `inclusion up` (the kit's periodic tasks); `exclusions scheduler --once` runs one pass.
    kernel.periodic = [
        PeriodicTask("scheduled-checks", scheduled_checks, settings.scheduler_interval_seconds)
    ]
    return kernel


def reason_codes(settings: Settings) -> ReasonCodeSet:
    if settings.reason_codes_path:
        text = Path(settings.reason_codes_path).read_text(encoding="utf-8")
    else:
        text = resources.files("exclusions").joinpath("data", "reason_codes.csv").read_text(encoding="utf-8")
    return ReasonCodeSet.from_csv(text, include_unverified=settings.extended_reason_codes)


def context(settings: Settings, clock: Clock | None = None) -> Context:
    """What handlers need besides a unit of work: time, the LA's calendar, codes and figures."""
    return Context(
        clock=clock or SystemClock(),
        calendar=load_calendar(settings.calendar_path or settings.la_code),
        reason_codes=reason_codes(settings),
        policy=Policy(
            warning_days=settings.suspension_warning_days,
            repeat_suspensions=settings.repeat_suspensions,
            repeat_counts_lunchtimes=settings.repeat_counts_lunchtimes,
            part_time_review_school_days=settings.part_time_review_school_days,
        ),
    )
