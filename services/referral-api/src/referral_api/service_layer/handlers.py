"""Handlers of referral-api: commands from the API and events from other services."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from inclusion_kit.calendar import SchoolCalendar, london_date
from inclusion_kit.clock import Clock
from inclusion_kit.service import ConsumerSpec
from referral_api.domain import commands
from referral_api.domain.errors import UnknownSchool
from referral_api.domain.model import DEFAULT_RESPONSE_SCHOOL_DAYS, Referral
from referral_api.service_layer.unit_of_work import UnitOfWork

# The consumer groups of this service and the event types each handles.
CONSUMERS: list[ConsumerSpec[UnitOfWork]] = []


@dataclass(frozen=True)
class Context:
    """What handlers need besides the unit of work: time and the LA's school calendar."""

    clock: Clock
    calendar: SchoolCalendar
    response_school_days: int = DEFAULT_RESPONSE_SCHOOL_DAYS


# What the entrypoint adds to the same transaction before it commits (the access audit row, the
# stored answer to an Idempotency-Key): all of it commits with the change, or none of it.
BeforeCommit = Callable[[Referral], Awaitable[Any]] | None


async def submit_referral(
    cmd: commands.SubmitReferral, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> Referral:
    for urn in {cmd.school_urn, cmd.referrer.school_urn} - {None}:
        assert urn is not None
        if await uow.schools.get(urn) is None:
            raise UnknownSchool(f"no school with URN {urn} in the reference list")
    now = ctx.clock.now()
    child_ref = await uow.children.reference_for(cmd.child.upn, now)
    referral = Referral.receive(
        id="r-" + uuid.uuid4().hex[:16],
        child_ref=child_ref,
        kind=cmd.kind,
        child=cmd.child,
        referrer=cmd.referrer,
        school_urn=cmd.school_urn,
        summary=cmd.summary,
        details=cmd.details,
        received_at=now,
        # "Within 10 school days of receipt": the 10th school day after the day it arrived.
        response_due=ctx.calendar.add_school_days(london_date(now), ctx.response_school_days),
        submitted_by=cmd.submitted_by,
    )
    uow.referrals.add(referral)
    if before_commit is not None:
        await before_commit(referral)
    await uow.commit()
    return referral


async def triage_referral(
    cmd: commands.TriageReferral, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> Referral | None:
    referral = await uow.referrals.get(cmd.referral_id)
    if referral is None:
        return None
    referral.triage(
        cmd.decision,
        at=ctx.clock.now(),
        by=cmd.decided_by,
        reason=cmd.reason,
        redirected_to=cmd.redirected_to,
    )
    if before_commit is not None:
        await before_commit(referral)
    await uow.commit()
    return referral
