"""Handlers of exclusions: commands from the API and events from other services.

Command handlers take the unit of work and a :class:`Context` (clock, the LA's school calendar,
the reason-code set and the LA's policy figures). ``before_commit`` is what the entrypoint adds to
the same transaction (the access audit row, the stored answer to an Idempotency-Key): all of it
commits with the change and its outgoing events, or none of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from exclusions.adapters.repository import counted
from exclusions.domain import commands, rules
from exclusions.domain.errors import (
    DuplicateNotification,
    NotOnRoll,
    Rejected,
    SuspensionCapExceeded,
)
from exclusions.domain.model import Counted, Exclusion, PartTimeTimetable, PupilYear
from exclusions.domain.reason_codes import ReasonCodeSet
from exclusions.domain.rules import Kind, Policy
from exclusions.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.calendar import AcademicYear, CalendarRangeError, SchoolCalendar, london_date
from inclusion_kit.clock import Clock
from inclusion_kit.contracts import IntegrationEvent
from inclusion_kit.contracts.events.roll import PupilAddedToRoll, PupilEnrolmentRecorded, PupilRemovedFromRoll
from inclusion_kit.messaging.dispatch import BatchContext, HandlerContext
from inclusion_kit.service import ConsumerSpec


@dataclass(frozen=True)
class Context:
    clock: Clock
    calendar: SchoolCalendar
    reason_codes: ReasonCodeSet
    policy: Policy = field(default_factory=Policy)


BeforeCommit = Callable[[Any], Awaitable[Any]] | None


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def _on_roll(uow: UnitOfWork, school_urn: str, upn: str, on: date) -> str:
    """The child's reference when ``upn`` is on ``school_urn``'s roll on ``on``; else NotOnRoll."""
    entry = await uow.roll.entry(school_urn, upn)
    if entry is None:
        raise NotOnRoll(f"the pupil is not on the roll of school {school_urn}")
    start, until = entry["on_roll_from"], entry["on_roll_until"]
    if (start is not None and on < start) or (until is not None and on > until):
        raise NotOnRoll(f"the pupil is not on the roll of school {school_urn} on {on.isoformat()}")
    return str(entry["child_ref"])


def _span(cmd: commands.NotifyExclusion, calendar: SchoolCalendar) -> rules.Span | None:
    if cmd.kind is Kind.SUSPENSION:
        assert cmd.sessions is not None
        return rules.suspension_span(calendar, cmd.start_date, cmd.start_session, cmd.sessions)
    if cmd.kind is Kind.LUNCHTIME:
        return rules.lunchtime_span(calendar, cmd.start_date, cmd.lunchtimes or 1)
    rules.permanent_start(calendar, cmd.start_date)
    return None


def _check_notification(
    cmd: commands.NotifyExclusion, ctx: Context, today: date, now: Any
) -> rules.Span | None:
    errors: list[tuple[str, str]] = []
    year = AcademicYear.containing(cmd.start_date)
    for i, code in enumerate(cmd.reason_codes):
        if ctx.reason_codes.lookup(code, year) is None:
            errors.append((f"reason_codes/{i}", f"{code} is not an exclusion reason code in {year.label}"))
    if cmd.parents_notified_at > now:
        errors.append(("parents_notified_at", "the parents are told before the authority is"))
    span: rules.Span | None = None
    try:
        span = _span(cmd, ctx.calendar)
    except rules.NotASchoolDay as exc:
        errors.append(("start_date", str(exc)))
    except CalendarRangeError:
        errors.append(("start_date", "the date is outside the LA's configured school calendar"))
    if span is not None and cmd.end_date is not None and cmd.end_date != span.end:
        errors.append(
            (
                "end_date",
                f"{span.days:g} days from {cmd.start_date.isoformat()} ({cmd.start_session.value}) "
                f"end on {span.end.isoformat()} by the school calendar, not {cmd.end_date.isoformat()}",
            )
        )
    if errors:
        raise Rejected(errors)
    return span


async def notify_exclusion(
    cmd: commands.NotifyExclusion, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> Exclusion:
    """A school's notification: checked, counted against the pupil's year, its deadlines set."""
    now = ctx.clock.now()
    today = london_date(now)
    span = _check_notification(cmd, ctx, today, now)
    child_ref = await _on_roll(uow, cmd.school_urn, cmd.upn, cmd.start_date)
    year = AcademicYear.containing(cmd.start_date).label
    await uow.pupil_years.lock(child_ref, year)
    standing = [e for e in await uow.exclusions.of_pupil_in_year(child_ref, year) if e.withdrawn_on is None]
    _refuse_duplicates(cmd, standing, span)

    before = counted(standing)
    so_far = PupilYear.suspension_days(before)
    days = span.days if span else 0.0
    if cmd.kind is not Kind.PERMANENT and so_far + days > rules.CAP_DAYS:
        raise SuspensionCapExceeded(year, so_far, days, rules.CAP_DAYS)
    by_term = dict(span.days_by_term) if span else {}
    term_totals = {
        term: sum(c.days_by_term.get(term, 0.0) for c in before if c.kind is not Kind.PERMANENT) + d
        for term, d in by_term.items()
    }
    board = rules.board_deadlines(
        ctx.calendar,
        kind=cmd.kind,
        board_notified_on=today,
        term_totals=term_totals,
        misses_public_exam=cmd.misses_public_exam,
    )
    duty = rules.provision_duty(cmd.kind, days)
    exclusion_id = _new_id("ex")
    after = [*before, Counted(exclusion_id, cmd.kind, days, by_term)]
    exclusion = Exclusion.issue(
        year_days=PupilYear.suspension_days(after),
        year_suspensions=len(PupilYear.suspensions(after, ctx.policy)),
        id=exclusion_id,
        child_ref=child_ref,
        upn=cmd.upn,
        school_urn=cmd.school_urn,
        kind=cmd.kind,
        start_date=cmd.start_date,
        start_session=cmd.start_session,
        end_date=span.end if span else None,
        sessions=cmd.sessions if cmd.kind is Kind.SUSPENSION else None,
        days=days,
        days_by_term=by_term,
        reason_codes=tuple(c.upper() for c in cmd.reason_codes),
        academic_year=year,
        pupil=cmd.pupil,
        parents_notified_at=cmd.parents_notified_at,
        notified_at=now,
        misses_public_exam=cmd.misses_public_exam,
        school_reference=cmd.school_reference,
        submitted_by=cmd.submitted_by,
        board_review_due=board.review_due,
        board_review_reasons=board.reasons,
        representations_review_due=board.representations_due,
        sixth_day_due=rules.sixth_school_day(ctx.calendar, cmd.start_date) if duty else None,
        provision_responsibility=duty,
    )
    uow.exclusions.add(exclusion)
    if cmd.kind is not Kind.PERMANENT:
        pupil_year = await uow.pupil_years.get_or_new(child_ref, year)
        pupil_year.consider(
            after, school_urn=cmd.school_urn, upn=cmd.upn, today=today, at=now, policy=ctx.policy
        )
    if before_commit is not None:
        await before_commit(exclusion)
    await uow.commit()
    return exclusion


def _refuse_duplicates(
    cmd: commands.NotifyExclusion, standing: list[Exclusion], span: rules.Span | None
) -> None:
    for e in standing:
        if (
            e.school_urn == cmd.school_urn
            and e.kind is cmd.kind
            and e.start_date == cmd.start_date
            and e.start_session is cmd.start_session
        ):
            raise DuplicateNotification(
                f"this {cmd.kind.value} from {cmd.start_date.isoformat()} was already notified", e.id
            )
        if cmd.kind is Kind.PERMANENT and e.kind is Kind.PERMANENT and e.school_urn == cmd.school_urn:
            raise DuplicateNotification("the pupil is already permanently excluded from this school", e.id)
        if (
            cmd.kind is Kind.SUSPENSION
            and e.kind is Kind.SUSPENSION
            and span is not None
            and e.end_date is not None
            and e.start_date <= span.end
            and span.start <= e.end_date
        ):
            raise DuplicateNotification(
                f"the pupil is already suspended from {e.start_date.isoformat()} to "
                f"{e.end_date.isoformat()}: a suspension covering these days was notified",
                e.id,
            )


async def withdraw_exclusion(
    cmd: commands.WithdrawExclusion, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> Exclusion | None:
    exclusion = await uow.exclusions.get(cmd.exclusion_id)
    if exclusion is None:
        return None
    now = ctx.clock.now()
    if cmd.withdrawn_on > london_date(now):
        raise Rejected([("withdrawn_on", "a withdrawal is recorded once it has happened")])
    await uow.pupil_years.lock(exclusion.child_ref, exclusion.academic_year)
    others = [
        e
        for e in await uow.exclusions.of_pupil_in_year(exclusion.child_ref, exclusion.academic_year)
        if e.withdrawn_on is None and e.id != exclusion.id
    ]
    exclusion.withdraw(
        on=cmd.withdrawn_on,
        reason=cmd.reason,
        at=now,
        year_days_after=PupilYear.suspension_days(counted(others)),
    )
    if before_commit is not None:
        await before_commit(exclusion)
    await uow.commit()
    return exclusion


async def record_provision(
    cmd: commands.RecordProvision, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> Exclusion | None:
    exclusion = await uow.exclusions.get(cmd.exclusion_id)
    if exclusion is None:
        return None
    exclusion.arrange_provision(
        provider=cmd.provider,
        provider_urn=cmd.provider_urn,
        starts_on=cmd.starts_on,
        at=ctx.clock.now(),
        calendar=ctx.calendar,
    )
    if before_commit is not None:
        await before_commit(exclusion)
    await uow.commit()
    return exclusion


async def record_review(
    cmd: commands.ReviewCommand, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> Exclusion | None:
    """Representations, the board's decision, the panel's decision or the reconsideration."""
    exclusion = await uow.exclusions.get(cmd.exclusion_id)
    if exclusion is None:
        return None
    now = ctx.clock.now()
    today = london_date(now)
    latest = {
        commands.RecordRepresentations: lambda c: c.received_on,
        commands.RecordBoardDecision: lambda c: c.decided_on,
        commands.RecordPanelDecision: lambda c: c.decided_on,
        commands.RecordReconsideration: lambda c: c.decided_on,
    }[type(cmd)](cmd)
    if latest > today:
        raise Rejected(
            [
                (
                    "decided_on" if not isinstance(cmd, commands.RecordRepresentations) else "received_on",
                    "record a decision once it has been made",
                )
            ]
        )
    if isinstance(cmd, commands.RecordRepresentations):
        exclusion.record_representations(cmd.received_on, now)
    elif isinstance(cmd, commands.RecordBoardDecision):
        exclusion.record_board_decision(
            outcome=cmd.outcome,
            decided_on=cmd.decided_on,
            parents_notified_on=rules.deemed_notified_on(
                ctx.calendar, cmd.parents_notice_sent_on, cmd.notice_posted
            ),
            reinstated_on=cmd.reinstated_on,
            at=now,
            calendar=ctx.calendar,
        )
    elif isinstance(cmd, commands.RecordPanelDecision):
        exclusion.record_panel_decision(
            applied_on=cmd.applied_on,
            outcome=cmd.outcome,
            decided_on=cmd.decided_on,
            board_notified_on=cmd.board_notified_on,
            at=now,
            calendar=ctx.calendar,
        )
    else:
        exclusion.record_reconsideration(outcome=cmd.outcome, decided_on=cmd.decided_on, at=now)
    if before_commit is not None:
        await before_commit(exclusion)
    await uow.commit()
    return exclusion


# -- part-time timetables -----------------------------------------------------------------------


async def notify_part_time_timetable(
    cmd: commands.NotifyPartTimeTimetable, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> PartTimeTimetable:
    now = ctx.clock.now()
    errors = PartTimeTimetable.check(
        starts_on=cmd.starts_on,
        planned_end_on=cmd.planned_end_on,
        review_dates=list(cmd.review_dates),
        parent_agreed_on=cmd.parent_agreed_on,
    )
    if errors:
        raise Rejected(errors)
    assert cmd.planned_end_on is not None and cmd.parent_agreed_on is not None
    child_ref = await _on_roll(uow, cmd.school_urn, cmd.upn, cmd.starts_on)
    running = await uow.timetables.running(cmd.school_urn, child_ref)
    if running is not None:
        raise DuplicateNotification(
            "the pupil already has a running part-time timetable at this school", running
        )
    timetable = PartTimeTimetable.start(
        id=_new_id("pt"),
        child_ref=child_ref,
        upn=cmd.upn,
        school_urn=cmd.school_urn,
        starts_on=cmd.starts_on,
        planned_end_on=cmd.planned_end_on,
        hours_per_week=cmd.hours_per_week,
        reason=cmd.reason,
        parent_agreed_on=cmd.parent_agreed_on,
        review_dates=tuple(sorted(cmd.review_dates)),
        review_due=rules.part_time_review_due(ctx.calendar, cmd.starts_on, ctx.policy),
        notified_at=now,
        submitted_by=cmd.submitted_by,
    )
    uow.timetables.add(timetable)
    if before_commit is not None:
        await before_commit(timetable)
    await uow.commit()
    return timetable


async def review_part_time_timetable(
    cmd: commands.ReviewPartTimeTimetable, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> PartTimeTimetable | None:
    timetable = await uow.timetables.get(cmd.timetable_id)
    if timetable is None:
        return None
    now = ctx.clock.now()
    if cmd.reviewed_on > london_date(now):
        raise Rejected([("reviewed_on", "record a review once it has taken place")])
    timetable.review(
        on=cmd.reviewed_on,
        notes=cmd.notes,
        new_planned_end_on=cmd.new_planned_end_on,
        at=now,
        calendar=ctx.calendar,
        policy=ctx.policy,
    )
    if before_commit is not None:
        await before_commit(timetable)
    await uow.commit()
    return timetable


async def end_part_time_timetable(
    cmd: commands.EndPartTimeTimetable, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> PartTimeTimetable | None:
    timetable = await uow.timetables.get(cmd.timetable_id)
    if timetable is None:
        return None
    now = ctx.clock.now()
    if cmd.ended_on > london_date(now):
        raise Rejected([("ended_on", "record the end once it has happened")])
    timetable.end(on=cmd.ended_on, outcome=cmd.outcome, at=now)
    if before_commit is not None:
        await before_commit(timetable)
    await uow.commit()
    return timetable


# -- the roll projection (consumers of referral-api's roll events) ------------------------------


def _school_row(school: Any, at: Any) -> dict[str, Any]:
    return {
        "urn": school.urn,
        "laestab": school.laestab,
        "la_code": school.la_code,
        "name": school.name,
        "phase": school.phase.value,
        "district": school.district,
        "updated_at": at,
    }


async def _apply_enrolments(items: list[PupilEnrolmentRecorded], uow: UnitOfWork) -> None:
    await uow.schools.upsert_many([_school_row(e.school, e.occurred_at) for e in items])
    await uow.roll.record_enrolments(
        [
            {
                "school_urn": e.school.urn,
                "upn": e.upn,
                "child_ref": e.child_ref,
                "on_roll_from": e.on_roll_from,
                "on_roll_until": e.on_roll_until,
                "enrolment_version": e.aggregate_version,
                "last_event_at": e.occurred_at,
            }
            for e in items
        ]
    )


async def on_enrolment_recorded(event: IntegrationEvent, ctx: HandlerContext[UnitOfWork]) -> None:
    assert isinstance(event, PupilEnrolmentRecorded)
    await _apply_enrolments([event], ctx.uow)


async def on_enrolments_recorded(items: list[IntegrationEvent], ctx: BatchContext[UnitOfWork]) -> None:
    """A roll import is thousands of these: one statement per batch, not per pupil."""
    enrolments = [e for e in items if isinstance(e, PupilEnrolmentRecorded)]
    await _apply_enrolments(enrolments, ctx.uow)


async def on_pupil_added(event: IntegrationEvent, ctx: HandlerContext[UnitOfWork]) -> None:
    assert isinstance(event, PupilAddedToRoll)
    await ctx.uow.schools.upsert_many([_school_row(event.school, event.occurred_at)])
    if event.child.upn is None:
        return  # notifications name the pupil by UPN: a pupil without one cannot be matched
    await ctx.uow.roll.joined(
        event.school.urn, event.child.upn, event.child_ref, event.starting_day, event.occurred_at
    )


async def on_pupil_removed(event: IntegrationEvent, ctx: HandlerContext[UnitOfWork]) -> None:
    assert isinstance(event, PupilRemovedFromRoll)
    await ctx.uow.schools.upsert_many([_school_row(event.school, event.occurred_at)])
    if event.child.upn is None or event.deleted_on is None:
        return  # a return that precedes the deletion changes the roll only when the name goes
    await ctx.uow.roll.left(event.school.urn, event.child.upn, event.deleted_on, event.occurred_at)


ROLL_CONSUMER = "exclusions-roll"

# The consumer groups of this service and the event types each handles.
CONSUMERS: list[ConsumerSpec[UnitOfWork]] = [
    ConsumerSpec(
        name=ROLL_CONSUMER,
        handlers={
            PupilEnrolmentRecorded.event_type: on_enrolment_recorded,
            PupilAddedToRoll.event_type: on_pupil_added,
            PupilRemovedFromRoll.event_type: on_pupil_removed,
        },
        batch_handlers={PupilEnrolmentRecorded.event_type: on_enrolments_recorded},
    )
]
