"""Handlers of cme-tracker: events from other services, commands from officers, the review job.

Consumers take their dates from the event (the day the front door received the referral or
return), so a replay gives the same cases and due dates; ``Context.clock`` stamps the records and
decides what is overdue. Every consumer is idempotent twice over: the inbox drops a redelivered
envelope, and a referral or roll change already taken by a case or registration changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from cme_tracker.domain import commands, watch
from cme_tracker.domain.model import (
    CmeCase,
    EheAction,
    EheRegistration,
    Enquiry,
    Outcome,
    Rules,
)
from cme_tracker.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.calendar import AcademicYear, SchoolCalendar, london_date
from inclusion_kit.clock import Clock
from inclusion_kit.contracts import IntegrationEvent
from inclusion_kit.contracts.events import referrals as referral_contracts
from inclusion_kit.contracts.events import roll as roll_contracts
from inclusion_kit.messaging.dispatch import HandlerContext
from inclusion_kit.service import ConsumerSpec

CONSUMER = "cme-tracker"


@dataclass(frozen=True)
class Context:
    """What handlers need besides the unit of work: time, the LA's calendar and its rules."""

    clock: Clock
    calendar: SchoolCalendar
    rules: Rules = field(default_factory=Rules)
    offrolling_ratio: float = 2.0
    offrolling_min_removals: int = 3
    offrolling_not_counted: frozenset[str] = watch.DEFAULT_NOT_COUNTED


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


# What the entrypoint adds to the same transaction before it commits (the access audit row, the
# stored answer to an Idempotency-Key): all of it commits with the change, or none of it.
BeforeCommit = Callable[[Any], Awaitable[Any]] | None


# -- from other services ----------------------------------------------------------------------


async def child_needs_finding(
    cmd: commands.ChildNeedsFinding, uow: UnitOfWork, ctx: Context
) -> CmeCase | None:
    """Open a case, or add to the child's open case; None when this source was taken already."""
    if await uow.cases.source_taken(cmd.source, cmd.source_id):
        return None
    now = ctx.clock.now()
    case = await uow.cases.open_case_for(cmd.child_ref, cmd.upn)
    if case is not None:
        case.add_information(
            source=cmd.source, source_id=cmd.source_id, at=now, upn=cmd.upn, summary=cmd.summary
        )
    else:
        case = CmeCase.open(
            id=new_id("cme"),
            child_ref=cmd.child_ref,
            upn=cmd.upn,
            child=cmd.child,
            source=cmd.source,
            source_id=cmd.source_id,
            opened_on=cmd.received_on,
            at=now,
            school=cmd.school,
            summary=cmd.summary,
            rules=ctx.rules,
        )
        uow.cases.add(case)
    await uow.cases.take_source(cmd.source, cmd.source_id, case.id, now)
    return case


async def register_home_education(
    cmd: commands.RegisterHomeEducation, uow: UnitOfWork, ctx: Context
) -> EheRegistration | None:
    """Enter the child on the EHE register unless already on it (or this source was taken)."""
    if await uow.ehe.source_taken(cmd.source, cmd.source_id):
        return None
    existing = await uow.ehe.active_for(cmd.child_ref, cmd.upn)
    if existing is not None:
        return existing
    registration = EheRegistration.register(
        id=new_id("ehe"),
        child_ref=cmd.child_ref,
        upn=cmd.upn,
        child=cmd.child,
        source=cmd.source,
        source_id=cmd.source_id,
        registered_on=cmd.registered_on,
        parent_notice_received_on=cmd.parent_notice_received_on,
        school=cmd.school,
        at=ctx.clock.now(),
        rules=ctx.rules,
    )
    uow.ehe.add(registration)
    return registration


async def child_joined_roll(
    cmd: commands.ChildJoinedRoll, uow: UnitOfWork, ctx: Context, today: date
) -> CmeCase | None:
    """A new-pupil return closes the loop: the open case is placed; an EHE registration ends."""
    now = ctx.clock.now()
    registration = await uow.ehe.active_for(cmd.child_ref, cmd.upn)
    if registration is not None:
        registration.act(
            EheAction.END,
            max(registration.registered_on, min(cmd.starting_day, today)),
            at=now,
            today=max(today, registration.registered_on),
            rules=ctx.rules,
            reason=f"registered at school {cmd.school.get('urn')}",
        )
    case = await uow.cases.open_case_for(cmd.child_ref, cmd.upn)
    if case is None:
        return None
    case.place(
        cmd.school,
        cmd.starting_day,
        at=now,
        by="new-pupil-return",
        today=max(today, case.opened_on),
        roll_change_id=cmd.roll_change_id,
        school_calendar=ctx.calendar,
        rules=ctx.rules,
    )
    return case


