"""referral-api's unit of work: one transaction per request or message, with its outgoing events."""

from __future__ import annotations

from typing import Self

from inclusion_kit.messaging.unit_of_work import UnitOfWork as KitUnitOfWork
from referral_api.adapters.repository import ChildRepository, ReferralRepository, SchoolRepository
from referral_api.service_layer import publishing


class UnitOfWork(KitUnitOfWork):
    referrals: ReferralRepository
    schools: SchoolRepository
    children: ChildRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.referrals = ReferralRepository(self.session)
        self.schools = SchoolRepository(self.session)
        self.children = ChildRepository(self.session)
        return self

    async def commit(self) -> None:
        # State and the events it raised go in one transaction (transactional outbox).
        await self.referrals.save()
        for referral in self.referrals.seen.values():
            for event in referral.pending_events:
                self.emit(await publishing.to_contract(event, referral, self.schools))
        await super().commit()
        for referral in self.referrals.seen.values():
            referral.pending_events.clear()
