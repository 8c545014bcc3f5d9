"""exclusions's unit of work: one transaction per request or message, with its outgoing events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Self

from exclusions.adapters.repository import (
    AlertRepository,
    ExclusionRepository,
    PupilYearRepository,
    RollRepository,
    SchoolRepository,
    TimetableRepository,
)
from exclusions.service_layer import publishing
from inclusion_kit.messaging.unit_of_work import UnitOfWork as KitUnitOfWork


class UnitOfWork(KitUnitOfWork):
    schools: SchoolRepository
    roll: RollRepository
    exclusions: ExclusionRepository
    pupil_years: PupilYearRepository
    timetables: TimetableRepository
    alerts: AlertRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.schools = SchoolRepository(self.session)
        self.roll = RollRepository(self.session)
        self.exclusions = ExclusionRepository(self.session)
        self.pupil_years = PupilYearRepository(self.session)
        self.timetables = TimetableRepository(self.session)
        self.alerts = AlertRepository(self.session)
        return self

    async def commit(self) -> None:
        # State and the events it raised go in one transaction (transactional outbox). Events are
        # emitted in the order they were raised per aggregate: the exclusion before the flags it
        # caused (one child's events share a partition and keep this order).
        now = datetime.now(UTC)
        await self.exclusions.save()
        await self.pupil_years.save()
        await self.timetables.save()
        for exclusion in self.exclusions.seen.values():
            for event in exclusion.pending_events:
                self.emit(await publishing.exclusion_contract(event, exclusion, self.schools, now))
        for year in self.pupil_years.seen.values():
            for event in year.pending_events:
                self.emit(await publishing.pupil_year_contract(event, year, self.schools, now))
        for timetable in self.timetables.seen.values():
            for event in timetable.pending_events:
                self.emit(await publishing.timetable_contract(event, timetable, self.schools, now))
        await super().commit()
        for exclusion in self.exclusions.seen.values():
            exclusion.pending_events.clear()
        for year in self.pupil_years.seen.values():
            year.pending_events.clear()
        for timetable in self.timetables.seen.values():
            timetable.pending_events.clear()
