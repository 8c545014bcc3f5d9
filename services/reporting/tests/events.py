"""Builders of event histories for reporting's tests: envelopes as the topics would carry them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from inclusion_kit.calendar import load_calendar
from inclusion_kit.contracts.base import IntegrationEvent
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.contracts.events import attendance, cme, enforcement, exclusions, roll
from inclusion_kit.messaging.dispatch import Delivery
from inclusion_kit.pupils import upn_check_letter

AT = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
CALENDAR = load_calendar("886")


def school(urn: str, phase: str, district: str) -> dict[str, Any]:
    return {"urn": urn, "la_code": "886", "name": f"School {urn}", "phase": phase, "district": district}


PRIMARY_A = school("118000", "primary", "Maidstone")
PRIMARY_B = school("118002", "primary", "Dover")
SECONDARY = school("118001", "secondary", "Dover")


def upn(n: int) -> str:
    body = f"886{2000 + n // 1000:04d}25{n % 1000:03d}"
    return upn_check_letter(body) + body


def wrap(event: IntegrationEvent, source: str = "inclusion/test") -> Envelope:
    return Envelope.wrap(event, source=source, event_id=str(uuid.uuid4()))


def deliveries(envelopes: Iterable[Envelope]) -> list[Delivery]:
    return [Delivery(e) for e in envelopes]


def enrolment(
    n: int, where: dict[str, Any], *, year: str = "4", version: int = 1, **characteristics: Any
) -> Envelope:
    return wrap(
        roll.PupilEnrolmentRecorded(
            child_ref=f"c-{n:016x}",
            aggregate_id=f"{where['urn']}/c-{n:016x}",
            aggregate_version=version,
            occurred_at=AT,
            school=where,
            upn=upn(n),
            year_group=year,
            on_roll_from=date(2025, 9, 1),
            characteristics=characteristics,
        )
    )


def school_days(start: date, count: int) -> list[date]:
    days: list[date] = []
    day = start
    while len(days) < count:
        if CALENDAR.is_school_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def marks(
    n: int, where: dict[str, Any], codes: list[tuple[date, str, str, str | None]], version: int = 1
) -> Envelope:
    return wrap(
        attendance.AttendanceRecorded(
            child_ref=f"c-{n:016x}",
            aggregate_id=f"{where['urn']}/c-{n:016x}",
            aggregate_version=version,
            occurred_at=AT,
            submission_id=f"s-{uuid.uuid4().hex[:16]}",
            school=where,
            upn=upn(n),
            marks=[
                {"date": d, "session": s, "code": c, "regime": "2024", "previous_code": p}
                for d, s, c, p in codes
            ],
        )
    )


def exclusion(
    n: int,
    kind: str,
    *,
    where: dict[str, Any] = SECONDARY,
    start: date = date(2025, 11, 3),
    fsm: bool = False,
    sen: str = "N",
    ehc: bool = False,
    reasons: tuple[str, ...] = ("PA",),
) -> Envelope:
    permanent = kind == "permanent"
    return wrap(
        exclusions.ExclusionIssued(
            child_ref=f"c-{n:016x}",
            aggregate_id=f"ex-{n:016x}-{kind}-{start.isoformat()}",
            aggregate_version=1,
            occurred_at=AT,
            exclusion_id=f"ex-{uuid.uuid4().hex[:16]}",
            school=where,
            upn=upn(n),
            kind=kind,
            start_date=start,
            end_date=None if permanent else start,
            sessions=None if permanent else 2,
            days=0 if permanent else 1.0,
            reason_codes=list(reasons),
            academic_year="2025/26",
            pupil={
                "sen_provision": sen,
                "ehc_plan": ehc,
                "fsm_eligible": fsm,
                "looked_after": False,
                "child_in_need": False,
                "child_protection_plan": False,
            },
            parents_notified_at=AT,
            notified_at=AT,
            suspension_days_this_year=0 if permanent else 1.0,
            suspensions_this_year=0 if permanent else 1,
            deadlines={"sixth_day_provision_due": start + timedelta(days=7) if permanent else None},
        )
    )


def withdrawn(issued: Envelope) -> Envelope:
    original = exclusions.ExclusionIssued.model_validate_json(issued.data)
    return wrap(
        exclusions.ExclusionWithdrawn(
            child_ref=original.child_ref,
            aggregate_id=original.aggregate_id,
            aggregate_version=2,
            occurred_at=AT,
            exclusion_id=original.exclusion_id,
            school=original.school,
            kind=original.kind,
            start_date=original.start_date,
            academic_year=original.academic_year,
            withdrawn_on=original.start_date + timedelta(days=1),
            suspension_days_this_year=0,
        )
    )


def provision(issued: Envelope, on_time: bool) -> Envelope:
    original = exclusions.ExclusionIssued.model_validate_json(issued.data)
    due = original.start_date + timedelta(days=7)
    return wrap(
        exclusions.SixthDayProvisionArranged(
            child_ref=original.child_ref,
            aggregate_id=original.aggregate_id,
            aggregate_version=2,
            occurred_at=AT,
            exclusion_id=original.exclusion_id,
            school=original.school,
            kind=original.kind,
            responsibility="local_authority",
            provider="East Kent PRU",
            starts_on=due if on_time else due + timedelta(days=3),
            due_by=due,
            on_time=on_time,
            school_days_late=0 if on_time else 2,
        )
    )


def cme_case(
    n: int,
    *,
    district: str = "Dover",
    opened: date = date(2025, 10, 1),
    located_after: int | None = None,
    placed_within_target: bool | None = None,
) -> list[Envelope]:
    case_id = f"cme-{n:016x}"
    ref = f"c-{n:016x}"
    where = school("118001", "secondary", district)
    out = [
        wrap(
            cme.CmeCaseOpened(
                child_ref=ref,
                aggregate_id=case_id,
                aggregate_version=1,
                occurred_at=AT,
                case_id=case_id,
                source="referral",
                source_id=f"r-{n:016x}",
                opened_on=opened,
                school=where,
                next_review_due=opened + timedelta(days=30),
            )
        )
    ]
    if located_after is not None:
        out.append(
            wrap(
                cme.ChildLocated(
                    child_ref=ref,
                    aggregate_id=case_id,
                    aggregate_version=2,
                    occurred_at=AT,
                    case_id=case_id,
                    located_on=opened + timedelta(days=located_after),
                    days_to_located=located_after,
                )
            )
        )
    if placed_within_target is not None:
        days = 20 if placed_within_target else 45
        out.append(
            wrap(
                cme.ChildPlacedOnRoll(
                    child_ref=ref,
                    aggregate_id=case_id,
                    aggregate_version=3,
                    occurred_at=AT,
                    case_id=case_id,
                    school=where,
                    placed_on=opened + timedelta(days=days),
                    days_to_placed=days,
                    placed_within_target=placed_within_target,
                )
            )
        )
    return out


def notice(n: int, *, paid: bool) -> list[Envelope]:
    ref = f"c-{n:016x}"
    out = [
        wrap(
            enforcement.PenaltyNoticeRequested(
                child_ref=ref,
                aggregate_id=f"pr-{n:016x}",
                aggregate_version=1,
                occurred_at=AT,
                request_id=f"pr-{n:016x}",
                school=PRIMARY_A,
                offence_type="irregular_attendance",
                period_start=date(2025, 9, 3),
                period_end=date(2025, 11, 14),
                parents=1,
                parent_refs=[f"p-{n:016x}"],
                requested_at=datetime(2025, 11, 17, 9, 0, tzinfo=UTC),
            )
        ),
        wrap(
            enforcement.PenaltyNoticeIssued(
                child_ref=ref,
                aggregate_id=f"pn-{n:016x}",
                aggregate_version=1,
                occurred_at=AT,
                notice_id=f"pn-{n:016x}",
                notice_number=f"886-2025-{n:06d}",
                request_id=f"pr-{n:016x}",
                parent_ref=f"p-{n:016x}",
                school=PRIMARY_A,
                code_of_conduct="national-2024",
                sequence=1,
                issued_on=date(2025, 11, 20),
                issued_within_target=True,
                service_method="post",
                served_on=date(2025, 11, 20),
                received_on=date(2025, 11, 24),
                reduced_amount_pence=8000,
                reduced_due_by=date(2025, 12, 15),
                full_amount_pence=16000,
                full_due_by=date(2025, 12, 22),
            )
        ),
    ]
    if paid:
        out.append(
            wrap(
                enforcement.PenaltyNoticePaid(
                    child_ref=ref,
                    aggregate_id=f"pn-{n:016x}",
                    aggregate_version=2,
                    occurred_at=AT,
                    notice_id=f"pn-{n:016x}",
                    notice_number=f"886-2025-{n:06d}",
                    parent_ref=f"p-{n:016x}",
                    paid_on=date(2025, 12, 1),
                    amount_pence=8000,
                    rate="reduced",
                )
            )
        )
    return out


def known_year() -> list[Envelope]:
    """The county's year as DOMAIN.md §10 reports it, in events:

    - 64 permanent exclusions, 30 of pupils eligible for FSM (46.9%), 4 with an EHC plan (6.3%),
      plus one withdrawn (not counted) and suspensions (one pupil suspended three times);
    - 892 CME cases, 776 found within two weeks (87%), 100 found later, 16 not yet;
    - primary register marks giving 96.0% attendance (1,000 possible sessions, 40 absent) with
      corrections, approved educational activity and not-counted codes along the way.
    """
    events: list[Envelope] = []
    days = school_days(date(2025, 9, 8), 25)
    # Primary: 20 pupils at two schools, 50 sessions each; pupil 19 has two more coded D (not
    # counted). Absences: pupil 0: 10, pupil 1: 5 (exactly 10%: persistent), pupils 2-6: 5 each.
    absences = {0: 10, 1: 5, 2: 5, 3: 5, 4: 5, 5: 5, 6: 5}
    for n in range(20):
        where = PRIMARY_A if n < 10 else PRIMARY_B
        events.append(enrolment(n, where, year="4", fsm_periods=[{"start": "2024-09-01"}] if n % 2 else []))
        sessions = [(d, s) for d in days for s in ("AM", "PM")]
        first: list[tuple[date, str, str, str | None]] = []
        for i, (d, s) in enumerate(sessions):
            code = "/" if s == "AM" else "\\"
            if i < absences.get(n, 0):
                code = "N" if i % 2 else "I"
            elif n == 7 and i < 3:
                code = "B"  # approved educational activity: attendance
            elif n == 7 and i == 3:
                code = "L"
            elif n == 8 and i < 2:
                code = "N"  # corrected to present below
            first.append((d, s, code, None))
        if n == 19:
            extra = school_days(date(2025, 10, 13), 1)[0]
            first += [(extra, "AM", "D", None), (extra, "PM", "D", None)]
        events.append(marks(n, where, first))
        if n == 0:
            # The unknown reasons are established: N -> I (still absent).
            events.append(marks(n, where, [(d, s, "I", "N") for d, s, c, _ in first if c == "N"], version=2))
        if n == 8:
            events.append(
                marks(n, where, [(d, s, "/" if s == "AM" else "\\", "N") for d, s, _, _ in first[:2]], 2)
            )
    # Secondary attendance: not part of the primary figure.
    for n in range(100, 105):
        events.append(enrolment(n, SECONDARY, year="9"))
        events.append(marks(n, SECONDARY, [(d, "AM", "O" if n == 100 else "/", None) for d in days[:10]]))
    # Exclusions.
    for n in range(64):
        issued = exclusion(
            200 + n, "permanent", fsm=n < 30, sen="E" if n < 4 else ("K" if n < 14 else "N"), ehc=n < 4
        )
        events.append(issued)
        if n < 40:
            events.append(provision(issued, on_time=n < 30))
    extra = exclusion(300, "permanent", fsm=True)
    events += [extra, withdrawn(extra)]
    for n in range(10):
        events.append(
            exclusion(
                400 + (n if n > 2 else 0), "suspension", start=date(2025, 11, 3 + n), reasons=("VA", "PA")
            )
        )
    # CME: 776 found within two weeks, 100 later, 16 not yet; 600 of the found placed in 30 days.
    for n in range(892):
        located = 3 if n < 776 else (20 if n < 876 else None)
        placed = (n < 600) if located is not None else None
        events += cme_case(
            1000 + n,
            district="Dover" if n % 2 else "Thanet",
            located_after=located,
            placed_within_target=placed,
        )
    for n in range(3):
        events += notice(5000 + n, paid=n == 0)
    return events
