"""The composition root of cme-tracker: the only place adapters are chosen and wired."""

from __future__ import annotations

from pathlib import Path

from cme_tracker.adapters.orm import tables
from cme_tracker.config import Settings
from cme_tracker.service_layer.handlers import CONSUMERS
from cme_tracker.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.contracts.catalogue import PUBLIC_EVENTS
from inclusion_kit.service import ServiceKernel

SOURCE = "inclusion/cme-tracker"
MIGRATIONS = Path(__file__).parent / "migrations"


def bootstrap(settings: Settings | None = None) -> ServiceKernel[UnitOfWork]:
    return ServiceKernel(
        settings=settings or Settings(),
        source=SOURCE,
        migrations=MIGRATIONS,
        tables=tables,
        registry=PUBLIC_EVENTS,
        uow_class=UnitOfWork,
        consumers=CONSUMERS,
    )
