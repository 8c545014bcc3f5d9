"""School calendar (ARCHITECTURE §7; DOMAIN.md §2, §3.2, §4), using LA 886's packaged defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest
from pydantic import ValidationError

from inclusion_kit.calendar import (
    AcademicYear,
    CalendarRangeError,
    HalfTermName,
    SchoolCalendar,
    TermDates,
    TermName,
    academic_year_of,
    load_calendar,
    london_date,
    london_today,
)

D = date


@pytest.fixture(scope="module")
def kent() -> SchoolCalendar:
    return load_calendar("886")


# A test LA whose summer term deliberately runs over Easter and the May bank holidays, so that
# bank holidays inside term dates are exercised (LA 886 has them in its breaks, except early May).
TEST_YAML = """
la_code: "999"
name: test LA
years:
  "2025/26":
    autumn: {start: 2025-09-01, end: 2025-12-19, half_term: {start: 2025-10-27, end: 2025-10-31}}
    spring: {start: 2026-01-05, end: 2026-02-27, half_term: {start: 2026-02-09, end: 2026-02-13}}
    summer: {start: 2026-03-09, end: 2026-07-22, half_term: {start: 2026-06-01, end: 2026-06-05}}
    inset_days: [2025-09-01]
    closures:
      - {date: 2026-05-07, reason: polling day}
