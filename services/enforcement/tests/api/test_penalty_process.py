"""The penalty-notice process through the API: a school's request and its view, the officers'
decision, issue, payment, the sweep into prosecution, court outcomes; bad input, 409s, scoping,
audit and the outbox (events valid against the committed catalogue)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from enforcement.adapters.orm import tables
from inclusion_kit.auth import Role

from ..factories import OTHER_SCHOOL, UPN, marks, recorded, school_days
from .conftest import Api

CATALOG = Path(__file__).resolve().parents[4] / "shared" / "catalog" / "schemas"
SCHOOL = {"urns": ("118000",)}
PARENTS = [
    {
        "forename": "Jo",
        "surname": "Example",
        "relationship": "mother",
        "address": {"line1": "1 Lane", "postcode": "ME14 1AA"},
    },
    {
        "forename": "Sam",
        "surname": "Example",
        "relationship": "father",
        "address": {"line1": "2 Road", "postcode": "ME15 2BB"},
    },
]


def request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "school_urn": "118000",
        "upn": UPN,
        "offence_type": "irregular_attendance",
        "period_start": "2025-09-08",
        "period_end": "2025-11-21",
        "parents": PARENTS,
        "evidence": {
            "summary": "Absent without reason in the week of 17 November.",
            "documents": ["letter-1"],
        },
    }
    body.update(overrides)
    return body


async def feed_autumn(
    api: Api, unauthorised: int = 10, child_ref: str = "c-0000000000000001", upn: str = UPN
) -> None:
    """Present from 8 September, then ``unauthorised`` sessions of O in the week of 17 November."""
    present = school_days("2025-09-08", 50)
    present = [d for d in present if d.isoformat() < "2025-11-17"]
    week = school_days("2025-11-17", 5)
    absent = [m for m in marks(week, "O")][:unauthorised]
    rest = [m for m in marks(week) if (m.date, m.session) not in {(a.date, a.session) for a in absent}]
    await api.feed(recorded(1, marks(present) + absent + rest, child_ref=child_ref, upn=upn))


async def outbox(api: Api) -> list[tuple[str, dict[str, Any]]]:
    async with api.kernel.engine.connect() as conn:
        rows = (await conn.execute(select(tables.outbox).order_by(tables.outbox.c.seq))).all()
    found = [(r.event_type, json.loads(r.payload)) for r in rows]
    for event_type, payload in found:
        schema = json.loads((CATALOG / f"{event_type}.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(payload)
    return found


async def test_the_whole_process(api: Api) -> None:
    await feed_autumn(api)
    school = api.token(Role.SCHOOL, **SCHOOL, subject="school-1")
    officer = api.token(Role.OFFICER, subject="officer-1")
    created = await api.client.post("/penalty-requests", json=request_body(), headers=school)
    assert created.status_code == 201, created.text
    req = created.json()
    assert created.headers["location"] == f"/penalty-requests/{req['id']}"
    assert req["status"] == "submitted" and len({p["parent_ref"] for p in req["parents"]}) == 2

    # The school sees its own request; another school and the wrong role do not.
    assert (await api.client.get(f"/penalty-requests/{req['id']}", headers=school)).status_code == 200
    other = api.token(Role.SCHOOL, urns=("118001",))
    assert (await api.client.get(f"/penalty-requests/{req['id']}", headers=other)).status_code == 404
    assert (await api.client.get("/penalty-requests", headers=other)).json()["items"] == []
    assert (
        await api.client.post(f"/penalty-requests/{req['id']}/decision", json={}, headers=school)
    ).status_code == 403

    assessed = (await api.client.get(f"/penalty-requests/{req['id']}/assessment", headers=officer)).json()
    assert assessed["eligible"] is True and assessed["code_of_conduct_at_issue"] == "national-2024"
    assert {p["sequence"] for p in assessed["parents"]} == {1}

    decided = await api.client.post(f"/penalty-requests/{req['id']}/decision", json={}, headers=officer)
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "eligible" and body["decision"]["code_of_conduct"] == "national-2024"
    assert body["decision"]["last_offence_date"] == "2025-11-21"
    assert {p["issue_due_by"] for p in body["parents"]} == {"2025-12-01"}  # 7 days after the decision
    again = await api.client.post(f"/penalty-requests/{req['id']}/decision", json={}, headers=officer)
    assert again.status_code == 409 and again.json()["type"].endswith("/illegal-transition")

    mother, father = (p["parent_ref"] for p in body["parents"])
    issued = await api.client.post(
        f"/penalty-requests/{req['id']}/notices",
        json={"parent_ref": mother, "service_method": "post"},
        headers=officer,
    )
    assert issued.status_code == 201, issued.text
    notice = issued.json()
    # Posted Monday 24 November: deemed received two working days later; 21 and 28 days from then.
    assert notice["received_on"] == "2025-11-26"
    assert (notice["reduced_amount_pence"], notice["reduced_due_by"]) == (8000, "2025-12-17")
    assert (notice["full_amount_pence"], notice["full_due_by"]) == (16000, "2025-12-24")
    assert notice["number"] == "886-2025-000001" and notice["issued_within_target"] is True
    twice = await api.client.post(
        f"/penalty-requests/{req['id']}/notices",
        json={"parent_ref": mother, "service_method": "post"},
        headers=officer,
    )
    assert twice.status_code == 409

    wrong = await api.client.post(
        f"/penalty-notices/{notice['id']}/payments",
        json={"paid_on": "2025-11-24", "amount_pence": 16000},
        headers=officer,
    )
    assert wrong.status_code == 422 and "8000 pence" in wrong.json()["detail"]
    paid = await api.client.post(
        f"/penalty-notices/{notice['id']}/payments",
        json={"paid_on": "2025-11-23", "amount_pence": 8000},
        headers=officer,
    )
    assert paid.status_code == 422  # before the notice was issued
    api.clock.set(datetime(2025, 12, 1, 9, 0, tzinfo=UTC))
    paid = await api.client.post(
        f"/penalty-notices/{notice['id']}/payments",
        json={"paid_on": "2025-12-01", "amount_pence": 8000},
        headers=officer,
    )
    assert (
        paid.status_code == 200
        and paid.json()["status"] == "paid"
        and paid.json()["payment_rate"] == "reduced"
    )
    assert (
        await api.client.post(
            f"/penalty-notices/{notice['id']}/withdrawal", json={"ground": "issued_in_error"}, headers=officer
        )
    ).status_code == 409

    # The father's notice is handed over and never paid: after 28 days it becomes a prosecution case.
    handed = await api.client.post(
        f"/penalty-requests/{req['id']}/notices",
        json={"parent_ref": father, "service_method": "hand"},
        headers=officer,
    )
    assert handed.status_code == 201 and handed.json()["received_on"] == "2025-12-01"
    assert handed.json()["issued_within_target"] is True  # on the 7th day
    assert (await api.client.get(f"/penalty-requests/{req['id']}", headers=school)).json()[
        "status"
    ] == "issued"
    api.clock.set(datetime(2025, 12, 29, 9, 0, tzinfo=UTC))  # day 28 after receipt: not yet
    assert (await api.client.post("/prosecutions/sweep", headers=officer)).json() == {"cases_opened": 0}
    api.clock.set(datetime(2025, 12, 30, 9, 0, tzinfo=UTC))
    assert (await api.client.post("/prosecutions/sweep", headers=officer)).json() == {"cases_opened": 1}
    cases = (await api.client.get("/prosecutions", headers=officer)).json()["items"]
    assert len(cases) == 1
    case = cases[0]
    assert (case["offence_section"], case["last_offence_date"], case["time_limit"]) == (
        "s444(1)",
        "2025-11-21",
        "2026-05-21",
    )
    assert (await api.client.get(f"/penalty-notices/{handed.json()['id']}", headers=officer)).json()[
        "status"
    ] == "unpaid"

    api.clock.set(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    late = await api.client.post(
        f"/prosecutions/{case['id']}/information", json={"laid_on": "2026-05-22"}, headers=officer
    )
    assert late.status_code == 409 and "2026-05-21" in late.json()["detail"]
    early_outcome = await api.client.post(
        f"/prosecutions/{case['id']}/outcome",
        json={"outcome": "convicted", "concluded_on": "2026-05-30"},
        headers=officer,
    )
    assert early_outcome.status_code == 409  # no court outcome before information is laid
    laid = await api.client.post(
        f"/prosecutions/{case['id']}/information",
        json={"laid_on": "2026-05-20", "hearing_on": "2026-05-29"},
        headers=officer,
    )
    assert laid.status_code == 200 and laid.json()["status"] == "laid"
    concluded = await api.client.post(
        f"/prosecutions/{case['id']}/outcome",
        json={
            "outcome": "convicted",
            "concluded_on": "2026-05-29",
            "fine_pence": 22000,
            "costs_pence": 15000,
            "orders": ["parenting_order"],
        },
        headers=officer,
    )
    assert concluded.status_code == 200 and concluded.json()["status"] == "concluded"

    types = [t.removeprefix("inclusion.enforcement.").removesuffix(".v1") for t, _ in await outbox(api)]
    assert types == [
        "absence.persistent-identified",  # the fed attendance: 10 of 100 sessions
        "penalty-notice.requested",
        "penalty-notice.issued",
        "penalty-notice.paid",
        "penalty-notice.issued",
        "prosecution.started",
        "prosecution.concluded",
    ]
    async with api.kernel.engine.connect() as conn:
        audit = (await conn.execute(select(tables.audit_log.c.actor, tables.audit_log.c.purpose))).all()
    assert ("school-1", "penalty-notice-request") in audit and (
        "officer-1",
        "penalty-notice-decision",
    ) in audit
    assert ("officer-1", "prosecution-outcome") in audit


async def test_a_request_below_the_threshold_is_declined_naming_the_rule(api: Api) -> None:
    await feed_autumn(api, unauthorised=7)
    school = api.token(Role.SCHOOL, **SCHOOL)
    officer = api.token(Role.OFFICER)
    req = (
        await api.client.post("/penalty-requests", json=request_body(parents=PARENTS[:1]), headers=school)
    ).json()
    decided = (
        await api.client.post(f"/penalty-requests/{req['id']}/decision", json={}, headers=officer)
    ).json()
    assert decided["status"] == "declined"
    assert (
        decided["decision"]["rule"] == "national-threshold" and "7 sessions" in decided["decision"]["reason"]
    )
    issue = await api.client.post(
        f"/penalty-requests/{req['id']}/notices",
        json={"parent_ref": decided["parents"][0]["parent_ref"], "service_method": "hand"},
        headers=officer,
    )
    assert issue.status_code == 409
    declined = [p for t, p in await outbox(api) if t.endswith("penalty-notice.declined.v1")]
    assert (
        len(declined) == 1
        and declined[0]["rule"] == "national-threshold"
        and declined[0]["parent_ref"] is None
    )


async def test_an_officer_may_decline_with_reasons_and_withdraw_with_grounds(api: Api) -> None:
    await feed_autumn(api)
    school = api.token(Role.SCHOOL, **SCHOOL)
    officer = api.token(Role.OFFICER)
    req = (await api.client.post("/penalty-requests", json=request_body(), headers=school)).json()
    missing_reason = await api.client.post(
        f"/penalty-requests/{req['id']}/decision", json={"decline": True}, headers=officer
    )
    assert missing_reason.status_code == 422
    declined = await api.client.post(
        f"/penalty-requests/{req['id']}/decision",
        json={"decline": True, "reason": "support not yet offered"},
        headers=officer,
    )
    assert declined.json()["decision"]["rule"] == "officer-discretion"

    again = (await api.client.post("/penalty-requests", json=request_body(), headers=school)).json()
    body = (
        await api.client.post(f"/penalty-requests/{again['id']}/decision", json={}, headers=officer)
    ).json()
    notice = (
        await api.client.post(
            f"/penalty-requests/{again['id']}/notices",
            json={"parent_ref": body["parents"][0]["parent_ref"], "service_method": "hand"},
            headers=officer,
        )
    ).json()
    assert (
        await api.client.post(
            f"/penalty-notices/{notice['id']}/withdrawal", json={"ground": "other"}, headers=officer
        )
    ).status_code == 422
    withdrawn = await api.client.post(
        f"/penalty-notices/{notice['id']}/withdrawal",
        json={"ground": "issued_to_wrong_person"},
        headers=officer,
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"


async def test_bad_input_is_422_and_nothing_is_written(api: Api) -> None:
    await feed_autumn(api)
    school = api.token(Role.SCHOOL, **SCHOOL)
    bad = await api.client.post(
        "/penalty-requests", json=request_body(upn="A801200005001", period_end="2025-09-01"), headers=school
    )
    assert bad.status_code == 422
    pointers = {e["pointer"] for e in bad.json()["errors"]}
    assert "/upn" in pointers
    unknown = await api.client.post(
        "/penalty-requests", json=request_body(upn="B801200005001"), headers=school
    )
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("/unknown-pupil")
    future = await api.client.post(
        "/penalty-requests", json=request_body(period_end="2025-12-01"), headers=school
    )
    assert future.status_code == 422
    elsewhere = await api.client.post(
        "/penalty-requests", json=request_body(school_urn="118001"), headers=school
    )
    assert elsewhere.status_code == 403
    assert [t for t, _ in await outbox(api) if ".penalty-notice." in t] == []


async def test_positions_are_scoped_and_audited(api: Api) -> None:
    await feed_autumn(api)
    await api.feed(
        recorded(1, marks(school_days("2025-09-08", 2), "O"), child_ref="c-2", school=OTHER_SCHOOL)
    )
    path = f"/positions/schools/118000/pupils/{UPN}?academic_year=2025/26"
    got = await api.client.get(path, headers=api.token(Role.SCHOOL, **SCHOOL))
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["year"]["possible"] == 100 and body["year"]["unauthorised"] == 10
    assert body["year"]["absence_percent"] == 10.0 and body["persistent_absence"] is True
    assert [t["term"] for t in body["terms"]] == ["autumn"] and len(body["weeks"]) == 10
    assert (await api.client.get(path, headers=api.token(Role.SCHOOL, urns=("118001",)))).status_code == 404
    dover = api.token(Role.OFFICER, districts=("Dover",))
    assert (await api.client.get(path, headers=dover)).status_code == 404
    listed = (await api.client.get("/positions?academic_year=2025/26&level=persistent", headers=dover)).json()
    assert listed["items"] == []
    everyone = (
        await api.client.get("/positions?academic_year=2025/26", headers=api.token(Role.OFFICER))
    ).json()
    assert {p["school_urn"] for p in everyone["items"]} == {"118000", "118001"}
    async with api.kernel.engine.connect() as conn:
        purposes = (await conn.execute(select(tables.audit_log.c.purpose))).scalars().all()
    assert purposes.count("attendance-position") == 1 and purposes.count("attendance-positions") == 2


@pytest.mark.parametrize("api", ["postgresql"], indirect=True)
async def test_the_process_on_postgresql(api: Api) -> None:
    await feed_autumn(api)
    school = api.token(Role.SCHOOL, **SCHOOL)
    officer = api.token(Role.OFFICER)
    req = (await api.client.post("/penalty-requests", json=request_body(), headers=school)).json()
    body = (await api.client.post(f"/penalty-requests/{req['id']}/decision", json={}, headers=officer)).json()
    assert body["status"] == "eligible"
    numbers = []
    for parent in body["parents"]:
        issued = await api.client.post(
            f"/penalty-requests/{req['id']}/notices",
            json={"parent_ref": parent["parent_ref"], "service_method": "hand"},
            headers=officer,
        )
        assert issued.status_code == 201, issued.text
        numbers.append(issued.json()["number"])
    assert numbers == ["886-2025-000001", "886-2025-000002"]
