"""Who sees what, small-number suppression, audited CSV/XLSX exports and clear 4xx problems."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import select

from inclusion_kit.auth import Role
from reporting.adapters.orm import tables
from tests.events import PRIMARY_A, PRIMARY_B, enrolment, exclusion, marks, school_days

from .conftest import Api

YEAR = {"academic_year": "2025/26"}


async def _two_districts(api: Api) -> None:
    days = school_days(__import__("datetime").date(2025, 9, 8), 5)
    events = []
    for n in range(12):
        where = PRIMARY_A if n < 9 else PRIMARY_B  # 9 pupils in Maidstone, 3 in Dover
        events.append(enrolment(n, where))
        events.append(
            marks(n, where, [(d, "AM", "N" if (n == 0 and d == days[0]) else "/", None) for d in days])
        )
    events += [exclusion(50, "permanent", where=PRIMARY_B, fsm=True)]
    await api.feed(events)


async def test_roles_and_district_scope(api: Api) -> None:
    await _two_districts(api)
    school = await api.client.get(
        "/reports/attendance", params=YEAR, headers=api.token(Role.SCHOOL, urns=("118000",))
    )
    assert school.status_code == 403 and school.headers["content-type"] == "application/problem+json"
    assert (await api.client.get("/reports/attendance", params=YEAR)).status_code == 401

    everyone = await api.get("/reports/attendance", Role.OFFICER, by="district", **YEAR)
    assert [r["district"] for r in everyone["rows"]] == ["Dover", "Maidstone"] and everyone[
        "districts"
    ] is None

    dover = api.token(Role.OFFICER, districts=("Dover",))
    scoped = (
        await api.client.get("/reports/attendance", params={**YEAR, "by": "district"}, headers=dover)
    ).json()
    assert [r["district"] for r in scoped["rows"]] == ["Dover"] and scoped["districts"] == ["dover"]
    la = (await api.client.get("/reports/attendance", params=YEAR, headers=dover)).json()["rows"][0]
    assert la["enrolments"] == 3  # the LA figure within the officer's districts only
    other = await api.client.get(
        "/reports/attendance", params={**YEAR, "district": "Maidstone"}, headers=dover
    )
    assert other.status_code == 404


async def test_bad_parameters_are_422_with_pointers(api: Api) -> None:
    headers = api.token(Role.MANAGER)
    bad_year = await api.client.get(
        "/reports/attendance", params={"academic_year": "2025-26"}, headers=headers
    )
    assert bad_year.status_code == 422 and bad_year.json()["errors"][0]["pointer"] == "query/academic_year"
    unconfigured = await api.client.get("/reports/cme", params={"academic_year": "2031/32"}, headers=headers)
    assert unconfigured.status_code == 422
    bad_term = await api.client.get("/reports/cme", params={**YEAR, "term": "winter"}, headers=headers)
    assert bad_term.json()["errors"][0]["pointer"] == "query/term"
    bad_by = await api.client.get("/reports/cme", params={**YEAR, "by": "reason"}, headers=headers)
    assert bad_by.status_code == 422 and bad_by.json()["errors"][0]["pointer"] == "query/by"
    unknown_by = await api.client.get("/reports/cme", params={**YEAR, "by": "planet"}, headers=headers)
    assert unknown_by.status_code == 422


async def test_suppression_withholds_small_counts_and_their_rates(api: Api) -> None:
    await _two_districts(api)
    rows = (await api.get("/reports/attendance", by="district", suppress="true", **YEAR))["rows"]
    dover = next(r for r in rows if r["district"] == "Dover")
    maidstone = next(r for r in rows if r["district"] == "Maidstone")
    assert dover["enrolments"] is None and dover["persistent_absence_rate"] is None
    assert "enrolments" in dover["suppressed"]
    assert dover["possible_sessions"] == 15  # sessions are not children: never withheld
    assert maidstone["enrolments"] == 9 and maidstone["persistent_absentees"] is None  # 1 pupil
    assert maidstone["attendance_rate"] == 97.8


async def test_exports_are_audited_and_unsuppressed_ones_need_a_manager(api: Api) -> None:
    await _two_districts(api)
    officer = api.token(Role.OFFICER)
    csv = await api.client.get("/exports/attendance", params={**YEAR, "by": "district"}, headers=officer)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert "# period,2025/26" in text and "counts 1-4 shown as c" in text
    dover = next(line for line in text.splitlines() if line.startswith("Dover,"))
    assert dover.startswith("Dover,c,15,")
    denied = await api.client.get(
        "/exports/attendance", params={**YEAR, "suppress": "false"}, headers=officer
    )
    assert denied.status_code == 403
    manager = api.token(Role.MANAGER)
    xlsx = await api.client.get(
        "/exports/exclusions", params={**YEAR, "format": "xlsx", "suppress": "false"}, headers=manager
    )
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "permanent_fsm_share" in strings and "<v>100</v>" in sheet  # 1 of 1 permanent FSM
    board = await api.client.get("/exports/indicators", params={**YEAR, "format": "csv"}, headers=manager)
    assert board.status_code == 200 and "attendance_primary" in board.text
    async with api.kernel.engine.connect() as conn:
        audit = (await conn.execute(select(tables.audit_log).order_by(tables.audit_log.c.seq))).all()
    assert [(a.action, a.resource_type, a.purpose, a.actor) for a in audit] == [
        ("export", "report.attendance", "published-figures", "officer-1"),
        ("export", "report.exclusions", "management-information", "manager-1"),
        ("export", "report.indicators", "published-figures", "manager-1"),
    ]
    assert all(a.child_ref is None for a in audit)


async def test_reports_before_any_event_are_empty_not_errors(api: Api) -> None:
    body = await api.get("/reports/indicators", **YEAR)
    assert body["generation"] is None and body["indicators"] == []
    assert (await api.get("/reports/exclusions", **YEAR))["rows"] == []
