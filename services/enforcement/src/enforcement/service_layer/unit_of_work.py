"""enforcement's unit of work: one transaction per request or message, with its outgoing events."""

from __future__ import annotations

from inclusion_kit.messaging.unit_of_work import UnitOfWork as KitUnitOfWork


class UnitOfWork(KitUnitOfWork):
    """Repositories are added here as the domain grows."""
