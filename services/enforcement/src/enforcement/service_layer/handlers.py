"""Handlers of enforcement: commands from the API and events from other services.

- ``AttendanceRecorded`` (consumer ``enforcement.positions``): marks into attendance positions;
  crossings of the persistent- and severe-absence levels raise ``PersistentAbsenceIdentified``.
  A batch of events is applied by one call with set-based SQL (see ``adapters/positions.py``).
- The penalty-notice process: a school's request, the LA's decision under the code of conduct in
  force, issue, payment, withdrawal, the sweep of unpaid notices into prosecution, court outcomes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from enforcement.adapters.positions import MarkBatch, upsert_schools
from enforcement.domain import commands
from enforcement.domain.errors import DomainError, IllegalTransition, RuleFailed
from enforcement.domain.model import (
    CaseStatus,
    CourtOutcome,
    LiableParent,
    OffenceSection,
    PenaltyNotice,
    PenaltyRequest,
    ProsecutionCase,
    RequestStatus,
)
from enforcement.domain.policy import (
    Judgement,
    NoticeTerms,
    PolicyBook,
    RequestFacts,
    RuleResult,
    judge,
    notice_terms,
    received_on,
)
from enforcement.domain.positions import AbsenceRules, MarkClassifier
from enforcement.service_layer import publishing
from enforcement.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.calendar import CalendarRangeError, SchoolCalendar, london_date
from inclusion_kit.clock import Clock
from inclusion_kit.codes import UnknownAttendanceCode
from inclusion_kit.contracts import IntegrationEvent
from inclusion_kit.contracts.events.attendance import AttendanceRecorded
from inclusion_kit.contracts.events.common import SchoolRef
from inclusion_kit.messaging.dispatch import BatchContext, HandlerContext, PermanentError
from inclusion_kit.service import ConsumerSpec

log = logging.getLogger(__name__)

POSITIONS_CONSUMER = "enforcement.positions"


@dataclass(frozen=True)
class Context:
    """What handlers need besides the unit of work: time, the LA's calendar, its rules."""

    clock: Clock
    calendar: SchoolCalendar
    policies: PolicyBook
    classifier: MarkClassifier
    rules: AbsenceRules
    la_code: str

    def today(self) -> date:
        return london_date(self.clock.now())


class UnknownSchool(DomainError):
    code = "unknown-school"


class UnknownPupil(DomainError):
    code = "unknown-pupil"


class InvalidRequest(DomainError):
    code = "invalid-request"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


# --- attendance positions ---------------------------------------------------------------------


def incoming_marks(events: Sequence[AttendanceRecorded], ctx: Context) -> MarkBatch:
    """Each mark with its category (from its regime's code table) and its place in the calendar.

    A mark the code tables or the calendar cannot place makes the event permanent-failed (it goes
    to the dead letters, to be replayed once the configuration knows it) rather than silently
    leaving a session out of a child's position. Each distinct code and day is looked up once."""
    batch = MarkBatch()
    classifier = ctx.classifier
    kinds: dict[tuple[str, str], tuple[str, int]] = {}  # (code as sent, regime) -> (as spelled, kind)
    places: dict[date, int] = {}
    for event in events:
        for m in event.marks:
            session = m.session.value
            if session not in ("AM", "PM"):
                raise PermanentError(f"session {session!r} is neither AM nor PM")
            day, regime = m.date, m.regime
            kind = kinds.get((m.code, regime))
            place = places.get(day)
            if kind is None or place is None:
                try:
                    category, threshold, code = classifier.code(m.code, regime)
                    facts = classifier.facts(day, code, regime)
                except (UnknownAttendanceCode, ValueError) as exc:
                    raise PermanentError(f"code {m.code!r} is not in the {regime} code table") from exc
                except CalendarRangeError as exc:
                    raise PermanentError(f"a mark's date is outside the configured calendar: {exc}") from exc
                if kind is None:
                    batch.kinds.append((category.value, threshold))
                    kind = kinds[(m.code, regime)] = (code, len(batch.kinds))
                if place is None:
                    batch.places.append(
                        (facts.academic_year, facts.term, facts.week, facts.remaining_sessions)
                    )
                    place = places[day] = len(batch.places)
            batch.days.append(day)
            batch.sessions.append(session)
            batch.codes.append(kind[0])
            batch.regimes.append(regime)
            batch.kind_of.append(kind[1])
            batch.place_of.append(place)
        count = len(event.marks)
        batch.urns.extend([event.school.urn] * count)
        batch.child_refs.extend([event.child_ref] * count)
        batch.upns.extend([event.upn] * count)
        batch.versions.extend([event.aggregate_version] * count)
    return batch