async def watch_deletion(
    event: roll_contracts.PupilRemovedFromRoll, uow: UnitOfWork, ctx: Context
) -> list[str]:
    """Record a deletion for the off-rolling watch; the evidence gaps found."""
    school = event.school.model_dump(mode="json")
    received_on = london_date(event.received_at)
    known_year = watch.year_group_number(await uow.watch.year_group_of(event.school.urn, event.child_ref))
    year_group = (
        known_year
        if known_year is not None
        else watch.national_curriculum_year(event.child.date_of_birth, event.ground_met_on)
    )
    gaps = watch.evidence_gaps(
        watch.DeletionEvidence(
            ground=event.ground.value,
            ground_met_on=event.ground_met_on,
            deleted_on=event.deleted_on,
            received_on=received_on,
            destination=event.destination.model_dump(mode="json") if event.destination else None,
            parent_notice_received_on=event.parent_notice_received_on,
            la_enquiries_on_record=await uow.cases.any_enquiry_about(event.child_ref, event.child.upn),
        )
    )
    await uow.watch.record_deletion(
        {
            "id": event.roll_change_id,
            "child_ref": event.child_ref,
            "school_urn": event.school.urn,
            "school": school,
            "district": event.school.district,
            "ground": event.ground.value,
            "ground_met_on": event.ground_met_on,
            "deleted_on": event.deleted_on,
            "received_on": received_on,
            "academic_year": AcademicYear.containing(event.deleted_on or event.ground_met_on).label,
            "year_group": year_group,
            "evidence_gaps": gaps,
            "flagged": bool(gaps),
            "updated_at": ctx.clock.now(),
        }
    )
    return gaps


def _child(identity: Any) -> dict[str, Any]:
    return cast(dict[str, Any], identity.model_dump(mode="json"))


