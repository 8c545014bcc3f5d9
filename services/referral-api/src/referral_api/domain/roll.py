"""Roll changes: deletion returns (regulation 9(1) grounds) and new-pupil returns (regulation 13).

DOMAIN.md §5.2-5.3. A deletion return is validated per ground; the rules that count school days
use the LA's calendar. The front door records the return and tells the other services; it does
not itself decide whether a deletion was lawful beyond these checks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from inclusion_kit.calendar import CalendarRangeError, SchoolCalendar
from referral_api.domain import events
from referral_api.domain.model import Child


class Ground(enum.StrEnum):
    A = "9(1)(a)"  # registered at another school
    B = "9(1)(b)"  # nursery, not transferring
    C = "9(1)(c)"  # dual registration ended
    D = "9(1)(d)"  # school attendance order amended
    E = "9(1)(e)"  # school attendance order revoked
    F = "9(1)(f)"  # parent's written notice of home education
    G = "9(1)(g)"  # no longer resides within reasonable distance
    H = "9(1)(h)"  # not returned within 10 school days after leave ended
    I = "9(1)(i)"  # noqa: E741 - continuously absent for 20 school days, all G/N/O
    J = "9(1)(j)"  # detained, not expected to return
    K = "9(1)(k)"  # died
    L = "9(1)(l)"  # ceases to be of compulsory school age
    M = "9(1)(m)"  # boarding fees unpaid
    N = "9(1)(n)"  # ceased to be a pupil of an independent / non-maintained special school
    O = "9(1)(o)"  # noqa: E741 - permanently excluded


# Ground (i): only these codes support continuous-absence deletion (DOMAIN.md §1.2, §5.2).
CONTINUOUS_ABSENCE_CODES = frozenset({"G", "N", "O"})
CONTINUOUS_ABSENCE_SCHOOL_DAYS = 20
LEAVE_RETURN_SCHOOL_DAYS = 10
# "By the end of the fifth day after the day the pupil is entered": calendar days (reg 13).
NEW_PUPIL_RETURN_DAYS = 5


class EnquiryBy(enum.StrEnum):
    SCHOOL = "school"
    LOCAL_AUTHORITY = "local_authority"
    JOINT = "joint"


@dataclass(frozen=True)
class Enquiry:
    made_on: date
    by: EnquiryBy
    method: str
    outcome: str


@dataclass(frozen=True)
class DeletionReturn:
    school_urn: str
    child: Child
    ground: Ground
    ground_met_on: date
    deleted_on: date | None
    parents: list[dict[str, Any]]
    destination: dict[str, Any] | None = None
    parent_notice_received_on: date | None = None
    leave_ended_on: date | None = None
    absence_from: date | None = None
    absence_to: date | None = None
    absence_codes: frozenset[str] = frozenset()
    excluded_on: date | None = None
    enquiries: tuple[Enquiry, ...] = ()


class RollChangeRejected(Exception):
    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))
        self.errors = errors


def check_deletion(ret: DeletionReturn, calendar: SchoolCalendar, today: date) -> list[tuple[str, str]]:
    """Field-level reasons why the return cannot be accepted; empty when it can."""
    try:
        return _check_deletion(ret, calendar, today)
    except CalendarRangeError:
        # School days can only be counted within the LA's configured academic years.
        field = "absence_from" if ret.ground is Ground.I else "leave_ended_on"
        return [
            (
                field,
                "the dates fall outside the LA's configured school calendar; school days "
                "cannot be counted there",
            )
        ]


def _check_deletion(ret: DeletionReturn, calendar: SchoolCalendar, today: date) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if ret.ground_met_on > today:
        errors.append(("ground_met_on", "the ground cannot be met in the future"))
    if ret.deleted_on is not None and ret.deleted_on < ret.ground_met_on:
        errors.append(("deleted_on", "a name is deleted only once its ground is met"))
    if ret.child.address is None:
        errors.append(("child/address", "a deletion return gives the pupil's full name and address"))
    if not ret.parents:
        errors.append(("parents", "give each parent the pupil normally lives with and an emergency number"))
    destination = ret.destination or {}
    joint = [e for e in ret.enquiries if e.by in (EnquiryBy.LOCAL_AUTHORITY, EnquiryBy.JOINT)]

    if ret.ground is Ground.A and not (destination.get("school_urn") or destination.get("school_name")):
        errors.append(
            ("destination/school_urn", "ground (a) names the school the pupil is now registered at")
        )
    if ret.ground is Ground.F:
        if ret.parent_notice_received_on is None:
            errors.append(
                ("parent_notice_received_on", "ground (f) needs the date of the parent's written notice")
            )
        elif ret.parent_notice_received_on > ret.ground_met_on:
            errors.append(("parent_notice_received_on", "the written notice comes before the ground is met"))
    if ret.ground is Ground.H:
        if ret.leave_ended_on is None:
            errors.append(("leave_ended_on", "ground (h) needs the date the leave of absence ended"))
        else:
            since = calendar.count_school_days(ret.leave_ended_on + timedelta(days=1), ret.ground_met_on)
            if since < LEAVE_RETURN_SCHOOL_DAYS:
                errors.append(
                    (
                        "ground_met_on",
                        f"ground (h) needs {LEAVE_RETURN_SCHOOL_DAYS} school days after "
                        f"the leave ended; {since} had passed",
                    )
                )
        if not joint:
            errors.append(
                ("enquiries", "ground (h) needs a record of joint reasonable enquiries with the LA")
            )
    if ret.ground is Ground.I:
        if ret.absence_from is None or ret.absence_to is None:
            errors.append(
                ("absence_from", "ground (i) needs the first and last day of the continuous absence")
            )
        else:
            days = calendar.count_school_days(ret.absence_from, ret.absence_to)
            if days < CONTINUOUS_ABSENCE_SCHOOL_DAYS:
                errors.append(
                    (
                        "absence_to",
                        f"ground (i) needs {CONTINUOUS_ABSENCE_SCHOOL_DAYS} school days of "
                        f"continuous absence; the period given has {days}",
                    )
                )
            if ret.absence_to > ret.ground_met_on:
                errors.append(("absence_to", "the absence ends on or before the day the ground is met"))
        other_codes = sorted(ret.absence_codes - CONTINUOUS_ABSENCE_CODES)
        if not ret.absence_codes or other_codes:
            errors.append(
                (
                    "absence_codes",
                    "ground (i) needs every session coded G, N or O"
                    + (f"; not {', '.join(other_codes)}" if other_codes else ""),
                )
            )
        if not joint:
            errors.append(
                ("enquiries", "ground (i) needs a record of joint reasonable enquiries with the LA")
            )
    if ret.ground is Ground.O and ret.excluded_on is None:
        errors.append(("excluded_on", "ground (o) needs the date of the permanent exclusion"))
    return errors


def education_unknown(ret: DeletionReturn) -> bool:
    """Nobody knows where the child will be educated: what CME acts on (DOMAIN.md §5.1)."""
    destination = ret.destination or {}
    has_school = bool(destination.get("school_urn") or destination.get("school_name"))
    return ret.ground in (Ground.H, Ground.I) or (ret.ground is Ground.G and not has_school)


def new_pupil_return_due(entered_on: date) -> date:
    return entered_on + timedelta(days=NEW_PUPIL_RETURN_DAYS)


@dataclass
class RollChange:
    id: str
    kind: str  # "deletion" or "admission"
    school_urn: str
    child_ref: str
    child: Child
    details: dict[str, Any]
    received_at: datetime
    submitted_by: str
    version: int = 1
    pending_events: list[events.Event] = field(default_factory=list, repr=False)

    @classmethod
    def record(cls, **values: Any) -> RollChange:
        change = cls(**values)
        event: events.Event = (
            events.PupilRemovedFromRoll(aggregate_id=change.id, version=1)
            if change.kind == "deletion"
            else events.PupilAddedToRoll(aggregate_id=change.id, version=1)
        )
        change.pending_events.append(event)
        return change
