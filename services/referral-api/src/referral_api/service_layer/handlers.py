"""Handlers of referral-api: commands from the API and events from other services."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from inclusion_kit.calendar import SchoolCalendar, london_date
from inclusion_kit.clock import Clock
from inclusion_kit.service import ConsumerSpec
from referral_api.domain import commands, roll
from referral_api.domain.errors import UnknownSchool
from referral_api.domain.model import DEFAULT_RESPONSE_SCHOOL_DAYS, Child, Referral
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


async def record_deletion(
    ret: roll.DeletionReturn, uow: UnitOfWork, ctx: Context, submitted_by: str, before_commit: Any = None
) -> roll.RollChange:
    """A deletion return: checked per ground against the LA's calendar, then recorded and evented."""
    if await uow.schools.get(ret.school_urn) is None:
        raise UnknownSchool(f"no school with URN {ret.school_urn} in the reference list")
    now = ctx.clock.now()
    errors = roll.check_deletion(ret, ctx.calendar, london_date(now))
    if errors:
        raise roll.RollChangeRejected(errors)
    child_ref = await uow.children.reference_for(ret.child.upn, now)
    details: dict[str, Any] = {
        "ground": ret.ground.value,
        "ground_met_on": ret.ground_met_on.isoformat(),
        "deleted_on": ret.deleted_on.isoformat() if ret.deleted_on else None,
        "parents": ret.parents,
        "destination": ret.destination,
        "parent_notice_received_on": (
            ret.parent_notice_received_on.isoformat() if ret.parent_notice_received_on else None
        ),
        "leave_ended_on": ret.leave_ended_on.isoformat() if ret.leave_ended_on else None,
        "absence_from": ret.absence_from.isoformat() if ret.absence_from else None,
        "absence_to": ret.absence_to.isoformat() if ret.absence_to else None,
        "absence_codes": sorted(ret.absence_codes),
        "excluded_on": ret.excluded_on.isoformat() if ret.excluded_on else None,
        "enquiries": [
            {"made_on": e.made_on.isoformat(), "by": e.by.value, "method": e.method, "outcome": e.outcome}
            for e in ret.enquiries
        ],
        "education_unknown": roll.education_unknown(ret),
    }
    change = roll.RollChange.record(
        id="rc-" + uuid.uuid4().hex[:16],
        kind="deletion",
        school_urn=ret.school_urn,
        child_ref=child_ref,
        child=ret.child,
        details=details,
        received_at=now,
        submitted_by=submitted_by,
    )
    uow.roll_changes.add(change)
    if before_commit is not None:
        await before_commit(change)
    await uow.commit()
    return change


async def record_admission(
    school_urn: str,
    child: Child,
    starting_day: date,
    entered_on: date,
    year_group: str | None,
    previous_school_urn: str | None,
    uow: UnitOfWork,
    ctx: Context,
    submitted_by: str,
    before_commit: Any = None,
) -> roll.RollChange:
    """A new-pupil return: the pupil joins the roll; late when after the end of the 5th day."""
    if await uow.schools.get(school_urn) is None:
        raise UnknownSchool(f"no school with URN {school_urn} in the reference list")
    now = ctx.clock.now()
    today = london_date(now)
    errors: list[tuple[str, str]] = []
    if entered_on > today:
        errors.append(("entered_on", "a pupil is entered on the register before the return is sent"))
    if errors:
        raise roll.RollChangeRejected(errors)
    due = roll.new_pupil_return_due(entered_on)
    child_ref = await uow.children.reference_for(child.upn, now)
    details: dict[str, Any] = {
        "starting_day": starting_day.isoformat(),
        "entered_on": entered_on.isoformat(),
        "return_due_by": due.isoformat(),
        "returned_late": today > due,
        "year_group": year_group,
        "previous_school_urn": previous_school_urn,
    }
    change = roll.RollChange.record(
        id="rc-" + uuid.uuid4().hex[:16],
        kind="admission",
        school_urn=school_urn,
        child_ref=child_ref,
        child=child,
        details=details,
        received_at=now,
        submitted_by=submitted_by,
    )
    uow.roll_changes.add(change)
    if before_commit is not None:
        await before_commit(change)
    await uow.commit()
    return change
