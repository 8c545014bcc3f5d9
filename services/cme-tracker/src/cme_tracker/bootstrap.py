"""The composition root of cme-tracker: the only place adapters are chosen and wired."""

from __future__ import annotations

from pathlib import Path

from cme_tracker.adapters.orm import tables
from cme_tracker.config import Settings
from cme_tracker.domain.model import Rules
from cme_tracker.service_layer.handlers import Context, check_reviews, consumers
from cme_tracker.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.calendar import load_calendar
from inclusion_kit.clock import Clock, SystemClock
from inclusion_kit.contracts.catalogue import PUBLIC_EVENTS
from inclusion_kit.service import PeriodicTask, ServiceKernel

SOURCE = "inclusion/cme-tracker"
MIGRATIONS = Path(__file__).parent / "migrations"


def context(settings: Settings, clock: Clock | None = None) -> Context:
    r = settings.rules
    return Context(
        clock=clock or SystemClock(),
        calendar=load_calendar(settings.calendar_path or settings.la_code),
        rules=Rules(
            review_months=r.review_months,
            placement_target_days=r.placement_target_days,
            located_target_days=r.located_target_days,
            checklist=tuple(r.checklist),
            ehe_first_contact_months=r.ehe_first_contact_months,
            ehe_visit_offer_months=r.ehe_visit_offer_months,
            ehe_review_months=r.ehe_review_months,
        ),
        offrolling_ratio=settings.offrolling.ratio_to_county,
        offrolling_min_removals=settings.offrolling.min_removals,
        offrolling_not_counted=frozenset(settings.offrolling.not_counted_grounds),
    )


def bootstrap(
    settings: Settings | None = None, *, clock: Clock | None = None, ctx: Context | None = None
) -> ServiceKernel[UnitOfWork]:
    settings = settings or Settings()
    ctx = ctx or context(settings, clock)
    kernel = ServiceKernel(
        settings=settings,
        source=SOURCE,
        migrations=MIGRATIONS,
        tables=tables,
        registry=PUBLIC_EVENTS,
        uow_class=UnitOfWork,
        consumers=consumers(ctx),
    )
    context_for_reviews = ctx

    async def overdue_reviews() -> object:
        return await check_reviews(kernel.uow, context_for_reviews)

    # CmeReviewOverdue once per case and overdue period: run by `cme-tracker worker` and by
    # `inclusion up` (a kit periodic task); `cme-tracker reviews` runs one pass by hand or cron.
    kernel.periodic = [PeriodicTask("overdue-reviews", overdue_reviews, settings.reviews_interval_seconds)]
    return kernel
