"""The rules reports follow, as tables of cases (DOMAIN.md §2, §10.4)."""

from __future__ import annotations

import pytest

from inclusion_kit.calendar import load_calendar
from reporting.domain.errors import InvalidPeriod
from reporting.domain.indicators import load_areas, load_indicators
from reporting.domain.model import (
    AEA,
    AUTHORISED,
    LATE,
    NOT_COUNTED,
    PRESENT,
    UNAUTHORISED,
    UNKNOWN_CODE,
    Direction,
    MarkDeltas,
    PeriodIndex,
    Polarity,
    Rag,
    SessionCounts,
    direction_of_travel,
    is_grt,
    is_persistent,
    is_severe,
    mark_counters,
    percent,
    period_of,
    previous_periods,
    rag,
    status_moves,
)
from reporting.views import suppress

CALENDAR = load_calendar("886")


@pytest.mark.parametrize(
    ("code", "regime", "counter"),
    [
        ("/", "2024", PRESENT),
        ("L", "2024", PRESENT),
        ("B", "2024", AEA),
        ("K", "2024", AEA),
        ("J1", "2024", AUTHORISED),
        ("C2", "2024", AUTHORISED),
        ("J", "2006", AEA),  # the old J was attendance
        ("H", "2006", AUTHORISED),
        ("G", "2024", UNAUTHORISED),
        ("U", "2024", UNAUTHORISED),
        ("D", "2024", NOT_COUNTED),
        ("X", "2024", NOT_COUNTED),
        ("Y7", "2024", NOT_COUNTED),
        ("Q", "2024", NOT_COUNTED),
        ("H", "2024", UNKNOWN_CODE),  # withdrawn in 2024: never guessed
    ],
)
def test_each_code_counts_by_its_own_regime(code: str, regime: str, counter: int) -> None:
    counts = mark_counters(code, regime)
    assert counts[counter] == 1
    assert counts[LATE] == (1 if code == "L" else 0)


@pytest.mark.parametrize(
    ("present", "authorised", "unauthorised", "persistent", "severe"),
    [
        (90, 5, 5, True, False),
        (91, 9, 0, False, False),
        (50, 25, 25, True, True),
        (51, 49, 0, True, False),
        (0, 0, 0, False, False),
    ],
)
def test_persistent_and_severe_absence_thresholds(
    present: int, authorised: int, unauthorised: int, persistent: bool, severe: bool
) -> None:
    counts = SessionCounts(present=present, authorised=authorised, unauthorised=unauthorised)
    assert is_persistent(counts) is persistent
    assert is_severe(counts) is severe


def test_percent_rounds_half_up_and_needs_a_denominator() -> None:
    assert percent(30, 64) == 46.9 and percent(4, 64) == 6.3 and percent(776, 892) == 87.0
    assert percent(1, 8) == 12.5 and percent(1, 0) is None and percent(960, 1000) == 96.0


@pytest.mark.parametrize(
    ("value", "floor", "target", "polarity", "expected"),
    [
        (96.0, 95.0, 96.5, Polarity.HIGHER_IS_BETTER, Rag.AMBER),
        (96.5, 95.0, 96.5, Polarity.HIGHER_IS_BETTER, Rag.GREEN),
        (94.9, 95.0, 96.5, Polarity.HIGHER_IS_BETTER, Rag.RED),
        (64, 150, 40, Polarity.LOWER_IS_BETTER, Rag.AMBER),
        (40, 150, 40, Polarity.LOWER_IS_BETTER, Rag.GREEN),
        (211, 150, 40, Polarity.LOWER_IS_BETTER, Rag.RED),
        (91.0, 90.0, None, Polarity.HIGHER_IS_BETTER, Rag.GREEN),
        (None, 90.0, 95.0, Polarity.HIGHER_IS_BETTER, None),
    ],
)
def test_rag_against_floor_and_target(
    value: float | None, floor: float, target: float | None, polarity: Polarity, expected: Rag | None
) -> None:
    assert rag(value, floor, target, polarity) is expected


def test_direction_of_travel_follows_the_polarity() -> None:
    assert direction_of_travel([94.0, 95.0, 96.0], Polarity.HIGHER_IS_BETTER, 0.1) is Direction.IMPROVING
    assert direction_of_travel([3.8, 3.0, 2.1], Polarity.LOWER_IS_BETTER, 0.1) is Direction.IMPROVING
    assert direction_of_travel([109, 90, 150], Polarity.LOWER_IS_BETTER, 1) is Direction.WORSENING
    assert direction_of_travel([96.0, 96.05], Polarity.HIGHER_IS_BETTER, 0.1) is Direction.STABLE
    assert direction_of_travel([None, 96.0], Polarity.HIGHER_IS_BETTER, 0.1) is Direction.NOT_ENOUGH_DATA


