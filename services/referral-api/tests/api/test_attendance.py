"""Bulk register marks: accepted, unchanged, corrected and rejected one by one; one event per pupil."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func, select

from inclusion_kit.auth import Role
from referral_api.adapters.orm import attendance_marks, tables

from .conftest import Api

CATALOG = Path(__file__).resolve().parents[4] / "shared" / "catalog" / "schemas"
ALEX = "H886200024001"
SAM = "K886400023012"
NDJSON = {"content-type": "application/x-ndjson"}


# The PostgreSQL path (COPY, asyncpg arrays, the per-school lock) must behave exactly as SQLite's.
pytestmark = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)


def ndjson(*marks: dict[str, Any] | str) -> bytes:
    return b"\n".join((m if isinstance(m, str) else json.dumps(m)).encode() for m in marks) + b"\n"


def mark(upn: str, day: str, session: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"upn": upn, "date": day, "session": session, "code": code, **extra}


@pytest.fixture
async def on_roll(api: Api) -> Api:
    """Alex on 118000's roll and Sam on 118001's, since the start of the year."""
    api.clock.set(datetime(2025, 10, 8, 16, 0, tzinfo=UTC))
    for urn, upn, name in (("118000", ALEX, "Alex"), ("118001", SAM, "Sam")):
        response = await api.client.post(
            "/roll-changes/admissions",
            headers=api.token(Role.SCHOOL, urns=(urn,)),
            json={
                "school_urn": urn,
                "starting_day": "2025-09-03",
                "entered_on": "2025-09-03",
                "child": {"upn": upn, "forename": name, "surname": "Example", "date_of_birth": "2014-03-02"},
            },
        )
        assert response.status_code == 201, response.text
    return api


async def send(api: Api, body: bytes, urn: str = "118000") -> Any:
    return await api.client.post(
        f"/attendance/schools/{urn}/marks",
        content=body,
        headers={**NDJSON, **api.token(Role.SCHOOL, urns=(urn,))},
    )


async def attendance_events(api: Api) -> list[dict[str, Any]]:
    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = (await conn.execute(select(tables.outbox).order_by(tables.outbox.c.seq))).all()
    return [json.loads(r.payload) for r in rows if r.event_type == "inclusion.attendance.marks.recorded.v1"]


async def test_marks_are_stored_and_evented_once_per_pupil(on_roll: Api) -> None:
    body = ndjson(
        mark(ALEX, "2025-10-06", "AM", "/"),
        mark(ALEX, "2025-10-06", "PM", "N"),
        mark(ALEX, "2025-10-07", "AM", "L", minutes_late=12),
    )
    response = await send(on_roll, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["unchanged"], result["rejected"], result["pupils_evented"]) == (
        3,
        0,
        0,
        1,
    )
    (event,) = await attendance_events(on_roll)
    schema = json.loads((CATALOG / "inclusion.attendance.marks.recorded.v1.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(event)
    assert event["upn"] == ALEX and event["school"]["urn"] == "118000" and event["aggregate_version"] == 1
    assert [(m["date"], m["session"], m["code"], m["regime"]) for m in event["marks"]] == [
        ("2025-10-06", "AM", "/", "2024"),
        ("2025-10-06", "PM", "N", "2024"),
        ("2025-10-07", "AM", "L", "2024"),
    ]
    assert event["marks"][2]["minutes_late"] == 12
    # The pupil's record was written: one audit row names the child (by reference) and submission.
    log = tables.audit_log
    async with on_roll.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        audited = (
            await conn.execute(
                select(log.c.child_ref, log.c.resource_id, log.c.actor).where(
                    log.c.resource_type == "attendance"
                )
            )
        ).all()
    assert [(r.child_ref, r.resource_id) for r in audited] == [(event["child_ref"], result["submission_id"])]
    metrics = (await on_roll.client.get("/metrics")).text
    assert 'ingest_records_total{kind="attendance_marks",outcome="accepted"} 3.0' in metrics


async def test_two_submissions_for_one_school_at_once_store_each_mark_once(on_roll: Api) -> None:
    body = ndjson(mark(ALEX, "2025-10-06", "AM", "/"), mark(ALEX, "2025-10-06", "PM", "/"))
    first, second = await asyncio.gather(send(on_roll, body), send(on_roll, body))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    results = sorted((r.json()["accepted"], r.json()["unchanged"]) for r in (first, second))
    assert results == [(0, 2), (2, 0)]
    assert len(await attendance_events(on_roll)) == 1


async def test_resending_changes_nothing_and_a_changed_code_is_a_correction(on_roll: Api) -> None:
    first = ndjson(mark(ALEX, "2025-10-06", "AM", "/"), mark(ALEX, "2025-10-06", "PM", "N"))
    await send(on_roll, first)
    again = (await send(on_roll, first)).json()
    assert (again["accepted"], again["unchanged"], again["pupils_evented"]) == (0, 2, 0)
    assert len(await attendance_events(on_roll)) == 1
    corrected = (await send(on_roll, ndjson(mark(ALEX, "2025-10-06", "PM", "I")))).json()
    assert (corrected["accepted"], corrected["corrected"]) == (1, 1)
    events = await attendance_events(on_roll)
    assert len(events) == 2 and events[1]["aggregate_version"] == 2
    assert events[1]["marks"] == [
        {
            "date": "2025-10-06",
            "session": "PM",
            "code": "I",
            "regime": "2024",
            "minutes_late": None,
            "previous_code": "N",
        }
    ]
    async with on_roll.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        assert await conn.scalar(select(func.count()).select_from(attendance_marks)) == 2


async def test_bad_marks_are_rejected_one_by_one_and_good_ones_kept(on_roll: Api) -> None:
    on_roll.clock.set(datetime(2026, 5, 6, 16, 0, tzinfo=UTC))
    body = ndjson(
        mark(ALEX, "2026-05-05", "AM", "/"),  # 1 good
        mark("A801200005001", "2026-05-05", "AM", "/"),  # 2 check letter wrong
        mark(ALEX, "2026-05-05", "PM", "H"),  # 3 H was withdrawn in 2024
        mark(ALEX, "2026-05-04", "AM", "/"),  # 4 early May bank holiday
        mark(ALEX, "2026-05-02", "AM", "/"),  # 5 a Saturday
        mark(ALEX, "2026-05-07", "AM", "/"),  # 6 tomorrow
        mark(SAM, "2026-05-05", "AM", "/"),  # 7 another school's pupil
        mark(ALEX, "2026-05-05", "AM", "N"),  # 8 same key twice
        "{not json",  # 9
        mark(ALEX, "2026-05-05", "XX", "/"),  # 10 bad session
        mark(ALEX, "2026-05-05", "PM", "/"),  # 11 good
    )
    result = (await send(on_roll, body)).json()
    assert (result["accepted"], result["rejected"]) == (2, 9)
    reasons = {r["line"]: r["reason"] for r in result["rejections"]}
    assert "check letter" in reasons[2]
    assert "unknown code" in reasons[3]
    assert "bank holiday" in reasons[4].lower()
    assert "closed" in reasons[5]
    assert "future" in reasons[6]
    assert "not on this school's roll" in reasons[7]
    assert "twice" in reasons[8]
    assert "JSON" in reasons[9] and "session" in reasons[10]
    assert "Alex" not in json.dumps(result)  # reasons never echo personal data


async def test_a_2006_code_before_the_2024_regime(on_roll: Api) -> None:
    # Marks before 19 August 2024 are read with the 2006 code set (H existed then), but this pupil
    # was not yet on roll: the roll rule still applies.
    result = (await send(on_roll, ndjson(mark(ALEX, "2024-07-01", "AM", "H")))).json()
    assert result["rejected"] == 1


async def test_scoping_content_type_and_limits(on_roll: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    other = await on_roll.client.post(
        "/attendance/schools/118001/marks",
        content=ndjson(mark(SAM, "2025-10-06", "AM", "/")),
        headers={**NDJSON, **on_roll.token(Role.SCHOOL, urns=("118000",))},
    )
    assert other.status_code == 403
    officer = await on_roll.client.post(
        "/attendance/schools/118000/marks", content=b"", headers={**NDJSON, **on_roll.token(Role.OFFICER)}
    )
    assert officer.status_code == 403
    wrong_type = await on_roll.client.post(
        "/attendance/schools/118000/marks",
        json=[mark(ALEX, "2025-10-06", "AM", "/")],
        headers=on_roll.token(Role.SCHOOL, urns=("118000",)),
    )
    assert wrong_type.status_code == 415
    from referral_api.service_layer import attendance

    monkeypatch.setattr(attendance, "MAX_MARKS", 2)
    too_many = await send(on_roll, ndjson(*(mark(ALEX, f"2025-10-0{d}", "AM", "/") for d in (1, 2, 3))))
    assert too_many.status_code == 413
    async with on_roll.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        assert (
            await conn.scalar(select(func.count()).select_from(attendance_marks)) == 0
        )  # nothing half-written
