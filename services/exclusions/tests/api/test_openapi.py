"""The OpenAPI 3.1 document: every request body has an example, and the API accepts each one.

The examples tell one autumn-term story (LA 886, 2025/26): a suspension of Sam from Example High
School, a lunchtime suspension of Alex at Example Primary School, Sam's permanent exclusion from
17 November with its sixth-day provision, board, panel and reconsideration, and Alex's part-time
timetable. The test posts them in that order, each to the record it is about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
        ("post", "/exclusions"),
        ("post", "/exclusions/{exclusion_id}/withdrawal"),
        ("post", "/exclusions/{exclusion_id}/provision"),
        ("post", "/exclusions/{exclusion_id}/reviews"),
        ("post", "/part-time-timetables"),
        ("post", "/part-time-timetables/{timetable_id}/reviews"),
        ("post", "/part-time-timetables/{timetable_id}/end"),
    }
    assert [(m, p, t) for m, p, t, media in bodies if not examples_of(media, components)] == []
    reviews = next(media for _, p, _, media in bodies if p == "/exclusions/{exclusion_id}/reviews")
    stages = [e["stage"] for e in examples_of(reviews, components)]
    assert stages == ["representations", "board", "independent_review", "reconsideration"]


async def test_the_api_accepts_every_example(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    components = doc["components"]["schemas"]
    examples = {p: examples_of(media, components) for _, p, _, media in request_bodies(doc)}
    officer = api.officer()
    posted: list[str] = []

    async def post(path: str, template: str, example: dict[str, Any], status: int = 200) -> dict[str, Any]:
        response = await api.client.post(path, json=example, headers=officer)
        assert response.status_code == status, (template, example, response.text)
        posted.append(template)
        return dict(response.json())

    # Notified on Monday 17 November, when the last of the three had been decided.
    api.clock.set(datetime(2025, 11, 17, 12, 0, tzinfo=UTC))
    notified = {}
    for example in examples["/exclusions"]:
        created = await post("/exclusions", "/exclusions", example, status=201)
        notified[example["kind"]] = created["id"]
    assert set(notified) == {"suspension", "lunchtime", "permanent"}
    [timetable] = examples["/part-time-timetables"]
    timetable_id = (await post("/part-time-timetables", "/part-time-timetables", timetable, status=201))["id"]

    one = "/exclusions/{exclusion_id}"
    for example in examples[f"{one}/withdrawal"]:  # the lunchtime suspension that began on 10 November
        await post(f"/exclusions/{notified['lunchtime']}/withdrawal", f"{one}/withdrawal", example)
    for example in examples[f"{one}/provision"]:  # the sixth school day of the permanent exclusion
        await post(f"/exclusions/{notified['permanent']}/provision", f"{one}/provision", example)

    # Every decision has been made by 4 February 2026; the stages are posted in the order they happen.
    api.clock.set(datetime(2026, 2, 4, 12, 0, tzinfo=UTC))
    for example in examples[f"{one}/reviews"]:
        target = notified["suspension" if example["stage"] == "representations" else "permanent"]
        await post(f"/exclusions/{target}/reviews", f"{one}/reviews", example)
    final = (await api.client.get(f"/exclusions/{notified['permanent']}", headers=officer)).json()
    assert final["reviews"]["reconsideration_outcome"] == "upheld"

    tt = "/part-time-timetables/{timetable_id}"
    for example in examples[f"{tt}/reviews"]:
        await post(f"/part-time-timetables/{timetable_id}/reviews", f"{tt}/reviews", example)
    for example in examples[f"{tt}/end"]:
        await post(f"/part-time-timetables/{timetable_id}/end", f"{tt}/end", example)

    assert set(posted) == set(examples)
    assert len(posted) >= 12
