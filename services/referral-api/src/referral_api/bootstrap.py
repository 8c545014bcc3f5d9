"""The composition root of referral-api: the only place adapters are chosen and wired."""

from __future__ import annotations

from pathlib import Path

from inclusion_kit.contracts.catalogue import PUBLIC_EVENTS
from inclusion_kit.service import ServiceKernel
from referral_api.adapters.orm import tables
from referral_api.config import Settings
from referral_api.service_layer.handlers import CONSUMERS
from referral_api.service_layer.unit_of_work import UnitOfWork

SOURCE = "inclusion/referral-api"
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
