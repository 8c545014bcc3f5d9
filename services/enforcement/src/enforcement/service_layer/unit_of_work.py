"""enforcement's unit of work: one transaction per request or message, with its outgoing events."""

from __future__ import annotations

from typing import Self

from enforcement.adapters.positions import PgPositionStore, SqlPositionStore
from enforcement.adapters.repository import (
    CaseRepository,
    NoticeRepository,
    ParentRepository,
    PupilLookup,
    RequestRepository,
    SchoolRepository,
)
from enforcement.domain.positions import AbsenceRules
from enforcement.service_layer import publishing
from inclusion_kit.db.engine import asyncpg_connection
from inclusion_kit.messaging.unit_of_work import UnitOfWork as KitUnitOfWork


class UnitOfWork(KitUnitOfWork):
    requests: RequestRepository
    notices: NoticeRepository
    cases: CaseRepository
    schools: SchoolRepository
    parents: ParentRepository
    pupils: PupilLookup

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.requests = RequestRepository(self.session)
        self.notices = NoticeRepository(self.session)
        self.cases = CaseRepository(self.session)
        self.schools = SchoolRepository(self.session)
        self.parents = ParentRepository(self.session)
        self.pupils = PupilLookup(self.session)
        return self

    async def position_store(self, rules: AbsenceRules) -> PgPositionStore | SqlPositionStore:
        """Set-based SQL over arrays on PostgreSQL; the portable store elsewhere (SQLite)."""
        driver = await asyncpg_connection(self.session)
        return SqlPositionStore(self.session, rules) if driver is None else PgPositionStore(driver, rules)

    async def commit(self) -> None:
        # State and the events it raised go in one transaction (transactional outbox).
        repos = (self.requests, self.notices, self.cases)
        for repo in repos:
            await repo.save()
        for repo in repos:
            for aggregate in repo.seen.values():
                for event in aggregate.pending_events:
                    self.emit(await publishing.to_contract(event, aggregate, self))
        await super().commit()
        for repo in repos:
            for aggregate in repo.seen.values():
                aggregate.pending_events.clear()