"""


@pytest.fixture(scope="module")
def test_la() -> SchoolCalendar:
    return SchoolCalendar(TermDates.from_yaml(TEST_YAML))


# --- school days ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        # term edges, 2025/26 (term starts with two INSET days)
        (D(2025, 8, 30), "weekend"),
        (D(2025, 8, 29), "school holiday"),
        (D(2025, 8, 28), "school holiday"),
        (D(2025, 9, 1), "INSET day"),  # first day of autumn term
        (D(2025, 9, 2), "INSET day"),
        (D(2025, 9, 3), None),  # first school day of the year
        (D(2025, 12, 19), None),  # last day of autumn term
        (D(2025, 12, 22), "school holiday"),
        (D(2025, 12, 25), "school holiday"),  # Christmas falls in the break
        (D(2026, 1, 5), "INSET day"),  # first day of spring term
        (D(2026, 1, 6), None),
        (D(2026, 3, 27), None),  # last day of spring term
        (D(2026, 3, 30), "school holiday"),
        (D(2026, 4, 3), "school holiday"),  # Good Friday, in the Easter break
        (D(2026, 4, 6), "school holiday"),  # Easter Monday, in the Easter break
        (D(2026, 4, 13), "INSET day"),
        (D(2026, 4, 14), None),
        (D(2026, 5, 4), "bank holiday: May Day"),  # early May bank holiday inside the summer term
        (D(2026, 7, 17), None),  # last school day of 2025/26
        (D(2026, 7, 20), "INSET day"),  # last day of summer term
        (D(2026, 7, 21), "school holiday"),
        # half-term Mondays
        (D(2025, 10, 27), "half-term"),
        (D(2026, 2, 16), "half-term"),
        (D(2026, 5, 25), "half-term"),  # also the spring bank holiday
        (D(2024, 10, 28), "half-term"),
        (D(2025, 2, 17), "half-term"),
        # the Fridays before and Mondays after a half-term are school days
        (D(2025, 10, 24), None),
        (D(2025, 11, 3), None),
        (D(2024, 9, 4), None),  # first school day 2024/25
        (D(2024, 12, 20), None),
        (D(2025, 5, 5), "bank holiday: May Day"),
        (D(2026, 12, 28), "school holiday"),
        (D(2027, 3, 26), "school holiday"),  # Good Friday 2027
    ],
)
def test_school_days(kent: SchoolCalendar, day: date, reason: str | None) -> None:
    assert kent.non_school_day_reason(day) == reason
    assert kent.is_school_day(day) is (reason is None)


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (D(2026, 4, 2), None),
        (D(2026, 4, 3), "bank holiday: Good Friday"),
        (D(2026, 4, 6), "bank holiday: Easter Monday"),
        (D(2026, 4, 7), None),
        (D(2026, 5, 4), "bank holiday: May Day"),
        (D(2026, 5, 7), "closure: polling day"),
        (D(2026, 5, 25), "bank holiday: Spring Bank Holiday"),
        (D(2026, 6, 1), "half-term"),
        (D(2025, 9, 1), "INSET day"),
        (D(2025, 12, 25), "school holiday"),
    ],
)
def test_bank_holidays_inside_term_are_not_school_days(
    test_la: SchoolCalendar, day: date, reason: str | None
) -> None:
    assert test_la.non_school_day_reason(day) == reason
    assert test_la.is_school_day(day) is (reason is None)


@pytest.mark.parametrize("year", [2023, 2024, 2025, 2026])
def test_each_packaged_year_has_190_school_days_and_5_inset_days(kent: SchoolCalendar, year: int) -> None:
    ay = AcademicYear(year)
    assert kent.count_school_days(ay.start, ay.end) == 190  # DOMAIN §2: 380 sessions
    assert len(kent.config.years[ay.label].inset_days) == 5


# --- add / count ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2025, 10, 20), 0, D(2025, 10, 20)),
        (D(2025, 10, 20), 1, D(2025, 10, 21)),  # the start day itself is not counted
        (D(2025, 10, 24), 1, D(2025, 11, 3)),  # across the October half-term
        (D(2025, 10, 23), 2, D(2025, 11, 3)),
        (D(2025, 10, 25), 1, D(2025, 11, 3)),  # from a Saturday in half-term
        (D(2025, 12, 15), 15, D(2026, 1, 20)),  # across Christmas and the 5 Jan INSET day
        (D(2026, 2, 13), 1, D(2026, 2, 23)),  # across the February half-term
        (D(2026, 4, 30), 2, D(2026, 5, 5)),  # skips the early May bank holiday
        (D(2026, 7, 17), 1, D(2026, 9, 3)),  # across the summer into 2026/27 (INSET 1-2 Sep)
        (D(2026, 7, 15), 5, D(2026, 9, 7)),  # 16, 17 Jul, 3, 4, 7 Sep
        (D(2024, 7, 22), 1, D(2024, 9, 4)),  # 2023/24 into 2024/25
    ],
)
def test_add_school_days(kent: SchoolCalendar, start: date, n: int, expected: date) -> None:
    assert kent.add_school_days(start, n) == expected


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        (D(2025, 10, 20), D(2025, 10, 20), 1),  # both ends inclusive
        (D(2025, 10, 25), D(2025, 10, 25), 0),  # a Saturday
        (D(2025, 10, 20), D(2025, 11, 7), 10),  # across the half-term
        (D(2025, 10, 27), D(2025, 10, 31), 0),  # the half-term itself
        (D(2026, 7, 13), D(2026, 9, 4), 7),  # across academic years
        (D(2025, 11, 7), D(2025, 10, 20), 0),  # end before start
        (D(2025, 12, 16), D(2026, 1, 20), 15),
    ],
)
def test_count_school_days(kent: SchoolCalendar, start: date, end: date, count: int) -> None:
    assert kent.count_school_days(start, end) == count
    assert len(list(kent.school_days(start, end))) == count


def test_add_and_count_agree(kent: SchoolCalendar) -> None:
    start = D(2025, 10, 1)
    for n in range(1, 200):
        end = kent.add_school_days(start, n)
        assert kent.count_school_days(start + timedelta(days=1), end) == n


def test_school_days_iterator(kent: SchoolCalendar) -> None:
    assert list(kent.school_days(D(2025, 10, 23), D(2025, 11, 4))) == [
        D(2025, 10, 23),
        D(2025, 10, 24),
        D(2025, 11, 3),
        D(2025, 11, 4),
    ]


def test_next_previous_on_or_after(kent: SchoolCalendar) -> None:
    assert kent.next_school_day(D(2025, 12, 19)) == D(2026, 1, 6)
    assert kent.next_school_day(D(2025, 10, 20)) == D(2025, 10, 21)
    assert kent.previous_school_day(D(2026, 1, 6)) == D(2025, 12, 19)
    assert kent.school_day_on_or_after(D(2025, 10, 20)) == D(2025, 10, 20)
    assert kent.school_day_on_or_after(D(2025, 8, 1)) == D(2025, 9, 3)
    assert kent.first_school_day(AcademicYear(2025)) == D(2025, 9, 3)


def test_negative_n_rejected(kent: SchoolCalendar) -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        kent.add_school_days(D(2025, 10, 20), -1)
    with pytest.raises(ValueError, match="n must be >= 1"):
        kent.rolling_school_weeks_start(D(2025, 10, 20), 0)


# --- weeks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (D(2025, 11, 9), D(2025, 11, 3)),  # a Sunday belongs to its Monday-based week
        (D(2025, 11, 1), None),  # half-term week
        (D(2026, 7, 20), None),  # INSET-only week at the end of term is not a school week
        (D(2026, 8, 31), D(2026, 8, 31)),  # bank holiday + 2 INSET days, but school Thu/Fri
        (D(2025, 12, 25), None),
    ],
)
def test_school_week_of(kent: SchoolCalendar, day: date, monday: date | None) -> None:
    assert kent.school_week_of(day) == monday


@pytest.mark.parametrize(
    ("day", "n", "start"),
    [
        # 10 school weeks back from 19 Nov 2025, skipping the half-term week: 8 Sep, not 15 Sep.
        (D(2025, 11, 19), 10, D(2025, 9, 8)),
        # Across the summer holiday into 2025/26 (week of 20 Jul 2026 has only an INSET day).
        (D(2026, 9, 18), 10, D(2026, 6, 1)),
        (D(2026, 9, 18), 3, D(2026, 8, 31)),
        (D(2025, 11, 19), 1, D(2025, 11, 17)),
        (D(2026, 8, 10), 1, D(2026, 7, 13)),  # from the holidays: the latest school week before
        (D(2023, 10, 4), 5, D(2023, 9, 4)),  # the first configured school weeks
    ],
)
def test_rolling_school_weeks_start(kent: SchoolCalendar, day: date, n: int, start: date) -> None:
    assert kent.rolling_school_weeks_start(day, n) == start


def test_rolling_window_before_configured_years_raises(kent: SchoolCalendar) -> None:
    with pytest.raises(CalendarRangeError, match="before the first configured academic year"):
        kent.rolling_school_weeks_start(D(2023, 10, 4), 10)


# --- terms and academic years -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "term", "half"),
    [
        (D(2025, 9, 1), TermName.AUTUMN, HalfTermName.AUTUMN_1),
        (D(2025, 10, 24), TermName.AUTUMN, HalfTermName.AUTUMN_1),
        (D(2025, 10, 27), TermName.AUTUMN, None),  # half-term break: in the term, in no half
        (D(2025, 11, 3), TermName.AUTUMN, HalfTermName.AUTUMN_2),
        (D(2025, 12, 19), TermName.AUTUMN, HalfTermName.AUTUMN_2),
        (D(2025, 12, 24), None, None),
        (D(2026, 2, 13), TermName.SPRING, HalfTermName.SPRING_1),
        (D(2026, 2, 23), TermName.SPRING, HalfTermName.SPRING_2),
        (D(2026, 5, 26), TermName.SUMMER, None),
        (D(2026, 6, 1), TermName.SUMMER, HalfTermName.SUMMER_2),
        (D(2026, 4, 14), TermName.SUMMER, HalfTermName.SUMMER_1),
        (D(2026, 8, 10), None, None),
    ],
)
def test_term_and_half_term_of(
    kent: SchoolCalendar, day: date, term: TermName | None, half: HalfTermName | None
) -> None:
    found_term = kent.term_of(day)
    found_half = kent.half_term_of(day)
    assert (found_term.name if found_term else None) == term
    assert (found_half.name if found_half else None) == half
    if found_half is not None:
        assert found_half.academic_year == AcademicYear(2025)
        assert found_half.contains(day)


def test_half_term_names_are_strings(kent: SchoolCalendar) -> None:
    period = kent.half_term_of(D(2025, 11, 3))
    assert period is not None
    assert period.name == "autumn-2"
    assert (period.start, period.end) == (D(2025, 11, 1), D(2025, 12, 19))
    assert [p.name for p in kent.half_terms(AcademicYear(2025))] == [
        "autumn-1",
        "autumn-2",
        "spring-1",
        "spring-2",
        "summer-1",
        "summer-2",
    ]


@pytest.mark.parametrize(
    ("day", "label", "start", "end"),
    [
        (D(2025, 7, 31), "2024/25", D(2024, 8, 1), D(2025, 7, 31)),
        (D(2025, 8, 1), "2025/26", D(2025, 8, 1), D(2026, 7, 31)),
        (D(2026, 1, 1), "2025/26", D(2025, 8, 1), D(2026, 7, 31)),
        (D(2000, 3, 1), "1999/00", D(1999, 8, 1), D(2000, 7, 31)),
        (D(2040, 9, 1), "2040/41", D(2040, 8, 1), D(2041, 7, 31)),  # no configuration needed
    ],
)
def test_academic_year_of(kent: SchoolCalendar, day: date, label: str, start: date, end: date) -> None:
    year = academic_year_of(day)
    assert (year.label, str(year), year.start, year.end) == (label, label, start, end)
    assert kent.academic_year_of(day) == year
    assert AcademicYear.from_label(label) == year


@pytest.mark.parametrize("label", ["2025/27", "2025-26", "25/26", "2025/2026", ""])
def test_bad_academic_year_label(label: str) -> None:
    with pytest.raises(ValueError, match="academic year label"):
        AcademicYear.from_label(label)


# --- outside the configured years --------------------------------------------------------------


@pytest.mark.parametrize("day", [D(2023, 7, 31), D(2027, 8, 1), D(2030, 1, 7), D(2019, 9, 2)])
def test_dates_outside_configured_years_raise(kent: SchoolCalendar, day: date) -> None:
    with pytest.raises(CalendarRangeError, match="outside the configured academic years"):
        kent.is_school_day(day)
    with pytest.raises(CalendarRangeError):
        kent.term_of(day)
    with pytest.raises(CalendarRangeError):
        kent.count_school_days(day, day)
    with pytest.raises(CalendarRangeError):
        kent.add_school_days(day, 1)


def test_configured_range_edges(kent: SchoolCalendar) -> None:
    assert (kent.first_date, kent.last_date) == (D(2023, 8, 1), D(2027, 7, 31))
    assert kent.is_school_day(D(2023, 8, 1)) is False
    assert kent.is_school_day(D(2027, 7, 31)) is False
    assert [y.label for y in kent.academic_years] == ["2023/24", "2024/25", "2025/26", "2026/27"]


def test_counting_past_the_last_configured_year_raises(kent: SchoolCalendar) -> None:
    assert kent.add_school_days(D(2027, 7, 1), 5) == D(2027, 7, 8)
    with pytest.raises(CalendarRangeError, match="runs past the last configured academic year"):
        kent.add_school_days(D(2027, 7, 1), 30)
    with pytest.raises(CalendarRangeError):
        kent.count_school_days(D(2027, 7, 1), D(2027, 9, 30))


def test_week_straddling_the_configured_edge_raises(kent: SchoolCalendar) -> None:
    # Week of Mon 31 Jul 2023: the Monday is outside the configuration and could be a school day.
    with pytest.raises(CalendarRangeError):
        kent.school_week_of(D(2023, 8, 2))


def test_datetime_is_not_a_date(kent: SchoolCalendar) -> None:
    with pytest.raises(TypeError, match="london_date"):
        kent.is_school_day(datetime(2025, 10, 20, 9, 0, tzinfo=UTC))


# --- time -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2025, 7, 1, 23, 30, tzinfo=UTC), D(2025, 7, 2)),  # BST: 00:30 next day in London
        (datetime(2025, 7, 1, 22, 59, tzinfo=UTC), D(2025, 7, 1)),
        (datetime(2025, 1, 15, 23, 30, tzinfo=UTC), D(2025, 1, 15)),  # GMT: same day
        (datetime(2025, 10, 26, 0, 30, tzinfo=UTC), D(2025, 10, 26)),  # clocks go back at 01:00 UTC
        (datetime(2025, 7, 31, 23, 30, tzinfo=UTC), D(2025, 8, 1)),  # a new academic year in London
        (datetime(2025, 7, 2, 1, 0, tzinfo=timezone(timedelta(hours=2))), D(2025, 7, 2)),
    ],
)
def test_london_date(instant: datetime, expected: date) -> None:
    assert london_date(instant) == expected
    assert london_today(instant) == expected


def test_london_today_default_and_naive() -> None:
    assert london_today() in {datetime.now(UTC).date(), datetime.now(UTC).date() + timedelta(days=1)}
    with pytest.raises(ValueError, match="timezone-aware"):
        london_date(datetime(2025, 7, 1, 23, 30))


# --- configuration ----------------------------------------------------------------------------


def test_packaged_calendar_is_package_data() -> None:
    resource = resources.files("inclusion_kit").joinpath("data", "calendars", "886.yaml")
    assert resource.is_file()
    assert "configuration" in resource.read_text(encoding="utf-8").lower()
    assert load_calendar("886") is load_calendar("886")  # cached


def test_unknown_la_code_raises() -> None:
    with pytest.raises(LookupError, match="no packaged calendar for LA 123"):
        load_calendar("123")


def test_load_calendar_from_path(tmp_path: Path) -> None:
    path = tmp_path / "999.yaml"
    path.write_text(TEST_YAML, encoding="utf-8")
    for source in (path, str(path)):
        calendar = load_calendar(source)
        assert calendar.config.la_code == "999"
        assert calendar.is_school_day(D(2026, 5, 7)) is False


def _term(start: str, end: str, half_start: str, half_end: str) -> dict[str, object]:
    return {"start": start, "end": end, "half_term": {"start": half_start, "end": half_end}}


_YEAR = {
    "autumn": _term("2025-09-01", "2025-12-19", "2025-10-27", "2025-10-31"),
    "spring": _term("2026-01-05", "2026-03-27", "2026-02-16", "2026-02-20"),
    "summer": _term("2026-04-13", "2026-07-21", "2026-05-25", "2026-05-29"),
}


def _config(**changes: object) -> dict[str, object]:
    year: dict[str, object] = {**_YEAR, **changes}
    return {"la_code": "999", "years": {"2025/26": year}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_config(inset_days=["2025-09-06"]), "weekend"),
        (_config(inset_days=["2025-10-28"]), "not in term time"),  # in the half-term
        (_config(inset_days=["2025-08-04"]), "not in term time"),
        (_config(inset_days=["2025-09-01", "2025-09-01"]), "duplicate INSET day"),
        (_config(closures=[{"date": "2025-12-24", "reason": "polling day"}]), "not in term time"),
        (_config(closures=[{"date": "2025-11-05", "reason": ""}]), "at least 1 character"),
        (
            _config(autumn=_term("2025-09-01", "2025-12-19", "2025-12-15", "2025-12-19")),
            "strictly inside",
        ),
        (
            _config(spring=_term("2025-12-01", "2026-03-27", "2026-02-16", "2026-02-20")),
            "order",
        ),
        (
            _config(summer=_term("2026-04-13", "2026-08-03", "2026-05-25", "2026-05-29")),
            "outside the academic year",
        ),
        (
            _config(autumn=_term("2025-12-19", "2025-09-01", "2025-10-27", "2025-10-31")),
            "ends .* before it starts",
        ),
        (_config(inset=["2025-09-01"]), "Extra inputs are not permitted"),  # typo in a key
        ({"la_code": "999", "years": {"2025/27": _YEAR}}, "academic year label"),
        ({"la_code": "999", "years": {"2025/26": _YEAR, "2027/28": _YEAR}}, "outside the academic year"),
        ({"la_code": "99", "years": {"2025/26": _YEAR}}, "LA code must be 3 digits"),
        ({"la_code": "999", "years": {}}, "at least 1 item"),
    ],
)
def test_invalid_configuration(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TermDates.model_validate(data)


def test_years_must_be_consecutive() -> None:
    def shifted(years: int) -> dict[str, object]:
        def move(value: object) -> object:
            if isinstance(value, dict):
                return {k: move(v) for k, v in value.items()}
            assert isinstance(value, str)
            return f"{int(value[:4]) + years}{value[4:]}"

        return {k: move(v) for k, v in _YEAR.items()}

    TermDates.model_validate({"la_code": "999", "years": {"2025/26": _YEAR, "2026/27": shifted(1)}})
    with pytest.raises(ValidationError, match="consecutive"):
        TermDates.model_validate({"la_code": "999", "years": {"2025/26": _YEAR, "2027/28": shifted(2)}})
