"""Every deadline in school days, table-driven against LA 886's calendar: term boundaries,
half-terms, INSET days and bank holidays. Expected dates were counted by hand from the calendar
(data/calendars/886.yaml) and England's bank holidays, not computed with the code under test."""

from __future__ import annotations

from datetime import date

import pytest

from exclusions.domain import rules
from exclusions.domain.rules import BoardReviewReason, Kind, Policy, Session
from inclusion_kit.calendar import load_calendar

CAL = load_calendar("886")

SIXTH_DAY = [
    # first day of the exclusion, sixth school day, what lies in between
    (date(2025, 10, 6), date(2025, 10, 13), "a plain week"),
    (date(2025, 10, 22), date(2025, 11, 5), "the autumn half-term"),
    (date(2026, 2, 12), date(2026, 2, 26), "the spring half-term"),
    (date(2025, 12, 16), date(2026, 1, 7), "Christmas and the January INSET day"),
    (date(2026, 3, 26), date(2026, 4, 17), "Easter (Good Friday, Easter Monday) and the April INSET day"),
    (date(2026, 4, 29), date(2026, 5, 7), "the early May bank holiday"),
    (date(2026, 7, 16), date(2026, 9, 8), "the summer, INSET days at both ends: across academic years"),
    (date(2025, 9, 1), date(2025, 9, 10), "starts on an INSET day: day one is the first school day"),
]


@pytest.mark.parametrize(("first", "sixth", "why"), SIXTH_DAY, ids=[w for *_, w in SIXTH_DAY])
def test_sixth_school_day(first: date, sixth: date, why: str) -> None:
    assert rules.sixth_school_day(CAL, first) == sixth


BOARD_REVIEW = [
    # the board is notified on ..., it must consider reinstatement by ... (15 school days)
    (date(2025, 10, 6), date(2025, 11, 3), "the autumn half-term"),
    (date(2025, 12, 12), date(2026, 1, 19), "Christmas and the January INSET day"),
    (date(2026, 4, 20), date(2026, 5, 12), "the early May bank holiday"),
    (date(2026, 5, 23), date(2026, 6, 19), "a Saturday, then the spring bank holiday in half-term"),
]


@pytest.mark.parametrize(("notified", "due", "why"), BOARD_REVIEW, ids=[w for *_, w in BOARD_REVIEW])
def test_board_review_within_15_school_days_for_a_permanent_exclusion(
    notified: date, due: date, why: str
) -> None:
    deadlines = rules.board_deadlines(
        CAL, kind=Kind.PERMANENT, board_notified_on=notified, term_totals={}, misses_public_exam=False
    )
    assert deadlines.review_due == due
    assert deadlines.reasons == (BoardReviewReason.PERMANENT,)
    assert deadlines.representations_due is None


TERM_TOTALS = [
    # pupil's days in the term incl. this one, public exam -> (15-day review?, 50-day window?, reasons)
    (5.0, False, False, False, ()),
    (5.5, False, False, True, ()),
    (15.0, False, False, True, ()),
    (15.5, False, True, False, (BoardReviewReason.TERM_TOTAL_ABOVE_15_DAYS,)),
    (2.0, True, True, False, (BoardReviewReason.PUBLIC_EXAM,)),
]


@pytest.mark.parametrize(("days", "exam", "review", "window", "reasons"), TERM_TOTALS)
def test_what_the_board_must_do_for_a_suspension(
    days: float, exam: bool, review: bool, window: bool, reasons: tuple[BoardReviewReason, ...]
) -> None:
    d = rules.board_deadlines(
        CAL,
        kind=Kind.SUSPENSION,
        board_notified_on=date(2025, 10, 6),
        term_totals={"2025/26 autumn": days},
        misses_public_exam=exam,
    )
    assert (d.review_due == date(2025, 11, 3)) is review
    assert d.reasons == reasons
    # 50 school days from Mon 6 Oct 2025, across the half-term, Christmas and the INSET day.
    assert (d.representations_due == date(2026, 1, 6)) is window


