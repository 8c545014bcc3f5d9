"""referral-api's unit of work: one transaction per request or message, with its outgoing events."""

from __future__ import annotations

from typing import Self

from inclusion_kit.messaging.unit_of_work import UnitOfWork as KitUnitOfWork
from referral_api.adapters.repository import (
    ChildRepository,
    ReferralRepository,
    RollChangeRepository,
    SchoolRepository,
)
from referral_api.service_layer import publishing


class UnitOfWork(KitUnitOfWork):
    referrals: ReferralRepository
    schools: SchoolRepository
    children: ChildRepository
    roll_changes: RollChangeRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.referrals = ReferralRepository(self.session)
        self.schools = SchoolRepository(self.session)
        self.children = ChildRepository(self.session)
        self.roll_changes = RollChangeRepository(self.session)
        return self

    async def commit(self) -> None:
        # State and the events it raised go in one transaction (transactional outbox).
        await self.referrals.save()
        await self.roll_changes.save()
        for referral in self.referrals.seen.values():
            for event in referral.pending_events:
                self.emit(await publishing.to_contract(event, referral, self.schools))
        for change in self.roll_changes.seen.values():
            if change.pending_events:  # a roll change raises exactly one event, when recorded
                self.emit(await publishing.roll_change_contract(change, self.schools))
        await super().commit()
        for referral in self.referrals.seen.values():
            referral.pending_events.clear()
        for change in self.roll_changes.seen.values():
            change.pending_events.clear()
