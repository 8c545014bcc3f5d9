"""The composition root of enforcement: the only place adapters are chosen and wired."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from enforcement.adapters.orm import tables
from enforcement.adapters.policies import load_policy_book
from enforcement.config import Settings
from enforcement.domain.positions import AbsenceRules, MarkClassifier
from enforcement.service_layer import handlers
from enforcement.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.calendar import load_calendar
from inclusion_kit.clock import Clock, SystemClock
from inclusion_kit.codes import default_code_table
from inclusion_kit.contracts.catalogue import PUBLIC_EVENTS
from inclusion_kit.service import PeriodicTask, ServiceKernel

SOURCE = "inclusion/enforcement"
MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


def build_context(settings: Settings, clock: Clock | None = None) -> handlers.Context:
    calendar = load_calendar(settings.calendar_path or settings.la_code)
    a = settings.absence
    return handlers.Context(
        clock=clock or SystemClock(),
        calendar=calendar,
        policies=load_policy_book(settings.codes_of_conduct_path, nti_weeks=settings.notice_to_improve_weeks),
        classifier=MarkClassifier(calendar, default_code_table()),
        rules=AbsenceRules(
            persistent_percent=a.persistent_percent,
            severe_percent=a.severe_percent,
            min_possible_sessions=a.min_possible_sessions,
            early_warning_min_term_sessions=a.early_warning_min_term_sessions,
        ),
        la_code=settings.la_code,
    )


@dataclass
class EnforcementKernel(ServiceKernel[UnitOfWork]):
    """The kit's kernel with the handlers' context; the sweep of unpaid notices is a periodic task
    (run by the worker and by ``inclusion up``)."""

    context: handlers.Context | None = field(default=None)

    @property
    def ctx(self) -> handlers.Context:
        assert self.context is not None
        return self.context

    async def sweep(self) -> int:
        async with self.uow() as uow:
            return len(await handlers.sweep_unpaid(uow, self.ctx))


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None) -> EnforcementKernel:
    settings = settings or Settings()
    context = build_context(settings, clock)
    kernel = EnforcementKernel(
        settings=settings,
        source=SOURCE,
        migrations=MIGRATIONS,
        tables=tables,
        registry=PUBLIC_EVENTS,
        uow_class=UnitOfWork,
        consumers=handlers.consumers(context),
        context=context,
    )

    async def sweep() -> int:
        opened = await kernel.sweep()
        if opened:
            log.info("unpaid notices moved to prosecution", extra={"count": opened})
        return opened

    kernel.periodic = [PeriodicTask("sweep-unpaid", sweep, settings.sweep_interval_seconds)]
    return kernel
