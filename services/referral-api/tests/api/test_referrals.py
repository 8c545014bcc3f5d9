"""Referrals through the API: every kind, bad input, scoping, triage, audit and the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func, select

from inclusion_kit.auth import Role
from inclusion_kit.db.metadata import KitTables
from referral_api.adapters.orm import referrals, tables

from .conftest import Api

CATALOG = Path(__file__).resolve().parents[4] / "shared" / "catalog" / "schemas"
SCHOOL = Role.SCHOOL
OFFICER = Role.OFFICER


def cme(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "child_missing_education",
        "child": {
            "upn": "H886200024001",
            "forename": "Alex",
            "surname": "Example",
            "date_of_birth": "2014-03-02",
        },
        "referrer": {"school_urn": "118000"},
        "summary": "Not seen since 26 September.",
        "missing_education": {"last_attended_on": "2025-09-26"},
    }
    body.update(overrides)
    return body


async def count(api: Api, table: Any) -> int:
    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def outbox_payloads(api: Api) -> list[tuple[str, dict[str, Any]]]:
    kit: KitTables = tables
    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = (await conn.execute(select(kit.outbox).order_by(kit.outbox.c.seq))).all()
    return [(row.event_type, json.loads(row.payload)) for row in rows]


async def test_school_submits_a_cme_referral_which_is_stored_and_evented(api: Api) -> None:
    response = await api.client.post("/referrals", json=cme(), headers=api.token(SCHOOL, urns=("118000",)))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/referrals/{body['id']}"
    assert body["status"] == "received" and body["kind"] == "child_missing_education"
    # 10 school days after Monday 6 October 2025 (no holiday in between).
    assert body["response_due"] == "2025-10-20"
    assert body["overdue"] is False
    events = await outbox_payloads(api)
    assert [t for t, _ in events] == ["inclusion.referrals.referral.received.v1"]
    event_type, payload = events[0]
    schema = json.loads((CATALOG / f"{event_type}.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(payload)
    assert payload["child"]["upn"] == "H886200024001"
    assert payload["school"]["district"] == "Maidstone" and payload["school"]["phase"] == "primary"
    assert payload["missing_education"]["last_attended_on"] == "2025-09-26"
    assert payload["child_ref"] == body["child_ref"]


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        (
            "attendance_concern",
            {"attendance_concern": {"attendance_percent": 84.5, "unauthorised_sessions": 12}},
        ),
        ("elective_home_education", {"home_education": {"parent_notice_received_on": "2025-10-01"}}),
        ("early_help", {"summary": "Family asked for support."}),
        ("other_agency_concern", {"summary": "Police report of the child out in school hours."}),
    ],
)
async def test_every_kind_is_accepted_with_its_own_fields(api: Api, kind: str, extra: dict[str, Any]) -> None:
    body = {"kind": kind, "child": cme()["child"], "referrer": {"school_urn": "118001"}, **extra}
    response = await api.client.post("/referrals", json=body, headers=api.token(SCHOOL, urns=("118001",)))
    assert response.status_code == 201, response.text
    ((_event_type, payload),) = await outbox_payloads(api)
    assert payload["kind"] == kind


async def test_an_agency_refers_by_name_and_dob_and_address(api: Api) -> None:
    body = cme(
        child={
            "forename": "Sam",
            "surname": "Example",
            "date_of_birth": "2012-01-01",
            "address": {"line1": "2 Example Road", "postcode": "CT1 2AB"},
        },
        referrer={"agency_type": "police", "agency_name": "Kent Police"},
    )
    response = await api.client.post("/referrals", json=body, headers=api.token(OFFICER))
    assert response.status_code == 201, response.text
    ((_, payload),) = await outbox_payloads(api)
    assert payload["referrer"]["kind"] == "agency" and payload["child"].get("upn") is None


BAD_INPUT = [
    ("invalid UPN check letter", cme(child={**cme()["child"], "upn": "A801200005001"}), "/child/upn"),
    (
        "no UPN and no address",
        cme(child={"forename": "A", "surname": "B", "date_of_birth": "2014-01-01"}),
        "/child",
    ),
    (
        "missing date of birth",
        cme(child={"forename": "A", "surname": "B", "upn": "B801200005001"}),
        "/child/date_of_birth",
    ),
    ("malformed date", cme(child={**cme()["child"], "date_of_birth": "02/03/2014"}), "/child/date_of_birth"),
    ("unknown kind", {**cme(), "kind": "truancy"}, ""),
    (
        "CME without its details",
        {k: v for k, v in cme().items() if k != "missing_education"},
        "/missing_education",
    ),
    ("unknown field", cme(colour="blue"), "/colour"),
    (
        "both school and agency",
        cme(referrer={"school_urn": "118000", "agency_type": "police", "agency_name": "X"}),
        "/referrer",
    ),
]


@pytest.mark.parametrize(("case", "body", "pointer"), BAD_INPUT, ids=[c for c, _, _ in BAD_INPUT])
async def test_bad_input_is_a_422_problem_and_nothing_is_stored(
    api: Api, case: str, body: dict[str, Any], pointer: str
) -> None:
    response = await api.client.post("/referrals", json=body, headers=api.token(SCHOOL, urns=("118000",)))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/validation-failed")
    pointers = [e["pointer"] for e in problem["errors"]]
    assert any(p.startswith(pointer) for p in pointers), pointers
    assert "Alex" not in response.text  # input values are never echoed
    assert await count(api, referrals) == 0 and await count(api, tables.outbox) == 0


async def test_malformed_json_and_wrong_content(api: Api) -> None:
    response = await api.client.post(
        "/referrals",
        content=b"{not json",
        headers={**api.token(SCHOOL, urns=("118000",)), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_school_is_a_422(api: Api) -> None:
    response = await api.client.post("/referrals", json=cme(school_urn="999999"), headers=api.token(OFFICER))
    assert response.status_code == 422 and response.json()["type"].endswith("/unknown-school")
    assert await count(api, referrals) == 0


async def test_school_cannot_refer_as_another_school(api: Api) -> None:
    response = await api.client.post(
        "/referrals", json=cme(referrer={"school_urn": "118001"}), headers=api.token(SCHOOL, urns=("118000",))
    )
    assert response.status_code == 403
    assert await count(api, referrals) == 0


async def test_oversized_body_is_413(api: Api) -> None:
    body = cme(summary="x" * 70_000)
    response = await api.client.post("/referrals", json=body, headers=api.token(SCHOOL, urns=("118000",)))
    assert response.status_code == 413
    assert await count(api, referrals) == 0


async def test_unauthenticated_is_401(api: Api) -> None:
    response = await api.client.post("/referrals", json=cme())
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")


async def test_school_sees_its_own_referral_not_another_schools(api: Api) -> None:
    created = (
        await api.client.post("/referrals", json=cme(), headers=api.token(SCHOOL, urns=("118000",)))
    ).json()
    own = await api.client.get(f"/referrals/{created['id']}", headers=api.token(SCHOOL, urns=("118000",)))
    assert own.status_code == 200 and own.json()["child"]["surname"] == "Example"
    other = await api.client.get(f"/referrals/{created['id']}", headers=api.token(SCHOOL, urns=("118001",)))
    assert other.status_code == 404
    missing = await api.client.get("/referrals/r-nothing", headers=api.token(OFFICER))
    assert missing.status_code == 404
    assert (
        await api.client.get(f"/referrals/{created['id']}", headers=api.token(OFFICER))
    ).status_code == 200


async def test_officer_triages_once_and_the_school_sees_the_answer(api: Api) -> None:
    school = api.token(SCHOOL, urns=("118000",))
    created = (await api.client.post("/referrals", json=cme(), headers=school)).json()
    from datetime import timedelta

    api.clock.advance(timedelta(days=2))
    accepted = await api.client.post(
        f"/referrals/{created['id']}/triage", json={"decision": "accepted"}, headers=api.token(OFFICER)
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    again = await api.client.post(
        f"/referrals/{created['id']}/triage", json={"decision": "accepted"}, headers=api.token(OFFICER)
    )
    assert again.status_code == 409 and again.json()["type"].endswith("/illegal-transition")
    by_school = await api.client.post(
        f"/referrals/{created['id']}/triage", json={"decision": "accepted"}, headers=school
    )
    assert by_school.status_code == 403
    seen = (await api.client.get(f"/referrals/{created['id']}", headers=school)).json()
    assert seen["status"] == "accepted" and seen["decided_at"] is not None
    types = [t for t, _ in await outbox_payloads(api)]
    assert types == ["inclusion.referrals.referral.received.v1", "inclusion.referrals.referral.triaged.v1"]
    _, triaged = (await outbox_payloads(api))[1]
    assert triaged["responded_within_target"] is True and triaged["aggregate_version"] == 2
    assert "child" not in triaged  # no personal data in the triage event


async def test_closing_needs_a_reason_and_emits_closed(api: Api) -> None:
    created = (await api.client.post("/referrals", json=cme(), headers=api.token(OFFICER))).json()
    no_reason = await api.client.post(
        f"/referrals/{created['id']}/triage", json={"decision": "closed"}, headers=api.token(OFFICER)
    )
    assert no_reason.status_code == 422
    closed = await api.client.post(
        f"/referrals/{created['id']}/triage",
        json={"decision": "closed", "reason": "Duplicate"},
        headers=api.token(OFFICER),
    )
    assert closed.status_code == 200
    types = [t for t, _ in await outbox_payloads(api)]
    assert types[-2:] == ["inclusion.referrals.referral.triaged.v1", "inclusion.referrals.referral.closed.v1"]


async def test_reads_and_writes_are_audited(api: Api) -> None:
    created = (
        await api.client.post(
            "/referrals", json=cme(), headers=api.token(SCHOOL, urns=("118000",), subject="school-a")
        )
    ).json()
    await api.client.get(f"/referrals/{created['id']}", headers=api.token(OFFICER, subject="officer-b"))
    from inclusion_kit.audit import audit_trail

    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        trail = await audit_trail(conn, tables, child_ref=created["child_ref"])
    assert [(e.actor, e.action, e.resource_id) for e in trail] == [
        ("school-a", "create", created["id"]),
        ("officer-b", "read", created["id"]),
    ]


async def test_overdue_when_past_the_due_date_without_a_decision(api: Api) -> None:
    from datetime import timedelta

    created = (await api.client.post("/referrals", json=cme(), headers=api.token(OFFICER))).json()
    api.clock.advance(timedelta(days=15))
    seen = (await api.client.get(f"/referrals/{created['id']}", headers=api.token(OFFICER))).json()
    assert seen["overdue"] is True


async def test_list_walks_pages_with_opaque_cursors_and_scopes_schools(api: Api) -> None:
    from datetime import timedelta

    officer = api.token(OFFICER)
    for _ in range(5):
        await api.client.post("/referrals", json=cme(), headers=api.token(SCHOOL, urns=("118000",)))
        api.clock.advance(timedelta(minutes=1))
    for _ in range(2):
        await api.client.post(
            "/referrals",
            json=cme(referrer={"school_urn": "118001"}),
            headers=api.token(SCHOOL, urns=("118001",)),
        )
    seen: list[str] = []
    url: str | None = "/referrals?limit=3"
    while url:
        page = await api.client.get(url, headers=officer)
        assert page.status_code == 200, page.text
        seen.extend(item["id"] for item in page.json()["items"])
        url = page.json()["next"]
    assert len(seen) == len(set(seen)) == 7

    school_a = (
        await api.client.get("/referrals?limit=100", headers=api.token(SCHOOL, urns=("118000",)))
    ).json()
    assert len(school_a["items"]) == 5 and {i["school_urn"] for i in school_a["items"]} == {"118000"}
    # A school cannot widen its view by asking for another school's URN.
    other = await api.client.get("/referrals?school_urn=118001", headers=api.token(SCHOOL, urns=("118000",)))
    assert other.status_code == 200 and other.json()["items"] == []

    first = (await api.client.get("/referrals?limit=2", headers=officer)).json()
    tampered = first["next"].replace("cursor=", "cursor=x")
    assert (await api.client.get(tampered, headers=officer)).status_code == 400


async def test_updated_after_returns_only_later_changes(api: Api) -> None:
    from datetime import timedelta

    first = (await api.client.post("/referrals", json=cme(), headers=api.token(OFFICER))).json()
    api.clock.advance(timedelta(hours=1))
    second = (await api.client.post("/referrals", json=cme(), headers=api.token(OFFICER))).json()
    listed = await api.client.get(
        "/referrals", params={"updated_after": first["updated_at"]}, headers=api.token(OFFICER)
    )
    assert [i["id"] for i in listed.json()["items"]] == [second["id"]]


async def test_overdue_list_is_for_officers_and_holds_undecided_past_due(api: Api) -> None:
    from datetime import timedelta

    late = (await api.client.post("/referrals", json=cme(), headers=api.token(OFFICER))).json()
    answered = (await api.client.post("/referrals", json=cme(), headers=api.token(OFFICER))).json()
    await api.client.post(
        f"/referrals/{answered['id']}/triage", json={"decision": "accepted"}, headers=api.token(OFFICER)
    )
    api.clock.advance(timedelta(days=20))
    overdue = await api.client.get("/referrals/overdue", headers=api.token(OFFICER))
    assert [i["id"] for i in overdue.json()["items"]] == [late["id"]]
    assert (
        await api.client.get("/referrals/overdue", headers=api.token(SCHOOL, urns=("118000",)))
    ).status_code == 403


async def test_list_reads_are_audited(api: Api) -> None:
    created = (
        await api.client.post("/referrals", json=cme(), headers=api.token(OFFICER, subject="o1"))
    ).json()
    await api.client.get("/referrals", headers=api.token(OFFICER, subject="o2"))
    from inclusion_kit.audit import audit_trail

    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        trail = await audit_trail(conn, tables, child_ref=created["child_ref"])
    assert ("o2", "list") in [(e.actor, e.action) for e in trail]


async def test_idempotency_key_replays_the_first_answer_and_refuses_a_different_body(api: Api) -> None:
    headers = {**api.token(SCHOOL, urns=("118000",)), "Idempotency-Key": "mis-batch-42-item-7"}
    first = await api.client.post("/referrals", json=cme(), headers=headers)
    again = await api.client.post("/referrals", json=cme(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(api, referrals) == 1 and await count(api, tables.outbox) == 1
    different = await api.client.post("/referrals", json=cme(summary="something else"), headers=headers)
    assert different.status_code == 422 and different.json()["type"].endswith("/idempotency-key-reused")
    assert await count(api, referrals) == 1


async def test_officers_limited_to_districts_see_only_their_districts(api: Api) -> None:
    from inclusion_kit.auth import mint_token

    maidstone = (await api.client.post("/referrals", json=cme(), headers=api.token(OFFICER))).json()  # 118000
    dover = (
        await api.client.post(
            "/referrals", json=cme(referrer={"school_urn": "118001"}), headers=api.token(OFFICER)
        )
    ).json()
    agency = (
        await api.client.post(
            "/referrals",
            json=cme(referrer={"agency_type": "police", "agency_name": "P"}),
            headers=api.token(OFFICER),
        )
    ).json()
    token = mint_token(api.settings.auth, subject="dover-officer", roles=[OFFICER], districts=["Dover"])
    dover_officer = {"Authorization": f"Bearer {token}"}
    listed = (await api.client.get("/referrals", headers=dover_officer)).json()
    assert [i["id"] for i in listed["items"]] == [dover["id"]]
    assert (await api.client.get(f"/referrals/{dover['id']}", headers=dover_officer)).status_code == 200
    for other in (maidstone, agency):
        assert (await api.client.get(f"/referrals/{other['id']}", headers=dover_officer)).status_code == 404
        triaged = await api.client.post(
            f"/referrals/{other['id']}/triage", json={"decision": "accepted"}, headers=dover_officer
        )
        assert triaged.status_code == 404
    everyone = (await api.client.get("/referrals", headers=api.token(OFFICER))).json()
    assert len(everyone["items"]) == 3


async def test_a_referral_beyond_the_configured_calendar_is_a_clear_503(api: Api) -> None:
    api.clock.set(datetime(2028, 1, 10, 10, 0, tzinfo=UTC))  # the shipped calendar ends in July 2027
    response = await api.client.post("/referrals", json=cme(), headers=api.token(OFFICER))
    assert response.status_code == 503
    assert response.json()["type"].endswith("/calendar-not-configured")
    assert await count(api, referrals) == 0 and await count(api, tables.outbox) == 0


async def test_the_response_target_is_per_la_configuration(tmp_path: Path) -> None:
    from sqlalchemy import insert

    from inclusion_kit.auth import mint_token
    from inclusion_kit.testing.fakes import FrozenClock
    from referral_api.adapters.orm import schools
    from referral_api.bootstrap import bootstrap
    from referral_api.config import Settings
    from referral_api.entrypoints.api.app import create_app

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", response_school_days=5)
    kernel = bootstrap(settings)
    await kernel.migrate()
    async with kernel.engine.begin() as conn:
        await conn.execute(
            insert(schools).values(
                urn="118000",
                laestab="8862000",
                la_code="886",
                name="S",
                phase="primary",
                district="Maidstone",
                is_open=True,
                updated_at=datetime.now(UTC),
            )
        )
    await kernel.dispose()
    app = create_app(settings, clock=FrozenClock(datetime(2025, 10, 6, 8, 30, tzinfo=UTC)))
    import httpx

    token = mint_token(settings.auth, subject="o", roles=[OFFICER])
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            created = await client.post(
                "/referrals", json=cme(), headers={"Authorization": f"Bearer {token}"}
            )
    assert created.json()["response_due"] == "2025-10-13"  # 5 school days after Monday 6 October
