"""The composition root of exclusions: the only place adapters are chosen and wired."""

from __future__ import annotations

from pathlib import Path

from exclusions.adapters.orm import tables
from exclusions.config import Settings
from exclusions.service_layer.handlers import CONSUMERS
from exclusions.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.contracts.catalogue import PUBLIC_EVENTS
from inclusion_kit.service import ServiceKernel

SOURCE = "inclusion/exclusions"
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