def test_periods_come_from_the_calendar() -> None:
    autumn1 = period_of(CALENDAR, "2025/26", half_term="autumn-1")
    assert (autumn1.key, str(autumn1.start), str(autumn1.end)) == (
        "2025/26:autumn-1",
        "2025-09-01",
        "2025-10-26",
    )
    spring = period_of(CALENDAR, "2025/26", term="spring")
    assert [p.key for p in previous_periods(CALENDAR, spring, 2)] == ["2025/26:autumn", "2024/25:summer"][
        ::-1
    ]
    index = PeriodIndex(CALENDAR)
    assert index.keys_for(autumn1.start) == ("2025/26", "2025/26:autumn", "2025/26:autumn-1")
    with pytest.raises(InvalidPeriod) as exc:
        period_of(CALENDAR, "2025/26", term="winter")
    assert exc.value.parameter == "term"
    with pytest.raises(InvalidPeriod):
        period_of(CALENDAR, "2040/41")


def test_an_events_marks_sum_per_period_with_corrections_taking_their_old_code_out() -> None:
    autumn1 = period_of(CALENDAR, "2025/26", half_term="autumn-1")
    autumn2 = period_of(CALENDAR, "2025/26", half_term="autumn-2")
    a, b = autumn1.start, CALENDAR.school_day_on_or_after(autumn2.start)
    deltas = MarkDeltas(PeriodIndex(CALENDAR), cache_size=2, cached_marks=2)
    day = ((a, "/", None, "2024"), (a, "N", "/", "2024"))  # present, then a correction / -> N
    present_then_moved = dict(deltas.of(day))
    assert set(present_then_moved) == {"2025/26", "2025/26:autumn", "2025/26:autumn-1"}
    expected = [0] * 7
    expected[UNAUTHORISED] = 1  # +1 present -1 present +1 unauthorised
    assert all(list(v) == expected for v in present_then_moved.values())
    assert deltas.of(day) is deltas.of(day)  # kept: a county day repeats the same marks
    # Across half-terms: each mark counts in its own half-term, both in the term and the year.
    two = dict(deltas.of(((a, "/", None, "2024"), (b, "G", None, "2024"), (b, "D", None, "2024"))))
    assert two["2025/26"][PRESENT] == 1 and two["2025/26"][UNAUTHORISED] == 1
    assert two["2025/26"][NOT_COUNTED] == 1 and two["2025/26:autumn-1"][UNAUTHORISED] == 0
    assert two["2025/26:autumn-2"][UNAUTHORISED] == 1 and two["2025/26:autumn"][PRESENT] == 1
    # A correction to the same code changes nothing, but the rows are there; an unknown code is
    # counted as unknown.
    assert dict(deltas.of(((a, "/", "/", "2024"),)))["2025/26"] == (0,) * 7
    assert dict(deltas.of(((a, "H", None, "2024"),)))["2025/26"][UNKNOWN_CODE] == 1
    # More marks than kept, and a full cache, give the same answers worked out afresh.
    assert deltas.of(day) == tuple(present_then_moved.items())
    assert len(deltas._cache) <= 2


@pytest.mark.parametrize(
    ("before", "after", "moves"),
    [
        ((0, 0, 0, 0), (1, 0, 0, 0), (1, 0, 0)),  # first session: counted
        ((9, 0, 0, 0), (9, 0, 0, 1), (0, 1, 0)),  # 1 of 10 absent: exactly 10%, persistent
        ((9, 0, 0, 1), (10, 0, 0, 1), (0, -1, 0)),  # 1 of 11: no longer
        ((1, 0, 0, 0), (1, 0, 1, 0), (0, 1, 1)),  # 1 of 2: persistent and severe
        ((1, 0, 1, 0), (0, 0, 0, 0), (-1, -1, -1)),  # corrected away entirely
        ((0, 1, 0, 0), (0, 1, 0, 0), (0, 0, 0)),  # AEA is not absence
        ((-1, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0)),  # a correction before its mark: never counted
    ],
)
def test_how_a_row_moves_the_schools_counts(
    before: tuple[int, ...], after: tuple[int, ...], moves: tuple[int, int, int]
) -> None:
    assert status_moves((*before, 0, 0, 0), (*after, 0, 0, 0)) == moves


def test_the_county_table_ships_as_configuration() -> None:
    table = load_indicators(None, "886")
    assert len(table.indicators) == 9
    pe = table.get("permanent_exclusions")
    assert pe is not None and pe.floor == 150
    from inclusion_kit.calendar import AcademicYear

    assert pe.target_for(AcademicYear.from_label("2014/15")) == (50, "2014/15")
    assert pe.target_for(AcademicYear.from_label("2025/26")) == (40, "2015/16")
    assert pe.target_for(AcademicYear.from_label("2010/11")) == (None, None)
    assert load_areas(None, "886").area_of("thanet") == "East Kent"
    assert is_grt("WROM") and is_grt("WIRT") and is_grt("WROG") and not is_grt("WBRI")


def test_suppression_withholds_the_rates_built_on_a_small_count() -> None:
    row = {
        "enrolments": 40,
        "persistent_absentees": 3,
        "persistent_absence_rate": 7.5,
        "attendance_rate": 95.0,
    }
    out = suppress(row, 5)
    assert out["persistent_absentees"] is None and out["persistent_absence_rate"] is None
    assert out["enrolments"] == 40 and out["attendance_rate"] == 95.0
    assert out["suppressed"] == ["persistent_absence_rate", "persistent_absentees"]
    assert suppress({"enrolments": 0}, 5)["enrolments"] == 0  # nothing to disclose in a zero