def consumers(ctx: Context) -> list[ConsumerSpec[UnitOfWork]]:
    """The consumer group of this service and the event types it handles."""

    async def on_referral(event: IntegrationEvent, hc: HandlerContext[UnitOfWork]) -> None:
        assert isinstance(event, referral_contracts.ReferralReceived)
        kind = referral_contracts.ReferralKind
        school = event.school or (event.referrer.school if event.referrer else None)
        school_json = school.model_dump(mode="json") if school else None
        if event.kind is kind.CHILD_MISSING_EDUCATION:
            details = event.missing_education
            await child_needs_finding(
                commands.ChildNeedsFinding(
                    child_ref=event.child_ref,
                    upn=event.child.upn,
                    child=_child(event.child),
                    source="referral",
                    source_id=event.referral_id,
                    received_on=london_date(event.received_at),
                    school=school_json,
                    summary={
                        "referrer": event.referrer.kind.value,
                        "last_attended_on": details.last_attended_on.isoformat()
                        if details and details.last_attended_on
                        else None,
                    },
                ),
                hc.uow,
                ctx,
            )
        elif event.kind is kind.ELECTIVE_HOME_EDUCATION:
            await register_home_education(
                commands.RegisterHomeEducation(
                    child_ref=event.child_ref,
                    upn=event.child.upn,
                    child=_child(event.child),
                    source="referral",
                    source_id=event.referral_id,
                    registered_on=london_date(event.received_at),
                    parent_notice_received_on=event.home_education.parent_notice_received_on
                    if event.home_education
                    else None,
                    school=school_json,
                ),
                hc.uow,
                ctx,
            )
        # Other kinds belong to other services: nothing to do (the inbox still records them).

    async def on_removed(event: IntegrationEvent, hc: HandlerContext[UnitOfWork]) -> None:
        assert isinstance(event, roll_contracts.PupilRemovedFromRoll)
        await watch_deletion(event, hc.uow, ctx)
        school = event.school.model_dump(mode="json")
        if event.education_unknown:
            await child_needs_finding(
                commands.ChildNeedsFinding(
                    child_ref=event.child_ref,
                    upn=event.child.upn,
                    child=_child(event.child),
                    source="deletion_return",
                    source_id=event.roll_change_id,
                    received_on=london_date(event.received_at),
                    school=school,
                    summary={"ground": event.ground.value, "ground_met_on": event.ground_met_on.isoformat()},
                ),
                hc.uow,
                ctx,
            )
        if event.ground is roll_contracts.DeletionGround.F_HOME_EDUCATION:
            await register_home_education(
                commands.RegisterHomeEducation(
                    child_ref=event.child_ref,
                    upn=event.child.upn,
                    child=_child(event.child),
                    source="deletion_return",
                    source_id=event.roll_change_id,
                    registered_on=london_date(event.received_at),
                    parent_notice_received_on=event.parent_notice_received_on,
                    school=school,
                ),
                hc.uow,
                ctx,
            )

    async def on_added(event: IntegrationEvent, hc: HandlerContext[UnitOfWork]) -> None:
        assert isinstance(event, roll_contracts.PupilAddedToRoll)
        await child_joined_roll(
            commands.ChildJoinedRoll(
                child_ref=event.child_ref,
                upn=event.child.upn,
                roll_change_id=event.roll_change_id,
                school=event.school.model_dump(mode="json"),
                starting_day=event.starting_day,
            ),
            hc.uow,
            ctx,
            london_date(event.received_at),
        )

    async def on_enrolment(event: IntegrationEvent, hc: HandlerContext[UnitOfWork]) -> None:
        assert isinstance(event, roll_contracts.PupilEnrolmentRecorded)
        await hc.uow.watch.record_enrolment(
            {
                "school_urn": event.school.urn,
                "child_ref": event.child_ref,
                "school": event.school.model_dump(mode="json"),
                "year_group": event.year_group,
                "on_roll_from": event.on_roll_from,
                "on_roll_until": event.on_roll_until,
                "version": event.aggregate_version,
            }
        )

    return [
        ConsumerSpec(
            name=CONSUMER,
            handlers={
                referral_contracts.ReferralReceived.event_type: on_referral,
                roll_contracts.PupilRemovedFromRoll.event_type: on_removed,
                roll_contracts.PupilAddedToRoll.event_type: on_added,
                roll_contracts.PupilEnrolmentRecorded.event_type: on_enrolment,
            },
        )
    ]


# -- officers' commands -----------------------------------------------------------------------


async def _case_command(
    case_id: str,
    uow: UnitOfWork,
    change: Callable[[CmeCase], None],
    before_commit: BeforeCommit,
    *,
    visible: Callable[[CmeCase], bool] = lambda _c: True,
) -> CmeCase | None:
    case = await uow.cases.get(case_id, for_update=True)
    if case is None or not visible(case):
        return None
    change(case)
    if before_commit is not None:
        await before_commit(case)
    await uow.commit()
    return case


async def record_enquiry(
    cmd: commands.RecordEnquiry,
    uow: UnitOfWork,
    ctx: Context,
    before_commit: BeforeCommit = None,
    visible: Callable[[CmeCase], bool] = lambda _c: True,
) -> CmeCase | None:
    now = ctx.clock.now()
    enquiry = Enquiry(
        id=new_id("enq"),
        kind=cmd.kind,
        made_on=cmd.made_on,
        made_by=cmd.made_by,
        result=cmd.result,
        notes=cmd.notes,
        recorded_at=now,
        recorded_by=cmd.recorded_by,
    )
    return await _case_command(
        cmd.case_id,
        uow,
        lambda c: c.record_enquiry(enquiry, today=london_date(now), rules=ctx.rules),
        before_commit,
        visible=visible,
    )


async def locate_child(
    cmd: commands.LocateChild,
    uow: UnitOfWork,
    ctx: Context,
    before_commit: BeforeCommit = None,
    visible: Callable[[CmeCase], bool] = lambda _c: True,
) -> CmeCase | None:
    now = ctx.clock.now()
    return await _case_command(
        cmd.case_id,
        uow,
        lambda c: c.locate(
            cmd.located_on, at=now, by=cmd.recorded_by, today=london_date(now), school_calendar=ctx.calendar
        ),
        before_commit,
        visible=visible,
    )


