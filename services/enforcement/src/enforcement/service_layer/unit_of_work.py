"""enforcement's unit of work: one transaction per request or message, with its outgoing events."""

from __future__ import annotations

from datetime import UTC, datetime
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
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.db.engine import asyncpg_connection
from inclusion_kit.messaging.unit_of_work import UnitOfWork as KitUnitOfWork

# The kit's inbox insert over column arrays, sent on the asyncpg connection itself: on a consumed
# batch (2,000 attendance events) SQLAlchemy's handling of the parameters and of the returned rows
# costs more than the insert.
_INBOX_SQL = (
    'INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset", processed_at) '
    "SELECT $1::varchar, e, t, tp, p, o, $2::timestamptz "
    "FROM unnest($3::varchar[], $4::varchar[], $5::varchar[], $6::integer[], $7::bigint[]) "
    "AS u(e, t, tp, p, o) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


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

    async def record_inbox_many(
        self, consumer: str, deliveries: list[tuple[Envelope, int | None, int | None]]
    ) -> set[str]:
        """As the kit's (one statement, the ids that were new), straight on asyncpg."""
        driver = await asyncpg_connection(self.session) if deliveries else None
        if driver is None or self.tables.inbox.schema is not None:
            return await super().record_inbox_many(consumer, deliveries)
        first: dict[str, tuple[Envelope, int | None, int | None]] = {}
        for delivery in deliveries:
            first.setdefault(delivery[0].id, delivery)
        kept = list(first.values())
        rows = await driver.fetch(
            _INBOX_SQL,
            consumer,
            datetime.now(UTC),
            [e.id for e, _, _ in kept],
            [e.type for e, _, _ in kept],
            [e.topic for e, _, _ in kept],
            [p for _, p, _ in kept],
            [o for _, _, o in kept],
        )
        return {r[0] for r in rows}

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