async def apply_attendance(events: Sequence[AttendanceRecorded], uow: UnitOfWork, ctx: Context) -> int:
    """Apply the events' marks to the positions and raise the crossings; returns marks applied.

    Runs inside the dispatcher's unit of work (the inbox rows commit with it)."""
    now = ctx.clock.now()
    marks = incoming_marks(events, ctx)
    latest: dict[str, SchoolRef] = {e.school.urn: e.school for e in events}
    await upsert_schools(uow.session, [publishing.school_row(s, now) for s in latest.values()])
    store = await uow.position_store(ctx.rules)
    for crossing in await store.apply(marks, now):
        school = latest.get(crossing.school_urn) or publishing.school_ref(
            await uow.schools.get(crossing.school_urn), crossing.school_urn
        )
        for event in publishing.persistent_absence(crossing, school, ctx.rules, now):
            uow.emit(event)
    return len(marks)


def consumers(ctx: Context) -> list[ConsumerSpec[UnitOfWork]]:
    """The consumer groups of this service and the event types each handles."""

    async def one(event: IntegrationEvent, hc: HandlerContext[UnitOfWork]) -> None:
        await apply_attendance([cast(AttendanceRecorded, event)], hc.uow, ctx)

    async def many(events: list[IntegrationEvent], bc: BatchContext[UnitOfWork]) -> None:
        await apply_attendance(cast(list[AttendanceRecorded], events), bc.uow, ctx)

    return [
        ConsumerSpec(
            name=POSITIONS_CONSUMER,
            handlers={AttendanceRecorded.event_type: one},
            batch_handlers={AttendanceRecorded.event_type: many},
        )
    ]


# --- the penalty-notice process ----------------------------------------------------------------

