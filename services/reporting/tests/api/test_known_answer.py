"""The known-answer test (issue: reporting): an event history whose figures are known produces
exactly those figures through the API, on SQLite and on PostgreSQL; and a rebuild from the same
topics gives the same figures as the live projections."""

from __future__ import annotations

from typing import Any

import pytest

from reporting.bootstrap import context
from reporting.domain import commands
from reporting.service_layer.rebuild import ListSource, rebuild
from tests.events import deliveries, known_year

from .conftest import Api

pytestmark = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)
YEAR = {"academic_year": "2025/26"}


def _row(report: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    return next(r for r in report["rows"] if r[key] == value)


async def _figures(api: Api) -> dict[str, Any]:
    return {
        "board": (await api.get("/reports/indicators", **YEAR))["indicators"],
        "attendance_phase": (await api.get("/reports/attendance", by="phase", **YEAR))["rows"],
        "attendance_groups": (await api.get("/reports/attendance", by="group", phase="primary", **YEAR))[
            "rows"
        ],
        "attendance_half_term": (
            await api.get("/reports/attendance", by="district", half_term="autumn-1", **YEAR)
        )["rows"],
        "exclusions": (await api.get("/reports/exclusions", **YEAR))["rows"],
        "exclusions_reason": (await api.get("/reports/exclusions", by="reason", **YEAR))["rows"],
        "cme": (await api.get("/reports/cme", by="district", **YEAR))["rows"],
        "enforcement": (await api.get("/reports/enforcement", **YEAR))["rows"],
    }


async def test_known_year_gives_the_county_figures_and_a_rebuild_gives_the_same(api: Api) -> None:
    history = known_year()
    await api.feed(history)
    await api.feed(history[:300])  # redelivered: the inbox keeps every figure as it was

    exclusions = (await api.get("/reports/exclusions", **YEAR))["rows"][0]
    assert exclusions["permanent_exclusions"] == 64
    assert (exclusions["permanent_fsm"], exclusions["permanent_fsm_share"]) == (30, 46.9)
    assert (exclusions["permanent_ehc_plan"], exclusions["permanent_ehc_plan_share"]) == (4, 6.3)
    assert exclusions["suspensions"] == 10 and exclusions["pupils_with_three_or_more_suspensions"] == 1
    assert (
        exclusions["sixth_day_due"],
        exclusions["sixth_day_on_time"],
        exclusions["sixth_day_on_time_share"],
    ) == (
        40,
        30,
        75.0,
    )

    cme = (await api.get("/reports/cme", **YEAR))["rows"][0]
    assert (cme["cases_opened"], cme["found_within_two_weeks"], cme["found_within_two_weeks_share"]) == (
        892,
        776,
        87.0,
    )
    assert (cme["found"], cme["placed_within_target"], cme["placed_within_target_share"]) == (876, 600, 68.5)
    assert cme["open_caseload"] == 892

    phases = await api.get("/reports/attendance", by="phase", **YEAR)
    primary = _row(phases, "phase", "primary")
    assert primary["attendance_rate"] == 96.0
    assert (primary["possible_sessions"], primary["absence_sessions"], primary["enrolments"]) == (
        1000,
        40,
        20,
    )
    assert (primary["persistent_absentees"], primary["persistent_absence_rate"]) == (7, 35.0)
    assert primary["late_sessions"] == 1
    secondary = _row(phases, "phase", "secondary")
    assert (
        secondary["possible_sessions"],
        secondary["unauthorised_sessions"],
        secondary["attendance_rate"],
    ) == (
        50,
        10,
        80.0,
    )

    board = {i["id"]: i for i in (await api.get("/reports/indicators", **YEAR))["indicators"]}
    assert board["attendance_primary"]["value"] == 96.0
    assert (
        board["attendance_primary"]["target"] == 96.5
        and board["attendance_primary"]["target_year"] == "2015/16"
    )
    assert board["attendance_primary"]["rag"] == "amber"  # above the 95% floor, short of 96.5%
    assert (
        board["permanent_exclusions"]["value"] == 64 and board["permanent_exclusions"]["rag"] == "amber"
    )  # 40 <= 64 <= 150
    assert board["persistent_absence_primary"]["rag"] == "red"
    assert board["cme_placed_within_30_days"]["value"] == 68.5
    assert board["attendance_primary"]["direction"] == "not_enough_data"  # nothing in earlier years
    assert [t["period"] for t in board["attendance_primary"]["trend"]] == ["2023/24", "2024/25"]

    live = await _figures(api)
    kernel = api.kernel
    report = await rebuild(kernel, context(api.settings), ListSource(deliveries(history)), commands.Rebuild())
    assert report.switched and report.previous == 1 and report.generation == 2
    assert report.events == len(history) and report.failed == 0
    rebuilt = await _figures(api)
    assert rebuilt == live
    generations = await api.get("/reports/generations")
    assert [(g["generation"], g["status"]) for g in generations] == [(1, "retired"), (2, "active")]
