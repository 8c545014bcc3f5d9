"""The demo county: deterministic, realistic proportions, registers only on school days, and
absence patterns that give the early-warning and persistent-absence rules someone to find."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date

from inclusion_kit.calendar import load_calendar
from inclusion_kit.pupils import is_valid_upn
from inclusion_platform.demo import DISTRICTS, SIZES, DemoCounty, Size

TODAY = date(2025, 12, 10)  # autumn term, 2025/26


def test_the_same_seed_gives_the_same_county_and_another_seed_does_not() -> None:
    one, two = DemoCounty(SIZES["tiny"], today=TODAY), DemoCounty(SIZES["tiny"], today=TODAY)
    assert one.gias_csv() == two.gias_csv()
    assert [p.roll_line() for s in one.schools for p in s.pupils] == [
        p.roll_line() for s in two.schools for p in s.pupils
    ]
    other = DemoCounty(SIZES["tiny"], seed=1, today=TODAY)
    assert [p.upn for s in other.schools for p in s.pupils] != [p.upn for s in one.schools for p in s.pupils]


def test_schools_cover_every_phase_and_district_with_unique_identifiers() -> None:
    county = DemoCounty(Size(schools=48, pupils_per_school=0.05, weeks=1), today=TODAY)
    rows = list(csv.DictReader(io.StringIO(county.gias_csv())))
    assert len({r["URN"] for r in rows}) == 48
    assert {r["DistrictAdministrative (name)"] for r in rows} == set(DISTRICTS)
    assert {s.phase for s in county.schools} == {"primary", "secondary", "special", "pru"}
    assert Counter(s.phase for s in county.schools).most_common(1)[0][0] == "primary"
    upns = [p.upn for s in county.schools for p in s.pupils]
    assert len(set(upns)) == len(upns) and all(is_valid_upn(u) for u in upns)


def test_pupil_groups_in_realistic_proportions() -> None:
    county = DemoCounty(Size(schools=40, pupils_per_school=0.5, weeks=1), today=TODAY)
    pupils = [p for s in county.schools if s.phase != "special" for p in s.pupils]
    share = lambda pred: sum(1 for p in pupils if pred(p)) / len(pupils)  # noqa: E731
    assert 0.18 < share(lambda p: p.characteristics["fsm_periods"]) < 0.30
    assert 0.08 < share(lambda p: p.characteristics["sen_provision"] == "K") < 0.18
    assert 0.02 < share(lambda p: p.characteristics["sen_provision"] == "E") < 0.09
    assert 0.0 < share(lambda p: p.characteristics["ethnicity"] in ("WROM", "WIRT")) < 0.03
    years = {p.year_group for s in county.schools if s.phase == "secondary" for p in s.pupils}
    assert years == {"7", "8", "9", "10", "11"}


def test_registers_are_on_school_days_only_and_show_persistent_and_drifting_absence() -> None:
    county = DemoCounty(Size(schools=8, pupils_per_school=0.3, weeks=None), today=TODAY)
    calendar = load_calendar("886")
    days = county.school_days()
    assert days and all(calendar.is_school_day(d) for d in days)
    assert days[0] >= county.year_start and days[-1] < TODAY
    absence: dict[str, list[int]] = {}
    for school in county.schools:
        for mark in county.marks(school, days):
            absent = mark["code"] not in ("/", "\\", "L")
            absence.setdefault(mark["upn"], []).append(int(absent))
    rates = {upn: sum(v) / len(v) for upn, v in absence.items()}
    persistent = sum(1 for r in rates.values() if r >= 0.10) / len(rates)
    assert 0.08 < persistent < 0.35  # England's persistent absence has been 15-22% since 2021
    assert 0.90 < 1 - sum(rates.values()) / len(rates) < 0.97  # overall attendance
    drifting = [p for s in county.schools for p in s.pupils if p.drift > 0]
    assert drifting
    later_worse = 0
    for pupil in drifting:
        marks = absence[pupil.upn]
        half = len(marks) // 2
        later_worse += sum(marks[half:]) > sum(marks[:half])
    assert later_worse / len(drifting) > 0.7