# What the entrypoint adds to the same transaction before it commits (the access audit row, the
# stored answer to an Idempotency-Key): all of it commits with the change, or none of it.
BeforeCommit = Callable[[Any], Awaitable[Any]] | None


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def submit_request(
    cmd: commands.RequestPenaltyNotice, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> PenaltyRequest:
    school = await uow.schools.get(cmd.school_urn)
    if school is None:
        raise UnknownSchool(f"no attendance has been received from the school with URN {cmd.school_urn}")
    today = ctx.today()
    problems: list[tuple[str, str]] = []
    if cmd.period_end < cmd.period_start:
        problems.append(("period_end", "the period ends before it starts"))
    if cmd.period_end > today:
        problems.append(("period_end", "the period cannot end in the future"))
    if cmd.notice_to_improve_issued_on and cmd.notice_to_improve_issued_on > today:
        problems.append(("notice_to_improve_issued_on", "cannot be in the future"))
    keys = [p.match_key() for p in cmd.parents]
    if len(set(keys)) != len(keys):
        problems.append(("parents", "the same parent is named twice"))
    if problems:
        raise InvalidRequest(problems)
    child_ref = await uow.pupils.child_ref_for(cmd.school_urn, cmd.upn)
    if child_ref is None:
        raise UnknownPupil("no attendance has been received for this pupil at this school")
    now = ctx.clock.now()
    liable = [
        LiableParent(
            parent_ref=await uow.parents.ref_for(key, now),
            forename=p.forename,
            surname=p.surname,
            relationship=p.relationship,
            address=p.address,
        )
        for p, key in zip(cmd.parents, keys, strict=True)
    ]
    request = PenaltyRequest.submit(
        id=_new_id("pr"),
        child_ref=child_ref,
        school_urn=cmd.school_urn,
        la_code=school["la_code"] or ctx.la_code,
        upn=cmd.upn,
        offence_type=cmd.offence_type,
        period_start=cmd.period_start,
        period_end=cmd.period_end,
        parents=liable,
        requested_at=now,
        requested_by=cmd.requested_by,
        notice_to_improve_issued_on=cmd.notice_to_improve_issued_on,
        aggravating_factors=list(cmd.aggravating_factors),
        evidence=cmd.evidence,
    )
    uow.requests.add(request)
    if before_commit is not None:
        await before_commit(request)
    await uow.commit()
    return request


@dataclass(frozen=True)
class Assessment:
    judgement: Judgement
    terms: dict[str, NoticeTerms | RuleResult]
    code_at_issue: str


async def assess(request: PenaltyRequest, uow: UnitOfWork, ctx: Context, on: date) -> Assessment:
    """Judge the request by the codes of its time, and each parent's notice by the code in force
    on the proposed issue date ``on``."""
    marks = await uow.pupils.marks(
        request.school_urn, request.child_ref, request.period_start, request.period_end
    )
    facts = RequestFacts(
        la_code=request.la_code,
        period_start=request.period_start,
        period_end=request.period_end,
        offence_type=request.offence_type.value,
        notice_to_improve_issued_on=request.notice_to_improve_issued_on,
        aggravating_factors=frozenset(request.aggravating_factors),
    )
    judgement = judge(ctx.policies, facts, marks, ctx.calendar, on)
    code = ctx.policies.in_force(request.la_code, on)
    terms = {
        p.parent_ref: notice_terms(code, await uow.notices.issue_dates(p.parent_ref, request.child_ref), on)
        for p in request.parents
    }
    return Assessment(judgement, terms, code.id)


async def decide_request(
    cmd: commands.DecideRequest, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> PenaltyRequest | None:
    request = await uow.requests.get(cmd.request_id)
    if request is None:
        return None
    if request.status is not RequestStatus.SUBMITTED:
        raise IllegalTransition(f"the request is already {request.status.value}; it is decided once")
    today = ctx.today()
    found = await assess(request, uow, ctx, today)
    code = ctx.policies.get(found.code_at_issue)
    request.decide(
        found.judgement,
        found.terms,
        at=ctx.clock.now(),
        decided_on=today,
        by=cmd.decided_by,
        issue_within_days=code.issue_within_days,
        decline_reason=cmd.decline_reason,
        offence_section=cmd.offence_section.value,
    )
    if before_commit is not None:
        await before_commit(request)
    await uow.commit()
    return request


async def issue_notice(
    cmd: commands.IssueNotice, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> PenaltyNotice | None:
    request = await uow.requests.get(cmd.request_id)
    if request is None:
        return None
    parent = request.parent(cmd.parent_ref)
    if parent is None:
        return None
    today = ctx.today()
    served = cmd.served_on or today
    if served < today:
        raise InvalidRequest([("served_on", "a notice is served on or after the day it is issued")])
    code = ctx.policies.in_force(request.la_code, today)
    # The limit is checked again at issue: another notice may have been issued since the decision.
    terms = notice_terms(code, await uow.notices.issue_dates(parent.parent_ref, request.child_ref), today)
    if isinstance(terms, RuleResult):
        raise RuleFailed(terms.rule.value, terms.detail)
    now = ctx.clock.now()
    notice_id = _new_id("pn")
    request.record_issue(parent.parent_ref, notice_id, now)  # raises unless awaiting issue
    notice = PenaltyNotice.issue(
        id=notice_id,
        number=await uow.notices.next_number(request.la_code, today.year),
        request=request,
        parent=parent,
        terms=terms,
        issued_on=today,
        issued_by=cmd.issued_by,
        service_method=cmd.service_method,
        served_on=served,
        received_on=received_on(code, served, cmd.service_method.value, ctx.calendar.bank_holidays()),
        at=now,
    )
    uow.notices.add(notice)
    if before_commit is not None:
        await before_commit(notice)
    await uow.commit()
    return notice


async def record_payment(
    cmd: commands.RecordPayment, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> PenaltyNotice | None:
    notice = await uow.notices.get(cmd.notice_id)
    if notice is None:
        return None
    if cmd.paid_on > ctx.today():
        raise InvalidRequest([("paid_on", "a payment cannot be dated in the future")])
    notice.pay(cmd.paid_on, cmd.amount_pence, ctx.clock.now())
    if before_commit is not None:
        await before_commit(notice)
    await uow.commit()
    return notice


async def withdraw_notice(
    cmd: commands.WithdrawNotice, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> PenaltyNotice | None:
    """Withdraw a notice; an open prosecution case for it (information not yet laid) ends as not
    pursued in the same transaction."""
    notice = await uow.notices.get(cmd.notice_id)
    if notice is None:
        return None
    now = ctx.clock.now()
    on = cmd.withdrawn_on or ctx.today()
    if on > ctx.today():
        raise InvalidRequest([("withdrawn_on", "cannot be in the future")])
    if notice.prosecution_case_id:
        case = await uow.cases.get(notice.prosecution_case_id)
        if case is not None and case.status is CaseStatus.LAID:
            raise IllegalTransition("information has been laid: conclude the prosecution case instead")
        if case is not None and case.status is CaseStatus.OPEN:
            case.conclude(CourtOutcome.NOT_PURSUED, on, now)
    notice.withdraw(on, cmd.ground, cmd.note, now)
    if before_commit is not None:
        await before_commit(notice)
    await uow.commit()
    return notice


async def sweep_unpaid(uow: UnitOfWork, ctx: Context, limit: int = 500) -> list[ProsecutionCase]:
    """Every issued notice unpaid past its last due date becomes a prosecution case (the 2007
    regulations: prosecute or withdraw). Returns the cases opened."""
    today = ctx.today()
    now = ctx.clock.now()
    opened = []
    for notice in await uow.notices.overdue(today, limit):
        request = await uow.requests.get(notice.request_id)
        section = request.decision.offence_section if request and request.decision else "s444(1)"
        code = ctx.policies.get(notice.code_of_conduct)
        case = ProsecutionCase.open(
            id=_new_id("pc"),
            notice=notice,
            offence_section=OffenceSection(section),
            limit_months=code.prosecution_limit_months,
            started_on=today,
            at=now,
        )
        notice.lapse(case.id, now)
        uow.cases.add(case)
        opened.append(case)
    await uow.commit()
    return opened


async def lay_information(
    cmd: commands.LayInformation, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> ProsecutionCase | None:
    case = await uow.cases.get(cmd.case_id)
    if case is None:
        return None
    if cmd.laid_on > ctx.today():
        raise InvalidRequest([("laid_on", "cannot be in the future")])
    case.lay_information(cmd.laid_on, cmd.hearing_on, ctx.clock.now())
    if before_commit is not None:
        await before_commit(case)
    await uow.commit()
    return case


async def record_outcome(
    cmd: commands.RecordCourtOutcome, uow: UnitOfWork, ctx: Context, before_commit: BeforeCommit = None
) -> ProsecutionCase | None:
    case = await uow.cases.get(cmd.case_id)
    if case is None:
        return None
    if cmd.concluded_on > ctx.today():
        raise InvalidRequest([("concluded_on", "cannot be in the future")])
    if case.laid_on is not None and cmd.concluded_on < case.laid_on:
        raise InvalidRequest([("concluded_on", "cannot be before the information was laid")])
    case.conclude(
        cmd.outcome,
        cmd.concluded_on,
        ctx.clock.now(),
        fine_pence=cmd.fine_pence,
        costs_pence=cmd.costs_pence,
        orders=cmd.orders,
    )
    if before_commit is not None:
        await before_commit(case)
    await uow.commit()
    return case