async def review_case(
    cmd: commands.ReviewCase,
    uow: UnitOfWork,
    ctx: Context,
    before_commit: BeforeCommit = None,
    visible: Callable[[CmeCase], bool] = lambda _c: True,
) -> CmeCase | None:
    now = ctx.clock.now()
    return await _case_command(
        cmd.case_id,
        uow,
        lambda c: c.review(
            cmd.reviewed_on, at=now, by=cmd.recorded_by, today=london_date(now), rules=ctx.rules
        ),
        before_commit,
        visible=visible,
    )


async def record_placement(
    cmd: commands.RecordPlacement,
    uow: UnitOfWork,
    ctx: Context,
    before_commit: BeforeCommit = None,
    visible: Callable[[CmeCase], bool] = lambda _c: True,
) -> CmeCase | None:
    now = ctx.clock.now()
    return await _case_command(
        cmd.case_id,
        uow,
        lambda c: c.place(
            cmd.school,
            cmd.placed_on,
            at=now,
            by=cmd.recorded_by,
            today=london_date(now),
            roll_change_id=None,
            school_calendar=ctx.calendar,
            rules=ctx.rules,
        ),
        before_commit,
        visible=visible,
    )


async def close_case(
    cmd: commands.CloseCase,
    uow: UnitOfWork,
    ctx: Context,
    before_commit: BeforeCommit = None,
    visible: Callable[[CmeCase], bool] = lambda _c: True,
) -> CmeCase | None:
    """Close with an outcome; "now home educated" also enters the child on the EHE register."""
    now = ctx.clock.now()
    case = await uow.cases.get(cmd.case_id, for_update=True)
    if case is None or not visible(case):
        return None
    case.close(
        cmd.outcome,
        cmd.closed_on,
        at=now,
        by=cmd.recorded_by,
        today=london_date(now),
        rules=ctx.rules,
        other_la_code=cmd.other_la_code,
        duplicate_of=cmd.duplicate_of,
    )
    if cmd.outcome is Outcome.ELECTIVELY_HOME_EDUCATED:
        await register_home_education(
            commands.RegisterHomeEducation(
                child_ref=case.child_ref,
                upn=case.upn,
                child=case.child,
                source="cme_case",
                source_id=case.id,
                registered_on=cmd.closed_on,
                parent_notice_received_on=None,
                school=case.school,
            ),
            uow,
            ctx,
        )
    if before_commit is not None:
        await before_commit(case)
    await uow.commit()
    return case


async def ehe_act(
    cmd: commands.EheAction,
    uow: UnitOfWork,
    ctx: Context,
    before_commit: BeforeCommit = None,
    visible: Callable[[EheRegistration], bool] = lambda _r: True,
) -> EheRegistration | None:
    now = ctx.clock.now()
    registration = await uow.ehe.get(cmd.registration_id, for_update=True)
    if registration is None or not visible(registration):
        return None
    registration.act(
        EheAction(cmd.action), cmd.on, at=now, today=london_date(now), rules=ctx.rules, reason=cmd.reason
    )
    if before_commit is not None:
        await before_commit(registration)
    await uow.commit()
    return registration


# -- the scheduled review job -----------------------------------------------------------------


@dataclass(frozen=True)
class OverdueReview:
    case_id: str
    district: str | None
    review_due: date
    period: int
    days_overdue: int
    notified: bool  # a CmeReviewOverdue was emitted by this run


async def check_reviews(
    uow_factory: Callable[[], UnitOfWork], ctx: Context, batch: int = 200
) -> list[OverdueReview]:
    """Every open case past its review date, emitting CmeReviewOverdue once per overdue period.

    Safe to run as often as wanted, from several places at once: each case is locked while it is
    checked, and a period already notified is not notified again."""
    now = ctx.clock.now()
    today = london_date(now)
    found: list[OverdueReview] = []
    after = ""
    while True:
        async with uow_factory() as uow:
            ids = await uow.cases.overdue_review_ids(today, batch, after)
            if not ids:
                break
            for case_id in ids:
                case = await uow.cases.get(case_id, for_update=True)
                if case is None:
                    continue
                notified = case.check_review(today, at=now, rules=ctx.rules)
                period = case.review_overdue_period(today, ctx.rules)
                if period:
                    found.append(
                        OverdueReview(
                            case.id,
                            case.district,
                            case.next_review_due,
                            period,
                            (today - case.next_review_due).days,
                            notified,
                        )
                    )
            await uow.commit()
            after = ids[-1]
    return found
