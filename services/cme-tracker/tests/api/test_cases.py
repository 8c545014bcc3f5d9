"""Officers' API over cases: lists and filters, cursors, reads, the lifecycle over HTTP (409 for an
illegal transition, 422 for bad input with nothing written), idempotency, scoping and audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from cme_tracker.adapters.orm import cme_enquiries, tables
from inclusion_kit.audit import audit_trail
from inclusion_kit.auth import Role

from ..events import ALEX, HIGH, SAM, admission, cme_referral, deletion
from .conftest import Api

ENQUIRY = {
    "kind": "school",
    "made_on": "2025-11-10",
    "made_by": "Example Primary School",
    "result": "no_information",
}


async def open_case(api: Api, **kwargs: Any) -> dict[str, Any]:
    await api.deliver(cme_referral(**kwargs))
    page = (await api.client.get("/cases", headers=api.token(Role.ADMIN))).json()
    return next(c for c in page["items"] if c["source_id"] == kwargs.get("referral_id", "r-1"))


async def outbox_types(api: Api) -> list[str]:
    async with api.kernel.engine.connect() as conn:
        return list(
            (await conn.execute(select(tables.outbox.c.event_type).order_by(tables.outbox.c.seq))).scalars()
        )


async def test_officer_reads_a_case_with_its_checklist_and_the_read_is_audited(api: Api) -> None:
    case = await open_case(api)
    response = await api.client.get(
        f"/cases/{case['id']}", headers=api.token(Role.OFFICER, subject="officer-7")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "open" and body["child"]["surname"] == "Example" and body["upn"] == ALEX["upn"]
    assert body["next_review_due"] == "2025-12-10" and body["review_overdue"] is False
    assert body["enquiries"] == [] and len(body["checklist_missing"]) == 9
    async with api.kernel.engine.connect() as conn:
        trail = await audit_trail(conn, tables, child_ref="c-alex")
    reads = [e for e in trail if e.actor == "officer-7"]
    assert [(e.action, e.resource_type, e.resource_id, e.purpose) for e in reads] == [
        ("read", "cme_case", case["id"], "cme-case")
    ]


async def test_working_a_case_over_http_enquiry_locate_close(api: Api) -> None:
    case = await open_case(api)
    officer = api.token(Role.OFFICER)
    r = await api.client.post(f"/cases/{case['id']}/enquiries", json=ENQUIRY, headers=officer)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "enquiries" and r.json()["enquiries"][0]["kind"] == "school"
    api.clock.set(datetime(2025, 11, 14, 12, 0, tzinfo=UTC))
    r = await api.client.post(
        f"/cases/{case['id']}/locate", json={"located_on": "2025-11-14"}, headers=officer
    )
    assert r.status_code == 200
    assert (
        r.json()["days_to_located"],
        r.json()["school_days_to_located"],
        r.json()["located_within_target"],
    ) == (
        4,
        4,
        True,
    )
    again = await api.client.post(
        f"/cases/{case['id']}/locate", json={"located_on": "2025-11-14"}, headers=officer
    )
    assert again.status_code == 409 and again.json()["type"].endswith("/illegal-transition")
    r = await api.client.post(
        f"/cases/{case['id']}/close",
        json={"outcome": "moved_to_other_la", "closed_on": "2025-11-14", "other_la_code": "383"},
        headers=officer,
    )
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["other_la_code"] == "383"
    assert r.json()["next_review_due"] is None
    late = await api.client.post(f"/cases/{case['id']}/enquiries", json=ENQUIRY, headers=officer)
    assert late.status_code == 409
    assert await outbox_types(api) == [
        "inclusion.cme.case.opened.v1",
        "inclusion.cme.case.enquiry-recorded.v1",
        "inclusion.cme.child.located.v1",
        "inclusion.cme.case.closed.v1",
    ]
    history = (await api.client.get(f"/cases/{case['id']}/history", headers=officer)).json()
    assert [e["action"] for e in history["entries"]] == ["opened", "enquiry_recorded", "located", "closed"]
    assert history["entries"][1]["actor"] == "officer-1"


async def test_not_found_before_full_enquiries_is_a_conflict(api: Api) -> None:
    case = await open_case(api)
    r = await api.client.post(
        f"/cases/{case['id']}/close",
        json={"outcome": "not_found_lost_pupils", "closed_on": "2025-11-10"},
        headers=api.token(Role.OFFICER),
    )
    assert r.status_code == 409 and r.json()["type"].endswith("/enquiries-incomplete")
    assert "lost_pupils_search" in r.json()["detail"]


BAD = [
    ("enquiries", {**ENQUIRY, "kind": "astrology"}, "/kind"),
    ("enquiries", {**ENQUIRY, "made_on": "10/11/2025"}, "/made_on"),
    ("enquiries", {**ENQUIRY, "made_on": "2025-12-01"}, "/made_on"),
    ("enquiries", {**ENQUIRY, "surprise": 1}, "/surprise"),
    ("enquiries", {k: v for k, v in ENQUIRY.items() if k != "made_by"}, "/made_by"),
    ("locate", {"located_on": "2025-11-30"}, "/located_on"),
    ("locate", {"located_on": "2025-11-01"}, "/located_on"),
    ("reviews", {"reviewed_on": "2025-11-11"}, "/reviewed_on"),
    ("close", {"outcome": "moved_to_other_la", "closed_on": "2025-11-10"}, ""),
    ("close", {"outcome": "duplicate", "closed_on": "2025-11-10"}, ""),
    ("close", {"outcome": "placed_on_roll", "closed_on": "2025-11-10"}, "/outcome"),
    (
        "close",
        {"outcome": "moved_to_other_la", "closed_on": "2025-11-10", "other_la_code": "38"},
        "/other_la_code",
    ),
    ("placement", {"school_urn": "12345", "placed_on": "2025-11-10"}, "/school_urn"),
]


@pytest.mark.parametrize(
    ("action", "body", "pointer"), BAD, ids=[f"{a}-{i}" for i, (a, _, _) in enumerate(BAD)]
)
async def test_bad_input_is_a_422_with_the_field_and_nothing_is_written(
    api: Api, action: str, body: dict[str, Any], pointer: str
) -> None:
    case = await open_case(api)
    before = await outbox_types(api)
    r = await api.client.post(f"/cases/{case['id']}/{action}", json=body, headers=api.token(Role.OFFICER))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert any(e["pointer"].startswith(pointer) for e in r.json()["errors"]), r.json()
    assert await outbox_types(api) == before
    after = (await api.client.get(f"/cases/{case['id']}", headers=api.token(Role.OFFICER))).json()
    assert after["status"] == "open" and after["enquiries"] == []


async def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer(api: Api) -> None:
    case = await open_case(api)
    headers = {**api.token(Role.OFFICER), "Idempotency-Key": "enq-retry-0001"}
    first = await api.client.post(f"/cases/{case['id']}/enquiries", json=ENQUIRY, headers=headers)
    second = await api.client.post(f"/cases/{case['id']}/enquiries", json=ENQUIRY, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    async with api.kernel.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(cme_enquiries)) == 1


async def test_a_placement_recorded_by_an_officer_closes_the_case(api: Api) -> None:
    case = await open_case(api)
    api.clock.set(datetime(2025, 12, 15, 9, 0, tzinfo=UTC))
    r = await api.client.post(
        f"/cases/{case['id']}/placement",
        json={"school_urn": "118001", "school_name": "Example High School", "placed_on": "2025-12-15"},
        headers=api.token(Role.OFFICER),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["status"] == "placed" and body["days_to_placed"] == 35 and body["placed_within_target"] is False
    )


async def test_scoping_schools_see_their_own_officers_their_districts(api: Api) -> None:
    mine = await open_case(api)  # Example Primary School, Maidstone
    await api.deliver(deletion())  # Example High School, Dover
    school_a = api.token(Role.SCHOOL, urns=("118000",), subject="mis-a")
    school_b = api.token(Role.SCHOOL, urns=("118001",), subject="mis-b")
    dover = api.token(Role.OFFICER, districts=("Dover",), subject="dover-officer")
    assert (await api.client.get(f"/cases/{mine['id']}", headers=school_a)).status_code == 200
    other = await api.client.get(f"/cases/{mine['id']}", headers=school_b)
    assert other.status_code == 404 and other.json()["type"].endswith("/not-found")
    assert (await api.client.get(f"/cases/{mine['id']}", headers=dover)).status_code == 404
    assert [
        c["school"]["urn"] for c in (await api.client.get("/cases", headers=school_b)).json()["items"]
    ] == ["118001"]
    assert [c["district"] for c in (await api.client.get("/cases", headers=dover)).json()["items"]] == [
        "Dover"
    ]
    # Schools follow cases; they do not work them. Out-of-district writes are 404 like reads.
    assert (
        await api.client.post(f"/cases/{mine['id']}/enquiries", json=ENQUIRY, headers=school_a)
    ).status_code == 403
    assert (
        await api.client.post(f"/cases/{mine['id']}/enquiries", json=ENQUIRY, headers=dover)
    ).status_code == 404
    assert (await api.client.get(f"/cases/{mine['id']}/history", headers=school_a)).status_code == 403
    assert (await api.client.get("/cases")).status_code == 401
    assert (await api.client.get("/cases/cme-nope", headers=api.token(Role.OFFICER))).status_code == 404


async def test_lists_filter_by_status_district_overdue_age_and_school_and_page_with_cursors(api: Api) -> None:
    await open_case(api)  # Alex, born 2014-03-02: 11 on 10 Nov 2025; Maidstone
    await api.deliver(deletion())  # Sam, born 2010-05-04: 15; Dover
    await api.deliver(
        cme_referral("c-3", referral_id="r-3", child={**SAM, "upn": None, "date_of_birth": "2019-01-01"})
    )
    officer = api.token(Role.OFFICER)

    async def ids(**params: Any) -> list[str]:
        response = await api.client.get("/cases", params=params, headers=officer)
        assert response.status_code == 200, response.text
        return sorted(c["child_ref"] for c in response.json()["items"])

    assert await ids() == ["c-3", "c-alex", "c-sam"]
    assert await ids(district="dover") == ["c-sam"]
    assert await ids(school_urn="118000") == ["c-3", "c-alex"]
    assert await ids(min_age=11, max_age=15) == ["c-alex", "c-sam"]
    assert await ids(max_age=10) == ["c-3"]
    assert await ids(status="closed") == []
    assert await ids(overdue=True) == []
    api.clock.set(datetime(2025, 12, 11, 9, 0, tzinfo=UTC))
    assert await ids(overdue=True) == ["c-3", "c-alex", "c-sam"]
    first = (await api.client.get("/cases", params={"limit": 2}, headers=officer)).json()
    assert len(first["items"]) == 2 and first["next"]
    rest = (await api.client.get(first["next"], headers=officer)).json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    forged = await api.client.get("/cases", params={"limit": 2, "cursor": "abc"}, headers=officer)
    assert forged.status_code == 400
    bad = await api.client.get("/cases", params={"min_age": 12, "max_age": 5}, headers=officer)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "query/min_age"
    assert (await api.client.get("/cases", params={"status": "lost"}, headers=officer)).status_code == 422
    # Every listed record is audited.
    async with api.kernel.engine.connect() as conn:
        trail = await audit_trail(conn, tables, child_ref="c-sam")
    assert any(e.action == "list" and e.purpose == "cme-caseload" for e in trail)


async def test_the_loop_closes_through_the_consumer_and_reads_back_as_placed(api: Api) -> None:
    case = await open_case(api)
    await api.deliver(admission(school=HIGH))
    body = (await api.client.get(f"/cases/{case['id']}", headers=api.token(Role.OFFICER))).json()
    assert body["status"] == "placed" and body["placed_school"]["urn"] == "118001"
    assert body["outcome"] == "placed_on_roll" and body["located_on"] == "2025-11-24"
