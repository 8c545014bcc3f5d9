"""The statutory clock of suspensions and permanent exclusions, in school days (DOMAIN.md §4).

Every count of days goes through the LA's :class:`SchoolCalendar` (terms, half-terms, INSET days,
closures, England's bank holidays); nothing here does weekday arithmetic for school days. "Within
N school days of D" is ``calendar.add_school_days(D, N)``: D itself is never counted.

Statutory figures are constants here (the law, not an LA's choice); the county's own figures
(the warning level, the repeat-suspension threshold, the part-time review interval) are in
:class:`Policy`, filled from settings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta

from inclusion_kit.calendar import AcademicYear, SchoolCalendar

# School Discipline (Pupil Exclusions and Reviews) (England) Regulations 2012 and the statutory
# guidance (Sept 2022 and later editions), as summarised in DOMAIN.md §4 and §11.
CAP_DAYS = 45.0  # suspensions per pupil per academic year
LUNCHTIME_DAYS = 0.5  # each lunchtime suspension counts as half a day
SIXTH_DAY = 6  # full-time education from the sixth school day
PROVISION_AFTER_DAYS = 5.0  # a suspension of more than 5 days needs provision from day 6
BOARD_REVIEW_SCHOOL_DAYS = 15  # consider reinstatement within 15 school days
TERM_TOTAL_TRIGGER_DAYS = 15.0  # ... when the term's total goes above 15 days
REPRESENTATIONS_FROM_DAYS = 5.0  # more than 5 days in a term: representations ...
REPRESENTATIONS_SCHOOL_DAYS = 50  # ... are considered within 50 school days
IRP_APPLICATION_SCHOOL_DAYS = 15  # parents apply within 15 school days of the board's decision
POSTED_NOTICE_WORKING_DAYS = 2  # first-class post: deemed given on the 2nd working day after posting
RECONSIDERATION_SCHOOL_DAYS = 10  # the board reconsiders within 10 school days of the panel's decision


class Kind(enum.StrEnum):
    SUSPENSION = "suspension"
    LUNCHTIME = "lunchtime"
    PERMANENT = "permanent"


class Session(enum.StrEnum):
    AM = "AM"
    PM = "PM"


class Responsibility(enum.StrEnum):
    SCHOOL = "school"
    LOCAL_AUTHORITY = "local_authority"


class BoardReviewReason(enum.StrEnum):
    PERMANENT = "permanent"
    TERM_TOTAL_ABOVE_15_DAYS = "term_total_above_15_days"
    PUBLIC_EXAM = "public_exam"


@dataclass(frozen=True)
class Policy:
    """The LA's own figures (DOMAIN.md §10: configuration, shipped as the first county's defaults)."""

    warning_days: float = 40.0
    repeat_suspensions: int = 3
    repeat_counts_lunchtimes: bool = True
    part_time_review_school_days: int = 30  # "six weeks" of school days without a review


class NotASchoolDay(ValueError):
    def __init__(self, day: date, reason: str) -> None:
        super().__init__(f"{day.isoformat()} is not a school day ({reason})")
        self.day = day


def term_key(calendar: SchoolCalendar, day: date) -> str:
    """``"2025/26 autumn"``: the term a school day belongs to (school days are always in a term)."""
    term = calendar.term_of(day)
    assert term is not None, "school days are in term time"
    return f"{term.academic_year.label} {term.name.value}"


@dataclass(frozen=True)
class Span:
    """The school days an exclusion covers and how its days split across terms."""

    start: date
    end: date
    end_session: Session
    days: float
    days_by_term: dict[str, float] = field(default_factory=dict)


def _require_school_day(calendar: SchoolCalendar, day: date) -> None:
    reason = calendar.non_school_day_reason(day)
    if reason is not None:
        raise NotASchoolDay(day, reason)


def suspension_span(calendar: SchoolCalendar, start: date, start_session: Session, sessions: int) -> Span:
    """A suspension of ``sessions`` consecutive school sessions (two a day) from ``start``."""
    if sessions < 1:
        raise ValueError("a suspension lasts at least one session")
    _require_school_day(calendar, start)
    by_term: dict[str, float] = {}
    day, session = start, start_session
    for index in range(sessions):
        key = term_key(calendar, day)
        by_term[key] = by_term.get(key, 0.0) + 0.5
        if index == sessions - 1:
            break
        if session is Session.AM:
            session = Session.PM
        else:
            day, session = calendar.next_school_day(day), Session.AM
    return Span(start, day, session, sessions / 2, by_term)


def lunchtime_span(calendar: SchoolCalendar, start: date, lunchtimes: int) -> Span:
    """Lunchtime suspensions on ``lunchtimes`` consecutive school days, half a day each."""
    if lunchtimes < 1:
        raise ValueError("at least one lunchtime")
    _require_school_day(calendar, start)
    by_term: dict[str, float] = {}
    day = start
    for index in range(lunchtimes):
        key = term_key(calendar, day)
        by_term[key] = by_term.get(key, 0.0) + LUNCHTIME_DAYS
        if index < lunchtimes - 1:
            day = calendar.next_school_day(day)
    return Span(start, day, Session.PM, lunchtimes * LUNCHTIME_DAYS, by_term)


def permanent_start(calendar: SchoolCalendar, start: date) -> date:
    _require_school_day(calendar, start)
    return start


def sixth_school_day(calendar: SchoolCalendar, first_day: date) -> date:
    """The sixth school day of an exclusion whose first school day is ``first_day``."""
    return calendar.add_school_days(calendar.school_day_on_or_after(first_day), SIXTH_DAY - 1)


def provision_duty(kind: Kind, days: float) -> Responsibility | None:
    """Who must arrange full-time education from the sixth school day, if anyone."""
    if kind is Kind.PERMANENT:
        return Responsibility.LOCAL_AUTHORITY
    if kind is Kind.SUSPENSION and days > PROVISION_AFTER_DAYS:
        return Responsibility.SCHOOL
    return None


@dataclass(frozen=True)
class BoardDeadlines:
    review_due: date | None
    reasons: tuple[BoardReviewReason, ...]
    representations_due: date | None


def board_deadlines(
    calendar: SchoolCalendar,
    *,
    kind: Kind,
    board_notified_on: date,
    term_totals: dict[str, float],
    misses_public_exam: bool,
) -> BoardDeadlines:
    """When the governing board must act (DOMAIN.md §4 "Governing board review").

    ``term_totals`` holds the pupil's suspension days in each term this exclusion touches,
    including this one.
    """
    reasons: list[BoardReviewReason] = []
    if kind is Kind.PERMANENT:
        reasons.append(BoardReviewReason.PERMANENT)
    highest = max(term_totals.values(), default=0.0)
    if kind is not Kind.PERMANENT and highest > TERM_TOTAL_TRIGGER_DAYS:
        reasons.append(BoardReviewReason.TERM_TOTAL_ABOVE_15_DAYS)
    if misses_public_exam:
        reasons.append(BoardReviewReason.PUBLIC_EXAM)
    if reasons:
        return BoardDeadlines(
            calendar.add_school_days(board_notified_on, BOARD_REVIEW_SCHOOL_DAYS), tuple(reasons), None
        )
    if highest > REPRESENTATIONS_FROM_DAYS:
        return BoardDeadlines(
            None, (), calendar.add_school_days(board_notified_on, REPRESENTATIONS_SCHOOL_DAYS)
        )
    return BoardDeadlines(None, (), None)


def add_working_days(calendar: SchoolCalendar, day: date, n: int) -> date:
    """The ``n``-th working day after ``day``: Monday to Friday except England's bank holidays
    (for deemed delivery of posted notices: working days, not school days)."""
    bank_holidays = calendar.bank_holidays()
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in bank_holidays:
            counted += 1
    return day


def deemed_notified_on(calendar: SchoolCalendar, sent_on: date, posted: bool) -> date:
    return add_working_days(calendar, sent_on, POSTED_NOTICE_WORKING_DAYS) if posted else sent_on


def irp_application_due(calendar: SchoolCalendar, parents_notified_on: date) -> date:
    return calendar.add_school_days(parents_notified_on, IRP_APPLICATION_SCHOOL_DAYS)


def reconsideration_due(calendar: SchoolCalendar, board_notified_on: date) -> date:
    return calendar.add_school_days(board_notified_on, RECONSIDERATION_SCHOOL_DAYS)


def part_time_review_due(calendar: SchoolCalendar, last_reviewed_or_started: date, policy: Policy) -> date:
    return calendar.add_school_days(last_reviewed_or_started, policy.part_time_review_school_days)


def academic_year_label(day: date) -> str:
    return AcademicYear.containing(day).label
