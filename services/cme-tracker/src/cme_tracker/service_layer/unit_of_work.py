"""cme-tracker's unit of work: one transaction per request or message, with its outgoing events."""

from __future__ import annotations

from typing import Self

from cme_tracker.adapters.repository import CaseRepository, EheRepository, WatchRepository
from cme_tracker.service_layer import publishing
from inclusion_kit.messaging.unit_of_work import UnitOfWork as KitUnitOfWork


class UnitOfWork(KitUnitOfWork):
    cases: CaseRepository
    ehe: EheRepository
    watch: WatchRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.cases = CaseRepository(self.session)
        self.ehe = EheRepository(self.session)
        self.watch = WatchRepository(self.session)
        return self

    async def commit(self) -> None:
        # State and the events it raised go in one transaction (transactional outbox).
        await self.cases.save()
        await self.ehe.save()
        for case in self.cases.seen.values():
            for event in case.pending_events:
                self.emit(publishing.case_contract(event, case))
        for registration in self.ehe.seen.values():
            for event in registration.pending_events:
                self.emit(publishing.ehe_contract(event, registration))
        await super().commit()
        self.cases.clear()
        self.ehe.clear()
