"""The case lifecycle as a table: every action from every state, allowed or refused; due dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cme_tracker.domain import events
from cme_tracker.domain.errors import EnquiriesIncomplete, IllegalTransition, InvalidRequest
from cme_tracker.domain.model import (
    ACTIVE,
    ALLOWED,
    Action,
    CmeCase,
    EheAction,
    EheRegistration,
    EheStatus,
    Enquiry,
    EnquiryKind,
    EnquiryResult,
    Outcome,
    Rules,
    Status,
    add_months,
    elapsed,
)
from inclusion_kit.calendar import load_calendar

CAL = load_calendar("886")
RULES = Rules()
OPENED = date(2025, 11, 10)  # a Monday in the autumn term, after half-term
AT = datetime(2025, 11, 10, 10, 0, tzinfo=UTC)
TODAY = date(2025, 11, 24)
SCHOOL = {"urn": "118000", "name": "Example Primary School", "district": "Maidstone", "phase": "primary"}


def new_case() -> CmeCase:
    return CmeCase.open(
        id="cme-1",
        child_ref="c-1",
        upn="H886200024001",
        child={"forename": "Alex", "surname": "Example", "date_of_birth": "2014-03-02"},
        source="referral",
        source_id="r-1",
        opened_on=OPENED,
        at=AT,
        school=SCHOOL,
        summary={},
        rules=RULES,
    )


def enquiry(kind: EnquiryKind = EnquiryKind.SCHOOL, made_on: date = date(2025, 11, 11)) -> Enquiry:
    return Enquiry(
        id=f"enq-{kind.value}",
        kind=kind,
        made_on=made_on,
        made_by="officer-1",
        result=EnquiryResult.NO_INFORMATION,
        notes=None,
        recorded_at=AT,
        recorded_by="officer-1",
    )


def case_in(status: Status) -> CmeCase:
    case = new_case()
    if status is Status.ENQUIRIES:
        case.record_enquiry(enquiry(), today=TODAY, rules=RULES)
    elif status is Status.LOCATED:
        case.locate(date(2025, 11, 14), at=AT, by="o", today=TODAY, school_calendar=CAL)
    elif status is Status.PLACED:
        case.place(
            SCHOOL,
            date(2025, 11, 17),
            at=AT,
            by="o",
            today=TODAY,
            roll_change_id=None,
            school_calendar=CAL,
            rules=RULES,
        )
    elif status is Status.CLOSED:
        case.close(Outcome.MOVED_ABROAD, TODAY, at=AT, by="o", today=TODAY, rules=RULES)
    assert case.status is status
    case.pending_events.clear()
    return case


def perform(case: CmeCase, action: Action) -> None:
    if action is Action.ADD_INFORMATION:
        case.add_information(source="referral", source_id="r-2", at=AT, upn=None, summary={})
    elif action is Action.RECORD_ENQUIRY:
        case.record_enquiry(enquiry(EnquiryKind.HOUSING), today=TODAY, rules=RULES)
    elif action is Action.LOCATE:
        case.locate(date(2025, 11, 20), at=AT, by="o", today=TODAY, school_calendar=CAL)
    elif action is Action.REVIEW:
        case.review(date(2025, 11, 21), at=AT, by="o", today=TODAY, rules=RULES)
    elif action is Action.PLACE:
        case.place(
            SCHOOL,
            date(2025, 11, 24),
            at=AT,
            by="o",
            today=TODAY,
            roll_change_id="rc-1",
            school_calendar=CAL,
            rules=RULES,
        )
    else:
        case.close(Outcome.OTHER_SUITABLE_PROVISION, TODAY, at=AT, by="o", today=TODAY, rules=RULES)


# (state, action, the state after it, or None when the transition is refused)
LIFECYCLE = [
    (Status.OPEN, Action.ADD_INFORMATION, Status.OPEN),
    (Status.OPEN, Action.RECORD_ENQUIRY, Status.ENQUIRIES),
    (Status.OPEN, Action.LOCATE, Status.LOCATED),
    (Status.OPEN, Action.REVIEW, Status.OPEN),
    (Status.OPEN, Action.PLACE, Status.PLACED),
    (Status.OPEN, Action.CLOSE, Status.CLOSED),
    (Status.ENQUIRIES, Action.ADD_INFORMATION, Status.ENQUIRIES),
    (Status.ENQUIRIES, Action.RECORD_ENQUIRY, Status.ENQUIRIES),
    (Status.ENQUIRIES, Action.LOCATE, Status.LOCATED),
    (Status.ENQUIRIES, Action.REVIEW, Status.ENQUIRIES),
    (Status.ENQUIRIES, Action.PLACE, Status.PLACED),
    (Status.ENQUIRIES, Action.CLOSE, Status.CLOSED),
    (Status.LOCATED, Action.ADD_INFORMATION, Status.LOCATED),
    (Status.LOCATED, Action.RECORD_ENQUIRY, None),
    (Status.LOCATED, Action.LOCATE, None),
    (Status.LOCATED, Action.REVIEW, Status.LOCATED),
    (Status.LOCATED, Action.PLACE, Status.PLACED),
    (Status.LOCATED, Action.CLOSE, Status.CLOSED),
    *[(Status.PLACED, a, None) for a in Action],
    *[(Status.CLOSED, a, None) for a in Action],
]


def test_the_table_covers_every_state_and_action_and_agrees_with_allowed() -> None:
    assert {(s, a) for s, a, _ in LIFECYCLE} == {(s, a) for s in Status for a in Action}
    for status, action, after in LIFECYCLE:
        assert (after is not None) == (status in ALLOWED[action]), (status, action)


@pytest.mark.parametrize(("status", "action", "after"), LIFECYCLE, ids=[f"{s}-{a}" for s, a, _ in LIFECYCLE])
def test_lifecycle(status: Status, action: Action, after: Status | None) -> None:
    case = case_in(status)
    before = (case.version, case.status)
    if after is None:
        with pytest.raises(IllegalTransition):
            perform(case, action)
        assert (case.version, case.status) == before and case.pending_events == []
    else:
        perform(case, action)
        assert case.status is after


def test_opening_raises_case_opened_with_a_review_due_a_month_later() -> None:
    case = new_case()
    assert case.status is Status.OPEN and case.version == 1
    assert case.pending_events == [events.CaseOpened("cme-1", 1)]
    assert case.next_review_due == date(2025, 12, 10)


def test_a_placement_without_locating_first_locates_places_and_closes() -> None:
    case = case_in(Status.ENQUIRIES)
    perform(case, Action.PLACE)
    kinds = [type(e) for e in case.pending_events]
    assert kinds == [events.ChildLocated, events.ChildPlaced, events.CaseClosed]
    assert [e.version for e in case.pending_events] == [3, 4, 5]
    assert case.outcome is Outcome.PLACED_ON_ROLL and case.closed_on == TODAY
    # Opened Monday 10 Nov, placed Monday 24 Nov: 14 calendar days, 10 school days.
    assert (case.days_to_placed, case.school_days_to_placed, case.placed_within_target) == (14, 10, True)
    assert case.located_on == date(2025, 11, 24) and case.days_to_located == 14


def test_days_to_located_in_calendar_and_school_days_across_a_holiday() -> None:
    case = CmeCase.open(
        id="cme-2",
        child_ref="c-2",
        upn=None,
        child={},
        source="referral",
        source_id="r-9",
        opened_on=date(2025, 12, 15),
        at=AT,
        school=None,
        summary={},
        rules=RULES,
    )
    case.locate(date(2026, 1, 9), at=AT, by="o", today=date(2026, 1, 9), school_calendar=CAL)
    days, school_days = elapsed(date(2025, 12, 15), date(2026, 1, 9), CAL)
    assert case.days_to_located == days == 25
    assert (
        case.school_days_to_located
        == school_days
        == CAL.count_school_days(date(2025, 12, 16), date(2026, 1, 9))
    )
    assert school_days is not None and school_days < 15  # the Christmas holiday is not counted


def test_placement_beyond_the_target_is_recorded_as_such() -> None:
    case = new_case()
    case.place(
        SCHOOL,
        date(2025, 12, 12),
        at=AT,
        by="o",
        today=date(2025, 12, 12),
        roll_change_id=None,
        school_calendar=CAL,
        rules=RULES,
    )
    assert case.days_to_placed == 32 and case.placed_within_target is False


@pytest.mark.parametrize(
    ("outcome", "extra", "field"),
    [
        (Outcome.MOVED_TO_OTHER_LA, {}, "other_la_code"),
        (Outcome.DUPLICATE, {}, "duplicate_of"),
        (Outcome.DUPLICATE, {"duplicate_of": "cme-1"}, "duplicate_of"),
        (Outcome.PLACED_ON_ROLL, {}, "outcome"),
    ],
)
def test_closing_outcomes_need_their_details(outcome: Outcome, extra: dict[str, str], field: str) -> None:
    case = new_case()
    with pytest.raises(InvalidRequest) as caught:
        case.close(outcome, TODAY, at=AT, by="o", today=TODAY, rules=RULES, **extra)
    assert caught.value.field == field and case.status is Status.OPEN


def test_not_found_needs_every_checklist_enquiry() -> None:
    case = new_case()
    for kind in list(EnquiryKind)[:-1]:
        case.record_enquiry(enquiry(kind), today=TODAY, rules=RULES)
    with pytest.raises(EnquiriesIncomplete, match="childrens_social_care"):
        case.close(Outcome.NOT_FOUND_LOST_PUPILS, TODAY, at=AT, by="o", today=TODAY, rules=RULES)
    case.record_enquiry(enquiry(EnquiryKind.CHILDRENS_SOCIAL_CARE), today=TODAY, rules=RULES)
    assert (
        isinstance(case.pending_events[-1], events.EnquiryRecorded)
        and case.pending_events[-1].checklist_complete
    )
    case.close(Outcome.NOT_FOUND_LOST_PUPILS, TODAY, at=AT, by="o", today=TODAY, rules=RULES)
    assert case.status is Status.CLOSED


def test_a_shorter_configured_checklist_is_enough() -> None:
    rules = Rules(checklist=(EnquiryKind.SCHOOL, EnquiryKind.LOST_PUPILS_SEARCH))
    case = new_case()
    case.record_enquiry(enquiry(EnquiryKind.SCHOOL), today=TODAY, rules=rules)
    case.record_enquiry(enquiry(EnquiryKind.LOST_PUPILS_SEARCH), today=TODAY, rules=rules)
    case.close(Outcome.NOT_FOUND_LOST_PUPILS, TODAY, at=AT, by="o", today=TODAY, rules=rules)
    assert case.outcome is Outcome.NOT_FOUND_LOST_PUPILS


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda c: c.locate(date(2025, 11, 25), at=AT, by="o", today=TODAY, school_calendar=CAL),
            "located_on",
        ),
        (
            lambda c: c.locate(date(2025, 11, 9), at=AT, by="o", today=TODAY, school_calendar=CAL),
            "located_on",
        ),
        (lambda c: c.review(date(2025, 11, 25), at=AT, by="o", today=TODAY, rules=RULES), "reviewed_on"),
        (
            lambda c: c.record_enquiry(enquiry(made_on=date(2025, 11, 30)), today=TODAY, rules=RULES),
            "made_on",
        ),
        (
            lambda c: c.close(
                Outcome.MOVED_ABROAD, date(2025, 11, 1), at=AT, by="o", today=TODAY, rules=RULES
            ),
            "closed_on",
        ),
    ],
)
def test_dates_the_rules_refuse(call: object, field: str) -> None:
    case = new_case()
    with pytest.raises(InvalidRequest) as caught:
        call(case)  # type: ignore[operator]
    assert caught.value.field == field


# -- due dates ---------------------------------------------------------------------------------

ADD_MONTHS = [
    (date(2025, 11, 10), 1, date(2025, 12, 10)),
    (date(2025, 12, 15), 1, date(2026, 1, 15)),
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
    (date(2025, 11, 30), 3, date(2026, 2, 28)),
    (date(2025, 8, 31), 12, date(2026, 8, 31)),
    (date(2025, 3, 31), -1, date(2025, 2, 28)),
]


@pytest.mark.parametrize(("start", "months", "expected"), ADD_MONTHS)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


# (today, overdue period of a case opened 10 Nov 2025, review due 10 Dec 2025)
REVIEW_PERIODS = [
    (date(2025, 12, 9), 0),
    (date(2025, 12, 10), 0),
    (date(2025, 12, 11), 1),
    (date(2026, 1, 10), 1),
    (date(2026, 1, 11), 2),
    (date(2026, 2, 11), 3),
]


@pytest.mark.parametrize(("today", "period"), REVIEW_PERIODS)
def test_review_overdue_periods(today: date, period: int) -> None:
    assert new_case().review_overdue_period(today, RULES) == period


def test_review_overdue_is_raised_once_per_period_and_a_review_resets_it() -> None:
    case = new_case()
    case.pending_events.clear()
    day = date(2025, 12, 10)
    raised: list[tuple[date, int]] = []
    while day <= date(2026, 2, 20):
        if case.check_review(day, at=AT, rules=RULES):
            event = case.pending_events[-1]
            assert isinstance(event, events.ReviewOverdue)
            raised.append((day, event.period))
        day += timedelta(days=1)
    assert raised == [(date(2025, 12, 11), 1), (date(2026, 1, 11), 2), (date(2026, 2, 11), 3)]
    case.review(date(2026, 2, 20), at=AT, by="o", today=date(2026, 2, 20), rules=RULES)
    assert case.next_review_due == date(2026, 3, 20)
    assert not case.check_review(date(2026, 3, 20), at=AT, rules=RULES)
    assert case.check_review(date(2026, 3, 21), at=AT, rules=RULES)
    assert case.pending_events[-1] == events.ReviewOverdue("cme-1", case.version, date(2026, 3, 20), 1, 1)


def test_ended_cases_are_never_overdue() -> None:
    for status in set(Status) - ACTIVE:
        assert case_in(status).review_overdue_period(date(2027, 1, 1), RULES) == 0


# -- EHE register ------------------------------------------------------------------------------


def registration(on: date = date(2025, 11, 10)) -> EheRegistration:
    return EheRegistration.register(
        id="ehe-1",
        child_ref="c-1",
        upn=None,
        child={},
        source="deletion_return",
        source_id="rc-1",
        registered_on=on,
        parent_notice_received_on=date(2025, 10, 20),
        school=SCHOOL,
        at=AT,
        rules=RULES,
    )


EHE_DUE = [
    (date(2025, 11, 10), date(2025, 12, 10), date(2026, 2, 10), date(2026, 11, 10)),
    (date(2025, 11, 30), date(2025, 12, 30), date(2026, 2, 28), date(2026, 11, 30)),
    (date(2026, 1, 31), date(2026, 2, 28), date(2026, 4, 30), date(2027, 1, 31)),
]


@pytest.mark.parametrize(("registered", "contact", "visit", "review"), EHE_DUE)
def test_ehe_due_dates(registered: date, contact: date, visit: date, review: date) -> None:
    reg = registration(registered)
    assert (reg.first_contact_due, reg.visit_offer_due, reg.next_review_due) == (contact, visit, review)
    assert reg.pending_events == [events.EheRegistered("ehe-1", 1)]


EHE_OVERDUE = [
    (date(2025, 12, 10), set()),
    (date(2025, 12, 11), {"first_contact"}),
    (date(2026, 2, 11), {"first_contact", "visit_offer"}),
    (date(2026, 11, 11), {"first_contact", "visit_offer", "review"}),
]


@pytest.mark.parametrize(("today", "late"), EHE_OVERDUE)
def test_ehe_overdue(today: date, late: set[str]) -> None:
    assert set(registration().overdue(today)) == late


def test_ehe_actions_clear_what_is_due_and_ending_stops_everything() -> None:
    reg = registration()
    today = date(2026, 3, 1)
    reg.act(EheAction.FIRST_CONTACT, date(2025, 12, 1), at=AT, today=today, rules=RULES, reason=None)
    with pytest.raises(IllegalTransition):
        reg.act(EheAction.FIRST_CONTACT, date(2025, 12, 2), at=AT, today=today, rules=RULES, reason=None)
    assert reg.overdue(today) == ["visit_offer"]
    reg.act(EheAction.VISIT_OFFERED, date(2026, 3, 1), at=AT, today=today, rules=RULES, reason=None)
    assert reg.overdue(today) == []
    reg.act(EheAction.REVIEW, date(2026, 3, 1), at=AT, today=today, rules=RULES, reason=None)
    assert reg.next_review_due == date(2027, 3, 1)
    with pytest.raises(InvalidRequest):
        reg.act(EheAction.END, today, at=AT, today=today, rules=RULES, reason=None)
    reg.act(EheAction.END, today, at=AT, today=today, rules=RULES, reason="moved away")
    assert reg.status is EheStatus.ENDED and reg.overdue(date(2030, 1, 1)) == []
    with pytest.raises(IllegalTransition):
        reg.act(EheAction.REVIEW, today, at=AT, today=today, rules=RULES, reason=None)
