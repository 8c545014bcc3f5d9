"""Codes of conduct from tables: the rolling window at its edges, the limit per parent per child,
amounts by payment date, both codes, and a request straddling 19 August 2024 (DOMAIN.md §3, §10.2)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from enforcement.adapters.policies import load_policy_book
from enforcement.domain.policy import (
    PolicyBook,
    RequestFacts,
    Rule,
    RuleResult,
    SessionMark,
    amount_due_on,
    best_rolling_window,
    judge,
    notice_terms,
    received_on,
)
from inclusion_kit.calendar import load_calendar
from inclusion_kit.codes import StatCategory

BOOK: PolicyBook = load_policy_book()
NATIONAL = BOOK.get("national-2024")
COUNTY_2016 = BOOK.get("886-2016")
CAL = load_calendar("886")


def unauth(day: str, session: str = "AM", code: str = "O") -> SessionMark:
    return SessionMark(date.fromisoformat(day), session, code, StatCategory.UNAUTH, code in "GNOU")


def present(day: str, session: str = "AM") -> SessionMark:
    return SessionMark(date.fromisoformat(day), session, "/", StatCategory.PRESENT, False)


def week_of(monday: str, sessions: int, code: str = "O") -> list[SessionMark]:
    """``sessions`` unauthorised sessions from the Monday of a school week on (AM then PM)."""
    start = date.fromisoformat(monday)
    return [
        unauthorised
        for i in range(sessions)
        for unauthorised in [unauth((start + timedelta(days=i // 2)).isoformat(), ("AM", "PM")[i % 2], code)]
    ]


@pytest.mark.parametrize(
    ("case", "extra", "period_start", "expected"),
    [
        # Autumn 2025: the half-term week (27-31 October) has no school session, so the 10 school
        # weeks ending with the week of 17 November start on Monday 8 September (11 calendar weeks).
        ("first day of the window counts", "2025-09-08", "2025-09-01", 10),
        ("the day before the window does not", "2025-09-05", "2025-09-01", 9),
        ("half-term skipped: 10 calendar weeks would start 15 September", "2025-09-12", "2025-09-01", 10),
        # Across academic years: summer 2025 ends on 22 July; the window ending with the week of
        # 15 September 2025 reaches back over the summer holiday to Monday 9 June 2025.
        ("across the summer into the previous year", "2025-06-09", "2025-06-01", 10),
        ("a week earlier is outside", "2025-06-06", "2025-06-01", 9),
    ],
)
def test_rolling_ten_school_weeks_at_its_edges(
    case: str, extra: str, period_start: str, expected: int
) -> None:
    september = date.fromisoformat(extra) >= date(2025, 9, 1)
    nine = week_of("2025-11-17", 9) if september else week_of("2025-09-15", 9)
    end = date(2025, 11, 21) if september else date(2025, 9, 19)
    window = best_rolling_window(NATIONAL, [*nine, unauth(extra)], CAL, date.fromisoformat(period_start), end)
    assert window is not None
    assert window.sessions == expected, case
    if expected == 10:
        assert window.start <= date.fromisoformat(extra)


def test_national_threshold_counts_only_g_n_o_u() -> None:
    illness = SessionMark(date(2025, 11, 21), "PM", "I", StatCategory.AUTH, False)  # never counts
    marks = [*week_of("2025-11-17", 9, "G"), illness]
    facts = RequestFacts("886", date(2025, 9, 1), date(2025, 11, 21), "leave_in_term_time")
    result = judge(BOOK, facts, marks, CAL, date(2025, 11, 24))
    assert not result.eligible
    failed = result.deciding.failed
    assert failed is not None and failed.rule is Rule.NATIONAL_THRESHOLD
    assert "9 sessions of G/N/O/U" in failed.detail
    marks.append(unauth("2025-11-21", "PM", "U"))
    assert judge(BOOK, facts, marks, CAL, date(2025, 11, 24)).eligible


@pytest.mark.parametrize(
    ("earlier", "on", "expected"),
    [
        ([], "2025-01-10", (1, 8000, 16000)),
        (["2024-09-10"], "2025-01-10", (2, None, 16000)),  # second within 3 years: £160 flat
        (["2024-09-10", "2025-01-10"], "2025-06-01", Rule.NOTICE_LIMIT),  # no third
        # The 3 years end with the proposed issue date: a notice exactly 3 years before is outside.
        (["2024-09-10", "2025-01-10"], "2027-09-10", (2, None, 16000)),
        (["2024-09-10", "2025-01-10"], "2027-09-09", Rule.NOTICE_LIMIT),
        # The clock starts with notices issued from 19 August 2024.
        (["2023-01-01", "2024-08-18"], "2025-01-10", (1, 8000, 16000)),
        (["2024-08-19", "2024-12-01"], "2025-01-10", Rule.NOTICE_LIMIT),
    ],
)
def test_national_limit_per_parent_per_child(earlier: list[str], on: str, expected: object) -> None:
    terms = notice_terms(NATIONAL, [date.fromisoformat(d) for d in earlier], date.fromisoformat(on))
    if isinstance(expected, Rule):
        assert isinstance(terms, RuleResult) and terms.rule is expected and not terms.met
        assert "prosecution" in terms.detail
    else:
        assert not isinstance(terms, RuleResult)
        assert (terms.sequence, terms.amounts.reduced_pence, terms.amounts.full_pence) == expected


def test_county_2016_code_has_no_limit_and_its_own_amounts() -> None:
    earlier = [date(2023, 1, 9), date(2023, 6, 5), date(2024, 1, 15)]
    terms = notice_terms(COUNTY_2016, earlier, date(2024, 5, 1))
    assert not isinstance(terms, RuleResult)
    assert (terms.sequence, terms.amounts.reduced_pence, terms.amounts.full_pence) == (4, 6000, 12000)


@pytest.mark.parametrize(
    ("code", "sequence", "paid_on", "expected"),
    [
        # Received Monday 6 January 2025; the 21 and 28 days run from receipt.
        ("national-2024", 1, "2025-01-06", (8000, "reduced")),
        ("national-2024", 1, "2025-01-27", (8000, "reduced")),  # day 21
        ("national-2024", 1, "2025-01-28", (16000, "full")),  # day 22
        ("national-2024", 1, "2025-02-03", (16000, "full")),  # day 28
        ("national-2024", 1, "2025-02-04", None),  # day 29: no longer payable
        ("national-2024", 1, "2025-01-04", (8000, "reduced")),  # before the deemed receipt
        ("national-2024", 2, "2025-01-07", (16000, "full")),  # a second notice: no reduced rate
        ("886-2016", 1, "2025-01-27", (6000, "reduced")),
        ("886-2016", 1, "2025-02-03", (12000, "full")),
        ("886-2016", 1, "2025-02-04", None),
    ],
)
def test_amount_due_by_payment_date(code: str, sequence: int, paid_on: str, expected: object) -> None:
    policy = BOOK.get(code)
    amounts = policy.first_notice if sequence == 1 or policy.repeat_notice is None else policy.repeat_notice
    due = amount_due_on(amounts, date(2025, 1, 6), date.fromisoformat(paid_on))
    assert (None if due is None else (due.pence, due.rate)) == expected


@pytest.mark.parametrize(
    ("served", "method", "expected"),
    [
        ("2025-01-06", "hand", "2025-01-06"),
        ("2025-01-03", "post", "2025-01-07"),  # Friday: Monday, Tuesday
        ("2024-12-24", "post", "2024-12-30"),  # Christmas Day and Boxing Day are not working days
    ],
)
def test_deemed_receipt(served: str, method: str, expected: str) -> None:
    got = received_on(NATIONAL, date.fromisoformat(served), method, CAL.bank_holidays())
    assert got == date.fromisoformat(expected)


@pytest.mark.parametrize(
    ("case", "attended", "unauthorised", "factors", "eligible"),
    [
        ("attendance 90% exactly", 18, 2, (), True),
        ("attendance 95%: not low enough", 19, 1, (), False),
        ("95% with an exam-period absence", 19, 1, ("exam_period",), True),
        ("no unauthorised absence at all", 20, 0, ("exam_period",), False),
    ],
)
def test_county_2016_code(
    case: str, attended: int, unauthorised: int, factors: tuple[str, ...], eligible: bool
) -> None:
    days = list(CAL.school_days(date(2024, 2, 26), date(2024, 3, 28)))
    marks = [present(d.isoformat()) for d in days[:attended]]
    marks += [unauth(d.isoformat()) for d in days[attended : attended + unauthorised]]
    facts = RequestFacts(
        "886", date(2024, 2, 26), date(2024, 3, 28), "irregular_attendance", None, frozenset(factors)
    )
    result = judge(BOOK, facts, marks, CAL, date(2024, 4, 2))
    assert result.eligible is eligible, case
    assert [s.code_of_conduct for s in result.segments] == ["886-2016"]
    if not eligible:
        assert result.deciding.failed is not None


def test_another_la_has_no_code_before_the_national_framework() -> None:
    facts = RequestFacts("101", date(2024, 3, 4), date(2024, 3, 28), "irregular_attendance")
    result = judge(BOOK, facts, [unauth("2024-03-04")], CAL, date(2024, 4, 2))
    assert not result.eligible
    assert result.deciding.failed is not None and result.deciding.failed.rule is Rule.NO_CODE_OF_CONDUCT


def _straddling(july_attended: int, july_unauth: int, september_unauth: int) -> list[SessionMark]:
    july = list(CAL.school_days(date(2024, 7, 1), date(2024, 7, 12)))
    marks = [present(d.isoformat()) for d in july[:july_attended]]
    marks += [unauth(d.isoformat(), "PM") for d in july[:july_unauth]]
    september = list(CAL.school_days(date(2024, 9, 4), date(2024, 9, 27)))
    marks += [unauth(d.isoformat()) for d in september[:september_unauth]]
    return marks


@pytest.mark.parametrize(
    ("case", "marks", "eligible", "deciding", "rule"),
    [
        # July judged by the 2016 code: 6 of 16 sessions missed (62.5%): eligible under it.
        ("the July part meets the 2016 code", _straddling(10, 6, 4), True, "886-2016", None),
        # September judged by the national framework: 12 sessions of O.
        (
            "the September part meets the national framework",
            _straddling(10, 0, 12),
            True,
            "national-2024",
            None,
        ),
        # 6 in July + 6 in September fall in one rolling window, but sessions before 19 August 2024
        # do not count nationally, and July's 62.5% is judged by the 2016 code: met there.
        ("each part by its own rules", _straddling(10, 6, 6), True, "886-2016", None),
        # July 100% attended, 6 sessions in September: neither code is met.
        ("neither part", _straddling(10, 0, 6), False, "national-2024", Rule.NATIONAL_THRESHOLD),
    ],
)
def test_a_request_straddling_19_august_2024_is_judged_by_the_rules_of_its_time(
    case: str, marks: list[SessionMark], eligible: bool, deciding: str, rule: Rule | None
) -> None:
    facts = RequestFacts("886", date(2024, 7, 1), date(2024, 9, 27), "irregular_attendance")
    result = judge(BOOK, facts, marks, CAL, date(2024, 10, 1))
    assert [(s.code_of_conduct, s.start, s.end) for s in result.segments] == [
        ("886-2016", date(2024, 7, 1), date(2024, 8, 18)),
        ("national-2024", date(2024, 8, 19), date(2024, 9, 27)),
    ], case
    assert result.eligible is eligible, case
    assert result.deciding.code_of_conduct == deciding, case
    if rule is not None:
        failed = result.deciding.failed
        assert failed is not None and failed.rule is rule
        assert "do not count" in failed.detail


def test_notice_to_improve_period_must_have_run() -> None:
    marks = week_of("2025-11-17", 10)
    facts = RequestFacts(
        "886", date(2025, 9, 1), date(2025, 11, 21), "irregular_attendance", date(2025, 11, 3)
    )
    early = judge(BOOK, facts, marks, CAL, date(2025, 11, 24))
    assert not early.eligible
    assert early.deciding.failed is not None and early.deciding.failed.rule is Rule.NOTICE_TO_IMPROVE_PERIOD
    assert judge(BOOK, facts, marks, CAL, date(2025, 12, 15)).eligible  # 6 weeks after 3 November


def test_policy_book_refuses_overlaps_and_bad_improvement_periods() -> None:
    with pytest.raises(ValueError, match="overlap"):
        PolicyBook([NATIONAL, NATIONAL.with_overrides(id="other", effective_from=date(2025, 1, 1))])
    with pytest.raises(ValueError, match="3-6 weeks"):
        NATIONAL.with_overrides(nti_weeks=8)
    assert load_policy_book(nti_weeks=3).get("national-2024").nti_weeks == 3
