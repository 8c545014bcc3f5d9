"""Schools through the API: the list and its filters, one school, and the CSV import.

``schools_api`` is the ``api`` fixture (the app with the two seeded schools), on SQLite and on
PostgreSQL (the import upserts, and the LAESTAB hand-over between schools, differ by dialect).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, get_args

import httpx
import pytest
from sqlalchemy import select

from inclusion_kit.auth import Role
from inclusion_kit.contracts.events.common import Phase
from referral_api.adapters.orm import schools, tables
from referral_api.entrypoints.api.routes import schools as schools_routes

from .conftest import Api

BOTH = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)

ADMIN, OFFICER, SCHOOL = Role.ADMIN, Role.OFFICER, Role.SCHOOL
CSV = {"Content-Type": "text/csv"}
HEADER = [
    "URN",
    "LA (code)",
    "EstablishmentNumber",
    "EstablishmentName",
    "TypeOfEstablishment (name)",
    "EstablishmentStatus (name)",
    "PhaseOfEducation (name)",
    "DistrictAdministrative (name)",
]


@pytest.fixture
def schools_api(api: Api) -> Api:
    """The ``api`` fixture: app.py routes /schools."""
    return api


def gias(rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


FILE = gias(
    [
        [
            "118000",
            "886",
            "2000",
            "Example Primary School",
            "Community school",
            "Open",
            "Primary",
            "Maidstone",
        ],
        ["118001", "886", "4000", "Example High School", "Foundation school", "Open", "Secondary", "Dover"],
        ["11800", "886", "2001", "Bad Urn", "Community school", "Open", "Primary", "Dover"],  # line 4
        ["118002", "886", "2002", "", "Community school", "Open", "Primary", "Dover"],  # line 5
        [
            "118003",
            "886",
            "7001",
            "Example Special School",
            "Community special school",
            "Open",
            "Not applicable",
            "Swale",
        ],
        ["118004", "886", "1100", "Example PRU", "Pupil referral unit", "Open", "Not applicable", "Thanet"],
        ["118005", "886", "2005", "Old Infant School", "Community school", "Closed", "Primary", "Dover"],
        ["100000", "202", "3614", "Camden Primary", "Community school", "Open", "Primary", "Camden"],
    ]
)


async def post_csv(api: Api, body: str | bytes, role: Role = ADMIN, **params: str) -> httpx.Response:
    return await api.client.post(
        "/schools/import",
        content=body,
        headers={**CSV, **api.token(role, urns=("118000",) if role is SCHOOL else ())},
        params=params,
    )


def is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


# -- reading -----------------------------------------------------------------------------------


@BOTH
async def test_any_role_lists_schools_in_urn_order(schools_api: Api) -> None:
    for role in (SCHOOL, OFFICER, Role.EARLY_HELP, Role.MANAGER, ADMIN):
        response = await schools_api.client.get("/schools", headers=schools_api.token(role, urns=("118000",)))
        assert response.status_code == 200, response.text
        body = response.json()
        assert [s["urn"] for s in body["items"]] == ["118000", "118001"]
        assert body["next_after_urn"] is None
    first = body["items"][0]
    assert first | {"updated_at": None} == {
        "urn": "118000",
        "laestab": "8862000",
        "la_code": "886",
        "name": "Example Primary School",
        "phase": "primary",
        "district": "Maidstone",
        "is_open": True,
        "updated_at": None,
    }
    assert is_problem(await schools_api.client.get("/schools"), 401)


@BOTH
async def test_list_filters_and_pages(schools_api: Api) -> None:
    assert (await post_csv(schools_api, FILE, la_code="886")).status_code == 200
    headers = schools_api.token(OFFICER)

    async def urns(**params: Any) -> list[str]:
        response = await schools_api.client.get("/schools", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [s["urn"] for s in response.json()["items"]]

    assert await urns() == ["118000", "118001", "118003", "118004", "118005"]
    assert await urns(district="dover") == ["118001", "118005"]
    assert await urns(phase="special") == ["118003"]
    assert await urns(phase="pru", district="Thanet") == ["118004"]
    assert await urns(is_open="false") == ["118005"]
    assert await urns(la_code="202") == []
    assert await urns(after_urn="118001", limit=2) == ["118003", "118004"]

    pages: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"after_urn": after} if after else {})}
        body = (await schools_api.client.get("/schools", params=params, headers=headers)).json()
        pages.extend(s["urn"] for s in body["items"])
        after = body["next_after_urn"]
        if after is None:
            break
    assert pages == await urns()

    for bad in ({"limit": 1001}, {"limit": 0}, {"phase": "grammar"}, {"after_urn": "12"}, {"la_code": "8"}):
        is_problem(await schools_api.client.get("/schools", params=bad, headers=headers), 422)


def test_the_phase_filter_lists_every_phase() -> None:
    assert set(get_args(schools_routes.PhaseName)) == {p.value for p in Phase}


@BOTH
async def test_read_one_school(schools_api: Api) -> None:
    headers = schools_api.token(SCHOOL, urns=("118000",))
    response = await schools_api.client.get("/schools/118001", headers=headers)
    assert response.status_code == 200 and response.json()["district"] == "Dover"
    body = is_problem(await schools_api.client.get("/schools/999999", headers=headers), 404)
    assert body["type"].endswith("/not-found")
    is_problem(await schools_api.client.get("/schools/118001"), 401)


# -- importing ---------------------------------------------------------------------------------


@BOTH
async def test_admin_imports_a_gias_file(schools_api: Api) -> None:
    response = await post_csv(schools_api, FILE.encode("cp1252"), la_code="886")
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in ("inserted", "updated", "unchanged", "skipped", "rejected_total")} == {
        "inserted": 3,
        "updated": 0,
        "unchanged": 2,  # the two seeded schools, identical in the file
        "skipped": 1,
        "rejected_total": 2,
    }
    assert body["rejected"] == [
        {"line": 4, "reason": "URN must be 6 digits"},
        {"line": 5, "reason": "EstablishmentName is missing"},
    ]
    assert all(set(r) == {"line", "reason"} for r in body["rejected"])
    school = (await schools_api.client.get("/schools/118003", headers=schools_api.token(OFFICER))).json()
    assert (school["phase"], school["district"], school["laestab"]) == ("special", "Swale", "8867001")
    assert school["updated_at"].startswith("2025-10-06T08:30:00")  # the service's clock

    again = (await post_csv(schools_api, FILE, la_code="886")).json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 5)


@BOTH
async def test_only_admins_import(schools_api: Api) -> None:
    for role in (OFFICER, SCHOOL, Role.MANAGER, Role.EARLY_HELP):
        is_problem(await post_csv(schools_api, FILE, role), 403)
    is_problem(await schools_api.client.post("/schools/import", content=FILE, headers=CSV), 401)
    async with schools_api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        assert len((await conn.execute(select(schools.c.urn))).all()) == 2  # nothing imported


@BOTH
async def test_a_body_that_is_not_csv_is_a_problem(schools_api: Api) -> None:
    headers = schools_api.token(ADMIN)
    response = await schools_api.client.post("/schools/import", json={"urn": "118000"}, headers=headers)
    assert is_problem(response, 415)["type"].endswith("/unsupported-media-type")
    response = await schools_api.client.post(
        "/schools/import", content=FILE, headers={**headers, "Content-Type": "text/csv; charset=klingon"}
    )
    is_problem(response, 415)
    body = is_problem(await post_csv(schools_api, json.dumps({"urn": "118000"})), 422)
    assert body["type"].endswith("/invalid-schools-file") and "lacks the column(s)" in body["detail"]
    is_problem(await post_csv(schools_api, ""), 422)
    is_problem(await post_csv(schools_api, FILE, la_code="88"), 422)


@BOTH
async def test_an_explicit_charset_is_honoured(schools_api: Api) -> None:
    text = gias([["118000", "886", "2000", "École Primaire", "Community school", "Open", "Primary", "Dover"]])
    headers = {**schools_api.token(ADMIN), "Content-Type": "text/csv; charset=windows-1252"}
    response = await schools_api.client.post(
        "/schools/import", content=text.encode("cp1252"), headers=headers
    )
    assert response.status_code == 200 and response.json()["updated"] == 1
    school = (await schools_api.client.get("/schools/118000", headers=schools_api.token(OFFICER))).json()
    assert school["name"] == "École Primaire"


@BOTH
async def test_imported_phase_and_district_flow_into_referral_events(schools_api: Api) -> None:
    assert (await post_csv(schools_api, FILE)).status_code == 200
    referral = {
        "kind": "child_missing_education",
        "child": {
            "upn": "H886200024001",
            "forename": "Alex",
            "surname": "Example",
            "date_of_birth": "2014-03-02",
        },
        "referrer": {"school_urn": "118003"},
        "summary": "Not seen since 26 September.",
        "missing_education": {"last_attended_on": "2025-09-26"},
    }
    response = await schools_api.client.post(
        "/referrals", json=referral, headers=schools_api.token(SCHOOL, urns=("118003",))
    )
    assert response.status_code == 201, response.text
    async with schools_api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        payloads = [json.loads(p) for (p,) in await conn.execute(select(tables.outbox.c.payload))]
    school = payloads[0]["school"]
    assert (school["phase"], school["district"], school["laestab"]) == ("special", "Swale", "8867001")


@BOTH
async def test_the_openapi_document_describes_the_schools_routes(schools_api: Api) -> None:
    document = (await schools_api.client.get("/openapi.json")).json()
    operation = document["paths"]["/schools/import"]["post"]
    assert "text/csv" in operation["requestBody"]["content"]
    assert {"200", "401", "403", "415", "422"} <= set(operation["responses"])
    assert document["components"]["schemas"]["SchoolOut"]["examples"][0]["urn"] == "118000"
    assert "/schools/{urn}" in document["paths"]
