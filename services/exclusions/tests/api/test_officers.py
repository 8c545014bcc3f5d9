"""Officers' side: provision (on time or late), reviews, lists by district, kind and deadline,
scoping (another school's or district's record answers 404), pupil history, part-time timetables
and the scheduler's alerts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from exclusions.adapters.orm import tables
from exclusions.bootstrap import context
from exclusions.service_layer import scheduler

from .conftest import ALEX, HIGH, PRIMARY, Api, notification


async def _events(api: Api) -> list[str]:
    async with api.kernel.engine.connect() as conn:
        return [
            r[0] for r in await conn.execute(select(tables.outbox.c.event_type).order_by(tables.outbox.c.seq))
        ]


async def _permanent(api: Api) -> dict:
    r = await api.client.post(
        "/exclusions", json=notification(kind="permanent", length_days=None), headers=api.school()
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_provision_recorded_late_says_how_late(api: Api) -> None:
    e = await _permanent(api)
    assert e["deadlines"]["board_review_due"] == "2025-11-03"
    api.clock.set(datetime(2025, 10, 15, 9, 0, tzinfo=UTC))
    r = await api.client.post(
        f"/exclusions/{e['id']}/provision",
        json={"provider": "East Kent PRU", "provider_urn": "118900", "starts_on": "2025-10-15"},
        headers=api.officer(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["provision"]["on_time"] is False and r.json()["provision"]["school_days_late"] == 2
    again = await api.client.post(
        f"/exclusions/{e['id']}/provision",
        json={"provider": "Another", "starts_on": "2025-10-15"},
        headers=api.officer(),
    )
    assert again.status_code == 409
    assert (await _events(api))[-1] == "inclusion.exclusions.provision.arranged.v1"


async def test_no_provision_duty_for_a_short_suspension(api: Api) -> None:
    e = (await api.client.post("/exclusions", json=notification(), headers=api.school())).json()
    r = await api.client.post(
        f"/exclusions/{e['id']}/provision",
        json={"provider": "X", "starts_on": "2025-10-13"},
        headers=api.officer(),
    )
    assert r.status_code == 409 and r.json()["type"].endswith("/illegal-transition")


async def test_board_then_panel_then_reconsideration_deadlines(api: Api) -> None:
    e = await _permanent(api)
    api.clock.set(datetime(2025, 11, 20, 9, 0, tzinfo=UTC))
    board = await api.client.post(
        f"/exclusions/{e['id']}/reviews",
        json={
            "stage": "board",
            "outcome": "upheld",
            "decided_on": "2025-10-20",
            "parents_notice_sent_on": "2025-10-23",
            "notice_posted": True,
        },
        headers=api.officer(),
    )
    assert board.status_code == 200, board.text
    # Posted Thu 23 Oct: deemed given Mon 27 Oct; 15 school days after that, half-term skipped.
    assert board.json()["deadlines"]["irp_application_due"] == "2025-11-21"
    api.clock.set(datetime(2025, 12, 10, 9, 0, tzinfo=UTC))
    late = await api.client.post(
        f"/exclusions/{e['id']}/reviews",
        json={
            "stage": "independent_review",
            "applied_on": "2025-11-24",
            "outcome": "quashed",
            "decided_on": "2025-11-25",
            "board_notified_on": "2025-11-26",
        },
        headers=api.officer(),
    )
    assert late.status_code == 422 and late.json()["errors"][0]["pointer"] == "/applied_on"
    panel = await api.client.post(
        f"/exclusions/{e['id']}/reviews",
        json={
            "stage": "independent_review",
            "applied_on": "2025-11-20",
            "outcome": "quashed",
            "decided_on": "2025-12-08",
            "board_notified_on": "2025-12-09",
        },
        headers=api.officer(),
    )
    assert panel.status_code == 200, panel.text
    # Board notified Tue 9 Dec: 10 school days across Christmas and the January INSET day.
    assert panel.json()["deadlines"]["reconsideration_due"] == "2026-01-07"


async def test_lists_by_district_kind_and_deadline_and_scoping(api: Api) -> None:
    permanent = await _permanent(api)
    await api.client.post(
        "/exclusions",
        json=notification(school_urn=PRIMARY, upn=ALEX, length_days=1),
        headers=api.school(PRIMARY),
    )
    officer = api.officer()
    dover = (await api.client.get("/exclusions?district=Dover", headers=officer)).json()["items"]
    assert [i["id"] for i in dover] == [permanent["id"]]
    assert len((await api.client.get("/exclusions?kind=suspension", headers=officer)).json()["items"]) == 1
    due = (await api.client.get("/exclusions?deadline=due", headers=officer)).json()["items"]
    assert [i["id"] for i in due] == [permanent["id"]]
    api.clock.set(datetime(2025, 10, 14, 9, 0, tzinfo=UTC))
    missed = (await api.client.get("/exclusions?deadline=missed", headers=officer)).json()["items"]
    assert [i["deadlines"]["next_deadline_kind"] for i in missed] == ["sixth_day_provision"]
    # An officer limited to Maidstone and the other school see nothing of Dover's record.
    assert (
        await api.client.get(f"/exclusions/{permanent['id']}", headers=api.officer("Maidstone"))
    ).status_code == 404
    assert (
        await api.client.get(f"/exclusions/{permanent['id']}", headers=api.school(PRIMARY))
    ).status_code == 404
    assert len((await api.client.get("/exclusions", headers=api.officer("Maidstone"))).json()["items"]) == 1
    history = await api.client.get("/pupils/c-sam/history", headers=officer)
    assert history.status_code == 200 and history.json()["suspension_days_by_year"] == {}
    assert (await api.client.get("/pupils/c-sam/history", headers=api.school(PRIMARY))).status_code == 404


async def test_scheduler_reports_missed_provision_once(api: Api) -> None:
    e = await _permanent(api)
    ctx = context(api.settings, api.clock)
    api.clock.set(datetime(2025, 10, 13, 18, 0, tzinfo=UTC))  # the sixth day itself
    assert (await scheduler.run_once(api.kernel.uow, ctx)).provision_missed == 0
    api.clock.set(datetime(2025, 10, 14, 6, 0, tzinfo=UTC))
    assert (await scheduler.run_once(api.kernel.uow, ctx)).provision_missed == 1
    assert (await scheduler.run_once(api.kernel.uow, ctx)).provision_missed == 0
    assert (await _events(api)).count("inclusion.exclusions.provision.missed.v1") == 1
    read = (await api.client.get(f"/exclusions/{e['id']}", headers=api.officer())).json()
    assert read["provision_missed_on"] == "2025-10-14"


def _timetable(**extra: object) -> dict:
    body = {
        "school_urn": HIGH,
        "upn": "K886400023012",
        "starts_on": "2025-10-06",
        "planned_end_on": "2025-11-21",
        "hours_per_week": 15,
        "reason": "Phased return after illness",
        "parent_agreed_on": "2025-10-03",
        "review_dates": ["2025-10-20"],
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


async def test_part_time_timetables_refused_without_end_or_review_and_alerts_when_overdue(api: Api) -> None:
    for change, pointer in (
        ({"planned_end_on": None}, "/planned_end_on"),
        ({"review_dates": []}, "/review_dates"),
        ({"planned_end_on": "2025-10-01"}, "/planned_end_on"),
    ):
        r = await api.client.post("/part-time-timetables", json=_timetable(**change), headers=api.school())
        assert r.status_code == 422 and any(e["pointer"] == pointer for e in r.json()["errors"]), r.text
    created = await api.client.post("/part-time-timetables", json=_timetable(), headers=api.school())
    assert created.status_code == 201 and created.json()["review_due"] == "2025-11-24"
    dup = await api.client.post("/part-time-timetables", json=_timetable(), headers=api.school())
    assert dup.status_code == 409
    ctx = context(api.settings, api.clock)
    api.clock.set(datetime(2025, 11, 25, 9, 0, tzinfo=UTC))
    assert (await scheduler.run_once(api.kernel.uow, ctx)).alerts_raised == 2  # past end, no review
    assert (await scheduler.run_once(api.kernel.uow, ctx)).alerts_raised == 0
    kinds = sorted(
        a["kind"] for a in (await api.client.get("/alerts", headers=api.officer())).json()["items"]
    )
    assert kinds == ["part_time_past_planned_end", "part_time_review_overdue"]
    tid = created.json()["id"]
    ended = await api.client.post(
        f"/part-time-timetables/{tid}/end",
        json={"ended_on": "2025-11-24", "outcome": "full_time"},
        headers=api.school(),
    )
    assert ended.status_code == 200 and ended.json()["ended_on"] == "2025-11-24"
    assert (await _events(api))[-2:] == [
        "inclusion.exclusions.part-time-timetable.started.v1",
        "inclusion.exclusions.part-time-timetable.ended.v1",
    ]
