"""Notifications from schools: bad input answered with a clear 4xx and nothing stored; the 45-day
cap (lunchtimes at half a day) with the pupil's total so far; the third-suspension flag once per
academic year; the events each accepted notification raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from exclusions.adapters.orm import exclusions, pupil_years, tables

from .conftest import ALEX, HIGH, PRIMARY, SAM, Api, notification


async def stored(api: Api) -> tuple[int, int, int]:
    """(exclusions, outbox rows, pupil-year rows): what a refused request must leave unchanged."""
    async with api.kernel.engine.connect() as conn:
        counts = []
        for table in (exclusions, tables.outbox, pupil_years):
            counts.append(int(await conn.scalar(select(func.count()).select_from(table)) or 0))
    return counts[0], counts[1], counts[2]


async def outbox_types(api: Api) -> list[str]:
    async with api.kernel.engine.connect() as conn:
        rows = await conn.execute(select(tables.outbox.c.event_type).order_by(tables.outbox.c.seq))
        return [r[0] for r in rows]


async def test_a_suspension_is_recorded_with_its_deadlines_and_evented(api: Api) -> None:
    response = await api.client.post("/exclusions", json=notification(length_days=6), headers=api.school())
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/exclusions/{body['id']}"
    assert body["child_ref"] == "c-sam" and body["academic_year"] == "2025/26"
    assert (body["end_date"], body["sessions"], body["days"]) == ("2025-10-13", 12, 6.0)
    deadlines = body["deadlines"]
    assert deadlines["sixth_day_provision_due"] == "2025-10-13"
    assert deadlines["provision_responsibility"] == "school"
    assert deadlines["representations_review_due"] == "2026-01-06"
    assert deadlines["board_review_due"] is None
    assert await outbox_types(api) == ["inclusion.exclusions.exclusion.issued.v1"]


BAD = [
    ("unknown code", {"reason_codes": ["ZZ"]}, 422, "/reason_codes/0"),
    ("Other was withdrawn in 2020", {"reason_codes": ["OT"]}, 422, "/reason_codes/0"),
    ("vape-related is not in force until 2026/27", {"reason_codes": ["VR"]}, 422, "/reason_codes/0"),
    ("end before start", {"end_date": "2025-10-03"}, 422, "/end_date"),
    ("end not matching the length", {"end_date": "2025-10-09"}, 422, "/end_date"),
    ("starts on an INSET day", {"start_date": "2025-09-01"}, 422, "/start_date"),
    ("no length", {"length_days": None}, 422, ""),
    ("two lengths", {"length_sessions": 6}, 422, ""),
    ("a permanent exclusion has no length", {"kind": "permanent"}, 422, ""),
    ("E means an EHC plan", {"sen_provision": "E"}, 422, ""),
    ("four reasons", {"reason_codes": ["PA", "VA", "PP", "VP"]}, 422, "/reason_codes"),
    (
        "parents told in the future",
        {"parents_notified_at": "2025-10-07T09:00:00Z"},
        422,
        "/parents_notified_at",
    ),
    (
        "a time without its offset",
        {"parents_notified_at": "2025-10-03T15:30:00"},
        422,
        "/parents_notified_at",
    ),
    ("bad UPN check letter", {"upn": "A886400023012"}, 422, "/upn"),
    ("another school's pupil", {"upn": ALEX}, 422, "/upn"),
]


@pytest.mark.parametrize(("why", "change", "status", "pointer"), BAD, ids=[b[0] for b in BAD])
async def test_bad_input_is_refused_clearly_and_nothing_is_stored(
    api: Api, why: str, change: dict[str, Any], status: int, pointer: str
) -> None:
    before = await stored(api)
    response = await api.client.post("/exclusions", json=notification(**change), headers=api.school())
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["detail"]
    assert any(e["pointer"] == pointer for e in problem["errors"]), problem
    assert await stored(api) == before


async def test_another_schools_pupil_says_so(api: Api) -> None:
    response = await api.client.post("/exclusions", json=notification(upn=ALEX), headers=api.school())
    assert response.json()["type"].endswith("/not-on-roll")
    assert "not on the roll of school 118001" in response.json()["detail"]


async def test_a_school_notifies_only_for_its_own_urns(api: Api) -> None:
    before = await stored(api)
    response = await api.client.post(
        "/exclusions", json=notification(school_urn=PRIMARY, upn=ALEX), headers=api.school(HIGH)
    )
    assert response.status_code == 403 and response.json()["type"].endswith("/not-acting-for-school")
    assert await stored(api) == before


async def test_a_pupil_who_left_the_roll_before_the_start_is_not_on_it(api: Api) -> None:
    from .conftest import enrolment

    await api.deliver(enrolment(HIGH, SAM, "c-sam", version=2, on_roll_until=datetime(2025, 9, 30).date()))
    response = await api.client.post("/exclusions", json=notification(), headers=api.school())
    assert response.status_code == 422 and response.json()["type"].endswith("/not-on-roll")


async def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer_and_stores_nothing(
    api: Api,
) -> None:
    headers = {**api.school(), "Idempotency-Key": "mis-42"}
    first = await api.client.post("/exclusions", json=notification(), headers=headers)
    assert first.status_code == 201
    after_first = await stored(api)
    again = await api.client.post("/exclusions", json=notification(), headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await stored(api) == after_first
    reused = await api.client.post("/exclusions", json=notification(length_days=2), headers=headers)
    assert reused.status_code == 422 and reused.json()["type"].endswith("/idempotency-key-reused")
    assert await stored(api) == after_first


@pytest.mark.parametrize(
    ("why", "second"),
    [
        ("the same notification again", {}),
        ("the same start, another length", {"length_days": 2}),
        ("overlapping days", {"start_date": "2025-10-07", "length_days": 1}),
    ],
)
async def test_natural_duplicates_are_refused_with_409_naming_the_first(
    api: Api, why: str, second: dict[str, Any]
) -> None:
    first = await api.client.post("/exclusions", json=notification(), headers=api.school())
    assert first.status_code == 201
    after_first = await stored(api)
    response = await api.client.post("/exclusions", json=notification(**second), headers=api.school())
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("/duplicate-notification")
    assert response.json()["existing_id"] == first.json()["id"]
    assert await stored(api) == after_first


async def test_a_withdrawn_notification_can_be_sent_again_corrected(api: Api) -> None:
    first = (await api.client.post("/exclusions", json=notification(), headers=api.school())).json()
    withdrawn = await api.client.post(
        f"/exclusions/{first['id']}/withdrawal",
        json={"withdrawn_on": "2025-10-06", "reason": "sent with the wrong length"},
        headers=api.school(),
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_on"] == "2025-10-06"
    again = await api.client.post("/exclusions", json=notification(length_days=2), headers=api.school())
    assert again.status_code == 201
    assert await outbox_types(api) == [
        "inclusion.exclusions.exclusion.issued.v1",
        "inclusion.exclusions.exclusion.withdrawn.v1",
        "inclusion.exclusions.exclusion.issued.v1",
    ]


# The 45-day cap. Each case: suspensions already notified this year (days, or "L<n>" for n
# lunchtimes) and the new one; whether it is accepted, and the total so far the refusal states.
CAP = [
    ("exactly 45", [20, 20], 5, True, None),
    ("one day over", [20, 20], 6, False, 40.0),
    ("half a day over", [20, 20, 4.5], 1, False, 44.5),
    ("lunchtimes count half a day: 44.5 + one lunchtime = 45", [20, 20, 4, "L1"], "L1", True, None),
    ("lunchtimes count half a day: 45 + one lunchtime", [20, 20, 5], "L1", False, 45.0),
    ("ten lunchtimes are five days", [20, 20, "L10"], 1, False, 45.0),
]


def _length(item: float | str) -> dict[str, Any]:
    if isinstance(item, str):
        return {"kind": "lunchtime", "length_days": None, "lunchtimes": int(item[1:])}
    return {"length_days": item}


@pytest.mark.parametrize(("why", "before", "new", "accepted", "so_far"), CAP, ids=[c[0] for c in CAP])
async def test_the_45_day_cap(
    api: Api, why: str, before: list[float | str], new: float | str, accepted: bool, so_far: float | None
) -> None:
    api.clock.set(datetime(2026, 7, 1, 9, 0, tzinfo=UTC))
    # Successive suspensions through 2025/26, each starting on a Monday of term.
    mondays = ["2025-09-08", "2025-11-03", "2026-01-12", "2026-02-23", "2026-04-20", "2026-06-01"]
    for start, item in zip(mondays, before, strict=False):
        r = await api.client.post(
            "/exclusions", json=notification(start_date=start, **_length(item)), headers=api.school()
        )
        assert r.status_code == 201, r.text
    before_new = await stored(api)
    response = await api.client.post(
        "/exclusions", json=notification(start_date="2026-06-29", **_length(new)), headers=api.school()
    )
    if accepted:
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/suspension-cap-exceeded")
    assert problem["suspension_days_so_far"] == so_far and problem["cap_days"] == 45.0
    assert f"the pupil has {so_far:g} days so far" in problem["detail"]
    assert await stored(api) == before_new


async def test_the_limit_warning_is_raised_once_when_the_total_reaches_it(api: Api) -> None:
    api.clock.set(datetime(2026, 7, 1, 9, 0, tzinfo=UTC))
    for start, days in (("2025-09-08", 20), ("2026-01-12", 19.5), ("2026-04-20", 1), ("2026-06-01", 1)):
        r = await api.client.post(
            "/exclusions", json=notification(start_date=start, length_days=days), headers=api.school()
        )
        assert r.status_code == 201, r.text
    types = await outbox_types(api)
    assert types.count("inclusion.exclusions.pupil.suspension-limit-reached.v1") == 1
    assert types.index("inclusion.exclusions.pupil.suspension-limit-reached.v1") == 4  # with the 40.5th day


async def _flags(api: Api) -> list[dict[str, Any]]:
    async with api.kernel.engine.connect() as conn:
        rows = await conn.execute(
            select(tables.outbox.c.payload).where(
                tables.outbox.c.event_type == "inclusion.exclusions.pupil.repeat-suspension-flagged.v1"
            )
        )
        return [json.loads(bytes(r[0])) for r in rows]


# The third suspension in an academic year raises the flag, once; suspensions in another academic
# year count towards that year only. (date, kind) in the order notified; the years flagged after.
FLAG = [
    (
        "two in 2025/26 and one in 2026/27: no flag",
        [("2026-03-02", "s"), ("2026-06-01", "s"), ("2026-09-07", "s")],
        [],
    ),
    (
        "the third in 2025/26, notified last",
        [("2026-03-02", "s"), ("2026-09-07", "s"), ("2026-06-01", "s")],
        [],
    ),
    ("three in 2025/26", [("2025-10-06", "s"), ("2026-03-02", "s"), ("2026-06-01", "s")], ["2025/26"]),
    ("a lunchtime counts", [("2025-10-06", "s"), ("2026-03-02", "L"), ("2026-06-01", "s")], ["2025/26"]),
    (
        "a fourth flags nothing more",
        [("2025-10-06", "s"), ("2026-01-12", "s"), ("2026-03-02", "s"), ("2026-06-01", "s")],
        ["2025/26"],
    ),
    (
        "three in each year: one flag each",
        [
            ("2025-10-06", "s"),
            ("2026-03-02", "s"),
            ("2026-06-01", "s"),
            ("2026-09-07", "s"),
            ("2026-11-02", "s"),
            ("2027-01-11", "s"),
        ],
        ["2025/26", "2026/27"],
    ),
    (
        "a permanent exclusion is not a suspension",
        [("2025-10-06", "s"), ("2026-03-02", "s"), ("2026-06-01", "p")],
        [],
    ),
]


@pytest.mark.parametrize(("why", "items", "flagged"), FLAG, ids=[f[0] for f in FLAG])
async def test_third_suspension_flag_once_per_academic_year(
    api: Api, why: str, items: list[tuple[str, str]], flagged: list[str]
) -> None:
    api.clock.set(datetime(2027, 1, 25, 9, 0, tzinfo=UTC))
    for start, kind in items:
        body = {
            "s": {"length_days": 1},
            "L": {"kind": "lunchtime", "length_days": None},
            "p": {"kind": "permanent", "length_days": None},
        }[kind]
        r = await api.client.post(
            "/exclusions", json=notification(start_date=start, **body), headers=api.school()
        )
        assert r.status_code == 201, r.text
    flags = await _flags(api)
    assert sorted(f["academic_year"] for f in flags) == flagged
    for flag in flags:
        assert flag["suspensions_this_year"] == 3 and len(flag["exclusion_ids"]) == 3
        assert flag["upn"] == SAM and flag["school"]["urn"] == HIGH


async def test_a_withdrawn_suspension_does_not_count(api: Api) -> None:
    api.clock.set(datetime(2026, 7, 1, 9, 0, tzinfo=UTC))
    ids = []
    for start in ("2025-10-06", "2026-03-02"):
        ids.append(
            (
                await api.client.post(
                    "/exclusions", json=notification(start_date=start, length_days=1), headers=api.school()
                )
            ).json()["id"]
        )
    await api.client.post(
        f"/exclusions/{ids[0]}/withdrawal", json={"withdrawn_on": "2025-10-07"}, headers=api.school()
    )
    r = await api.client.post(
        "/exclusions", json=notification(start_date="2026-06-01", length_days=1), headers=api.school()
    )
    assert r.status_code == 201
    assert await _flags(api) == []