def test_independent_review_window_from_a_posted_notice_over_easter() -> None:
    # Posted on Thursday 2 April 2026: Good Friday, the weekend and Easter Monday are not working
    # days, so the notice is deemed given on Wednesday 8 April; the 15 school days start after the
    # Easter holiday and the April INSET day and skip the May bank holiday.
    deemed = rules.deemed_notified_on(CAL, date(2026, 4, 2), posted=True)
    assert deemed == date(2026, 4, 8)
    assert rules.irp_application_due(CAL, deemed) == date(2026, 5, 5)
    assert rules.deemed_notified_on(CAL, date(2026, 4, 2), posted=False) == date(2026, 4, 2)


RECONSIDERATION = [
    (date(2026, 2, 9), date(2026, 3, 2), "the spring half-term"),
    (date(2025, 12, 17), date(2026, 1, 15), "Christmas and the January INSET day"),
]


@pytest.mark.parametrize(("notified", "due", "why"), RECONSIDERATION, ids=[w for *_, w in RECONSIDERATION])
def test_reconsideration_within_10_school_days(notified: date, due: date, why: str) -> None:
    assert rules.reconsideration_due(CAL, notified) == due


def test_part_time_review_interval_in_school_days() -> None:
    # 30 school days from Monday 6 October 2025 skip the half-term week.
    assert rules.part_time_review_due(CAL, date(2025, 10, 6), Policy()) == date(2025, 11, 24)
    assert rules.part_time_review_due(CAL, date(2025, 10, 6), Policy(part_time_review_school_days=5)) == date(
        2025, 10, 13
    )


SPANS = [
    # start, session, sessions -> end, end session, days by term
    (date(2025, 10, 24), Session.AM, 6, date(2025, 11, 4), Session.PM, {"2025/26 autumn": 3.0}),
    (
        date(2025, 12, 18),
        Session.PM,
        5,
        date(2026, 1, 6),
        Session.PM,
        {"2025/26 autumn": 1.5, "2025/26 spring": 1.0},
    ),
    (date(2026, 4, 30), Session.AM, 3, date(2026, 5, 1), Session.AM, {"2025/26 summer": 1.5}),
    (date(2026, 5, 1), Session.AM, 4, date(2026, 5, 5), Session.PM, {"2025/26 summer": 2.0}),
]


@pytest.mark.parametrize(("start", "session", "sessions", "end", "end_session", "by_term"), SPANS)
def test_suspension_span_in_school_sessions(
    start: date, session: Session, sessions: int, end: date, end_session: Session, by_term: dict[str, float]
) -> None:
    span = rules.suspension_span(CAL, start, session, sessions)
    assert (span.end, span.end_session, span.days) == (end, end_session, sessions / 2)
    assert span.days_by_term == by_term


def test_lunchtimes_count_half_a_day_each_on_consecutive_school_days() -> None:
    span = rules.lunchtime_span(CAL, date(2026, 5, 1), 3)  # Fri, (bank holiday Mon), Tue, Wed
    assert (span.end, span.days, span.days_by_term) == (date(2026, 5, 6), 1.5, {"2025/26 summer": 1.5})


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2025, 9, 1), "INSET day"),
        (date(2026, 5, 4), "bank holiday"),
        (date(2025, 10, 28), "half-term"),
        (date(2025, 12, 25), "school holiday"),
        (date(2025, 10, 11), "weekend"),
    ],
)
def test_an_exclusion_starts_on_a_school_day(day: date, reason: str) -> None:
    with pytest.raises(rules.NotASchoolDay, match=reason):
        rules.suspension_span(CAL, day, Session.AM, 2)


@pytest.mark.parametrize(
    ("kind", "days", "duty"),
    [
        (Kind.PERMANENT, 0.0, rules.Responsibility.LOCAL_AUTHORITY),
        (Kind.SUSPENSION, 5.5, rules.Responsibility.SCHOOL),
        (Kind.SUSPENSION, 5.0, None),
        (Kind.LUNCHTIME, 6.0, None),
    ],
)
def test_who_arranges_education_from_the_sixth_day(kind: Kind, days: float, duty: object) -> None:
    assert rules.provision_duty(kind, days) == duty
