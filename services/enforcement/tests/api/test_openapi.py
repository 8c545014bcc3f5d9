"""The OpenAPI 3.1 document: every request body has an example, and the API accepts each one.

The examples follow the penalty-notice process through the 2025/26 autumn term in LA 886: a
school's request on Monday 24 November (after a notice to improve of 13 October), the officer's
decision and the notice issued that day, payment at the reduced rate on 1 December or withdrawal,
and for a notice never paid, information laid on 20 January 2026 and conviction on 17 February.
The test posts each example to a record in the state the example is about; ``parent_ref`` (an id
the service assigns) is replaced by the real one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from inclusion_kit.auth import Role

from ..factories import OTHER_SCHOOL, marks, recorded, school_days
from .conftest import Api


def request_bodies(doc: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    out = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for content_type, media in operation.get("requestBody", {}).get("content", {}).items():
                out.append((method, path, content_type, media))
    return out


def examples_of(media: dict[str, Any], components: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    if "example" in media:
        found.append(media["example"])
    found += [e["value"] for e in media.get("examples", {}).values()]
    schema = media.get("schema", {})
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    found += schema.get("examples", [])
    return found


async def test_every_request_body_has_an_example(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    components = doc["components"]["schemas"]
    bodies = request_bodies(doc)
    assert {(m, p) for m, p, _, _ in bodies} >= {
        ("post", "/penalty-requests"),
        ("post", "/penalty-requests/{request_id}/decision"),
        ("post", "/penalty-requests/{request_id}/notices"),
        ("post", "/penalty-notices/{notice_id}/payments"),
        ("post", "/penalty-notices/{notice_id}/withdrawal"),
        ("post", "/prosecutions/{case_id}/information"),
        ("post", "/prosecutions/{case_id}/outcome"),
    }
    assert [(m, p, t) for m, p, t, media in bodies if not examples_of(media, components)] == []


async def feed_attendance(api: Api) -> None:
    """Alex (H886200024001, Example Primary School): present from 8 September, then 10 sessions of
    O in the week of 17 November. Sam (K886400023012, Example High School): present, but G for the
    two weeks before half-term."""
    autumn = [d for d in school_days("2025-09-08", 60) if d.isoformat() < "2025-11-22"]
    alex = [*marks([d for d in autumn if d.isoformat() < "2025-11-17"])]
    alex += marks([d for d in autumn if d.isoformat() >= "2025-11-17"], "O")
    await api.feed(recorded(1, alex, child_ref="c-alex"))
    leave = [d for d in autumn if "2025-10-13" <= d.isoformat() <= "2025-10-24"]
    sam = marks([d for d in autumn if d not in leave]) + marks(leave, "G")
    await api.feed(recorded(1, sam, child_ref="c-sam", school=OTHER_SCHOOL, upn="K886400023012"))


async def test_the_api_accepts_every_example(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    components = doc["components"]["schemas"]
    examples = {p: examples_of(media, components) for _, p, _, media in request_bodies(doc)}
    await feed_attendance(api)
    school = api.token(Role.SCHOOL, urns=("118000", "118001"), subject="school-1")
    officer = api.token(Role.OFFICER, subject="officer-1")
    posted: list[str] = []

    async def post(path: str, template: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        response = await api.client.post(
            path, json=body, headers=school if template == "/penalty-requests" else officer
        )
        assert response.status_code == status, (template, body, response.text)
        posted.append(template)
        return dict(response.json())

    parents = 0

    async def submitted_request() -> str:
        """The first request example, for a parent of its own (so each notice is a first one)."""
        nonlocal parents
        parents += 1
        body = dict(examples["/penalty-requests"][0])
        body["parents"] = [{**body["parents"][0], "forename": f"Parent{parents}"}]
        created = await api.client.post("/penalty-requests", json=body, headers=school)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    async def eligible_request() -> tuple[str, str]:
        request_id = await submitted_request()
        decided = await api.client.post(f"/penalty-requests/{request_id}/decision", json={}, headers=officer)
        assert decided.json()["status"] == "eligible", decided.text
        return request_id, decided.json()["parents"][0]["parent_ref"]

    async def notice(service_method: str) -> str:
        request_id, parent_ref = await eligible_request()
        issued = await api.client.post(
            f"/penalty-requests/{request_id}/notices",
            json={"parent_ref": parent_ref, "service_method": service_method},
            headers=officer,
        )
        assert issued.status_code == 201, issued.text
        return str(issued.json()["id"])

    # Monday 24 November 2025 (the fixture's clock): requests, decisions and notices.
    for example in examples["/penalty-requests"]:
        await post("/penalty-requests", "/penalty-requests", example, status=201)
    req = "/penalty-requests/{request_id}"
    for example in examples[f"{req}/decision"]:
        decided = await post(
            f"/penalty-requests/{await submitted_request()}/decision", f"{req}/decision", example
        )
        assert decided["status"] == ("declined" if example.get("decline") else "eligible")
    for example in examples[f"{req}/notices"]:
        request_id, parent_ref = await eligible_request()
        issue = {**example, "parent_ref": parent_ref}
        await post(f"/penalty-requests/{request_id}/notices", f"{req}/notices", issue, status=201)
    to_pay = [await notice("post") for _ in examples["/penalty-notices/{notice_id}/payments"]]
    to_withdraw = [await notice("hand") for _ in examples["/penalty-notices/{notice_id}/withdrawal"]]
    cases_needed = max(
        len(examples["/prosecutions/{case_id}/information"]), len(examples["/prosecutions/{case_id}/outcome"])
    )
    unpaid = [await notice("hand") for _ in range(cases_needed)]

    # Monday 1 December: paid at the reduced rate, or withdrawn.
    api.clock.set(datetime(2025, 12, 1, 9, 0, tzinfo=UTC))
    pn = "/penalty-notices/{notice_id}"
    for notice_id, example in zip(to_pay, examples[f"{pn}/payments"], strict=True):
        paid = await post(f"/penalty-notices/{notice_id}/payments", f"{pn}/payments", example)
        assert paid["status"] == "paid" and paid["payment_rate"] == "reduced"
    for notice_id, example in zip(to_withdraw, examples[f"{pn}/withdrawal"], strict=True):
        withdrawn = await post(f"/penalty-notices/{notice_id}/withdrawal", f"{pn}/withdrawal", example)
        assert withdrawn["status"] == "withdrawn"

    # After the 28 days the unpaid notices become prosecution cases.
    api.clock.set(datetime(2026, 1, 6, 9, 0, tzinfo=UTC))
    assert (await api.client.post("/prosecutions/sweep", headers=officer)).status_code == 200
    listed = (await api.client.get("/prosecutions", params={"limit": 100}, headers=officer)).json()["items"]
    case_of = {c["notice_id"]: c["id"] for c in listed}
    cases = [case_of[n] for n in unpaid]
    api.clock.set(datetime(2026, 2, 17, 17, 0, tzinfo=UTC))
    pc = "/prosecutions/{case_id}"
    information = examples[f"{pc}/information"]
    for i, case_id in enumerate(cases):
        example = information[min(i, len(information) - 1)]
        laid = await post(f"/prosecutions/{case_id}/information", f"{pc}/information", example)
        assert laid["status"] == "laid"
    for case_id, example in zip(cases, examples[f"{pc}/outcome"], strict=False):
        concluded = await post(f"/prosecutions/{case_id}/outcome", f"{pc}/outcome", example)
        assert concluded["status"] == "concluded"

    assert set(posted) == set(examples)
    assert len(posted) >= 10
