"""The OpenAPI 3.1 document MIS vendors build against: every request body has an example, and
every JSON example is one the API accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from inclusion_kit.auth import Role

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


async def test_every_request_body_has_an_example_and_the_api_accepts_each(api: Api) -> None:
    api.clock.set(datetime(2025, 11, 10, 10, 0, tzinfo=UTC))
    doc = (await api.client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    components = doc["components"]["schemas"]
    bodies = request_bodies(doc)
    assert {(m, p) for m, p, _, _ in bodies} >= {
        ("post", "/referrals"),
        ("post", "/referrals/{referral_id}/triage"),
        ("post", "/roll-changes/deletions"),
        ("post", "/roll-changes/admissions"),
        ("post", "/attendance/schools/{school_urn}/marks"),
        ("post", "/roll/schools/{school_urn}/pupils"),
        ("post", "/schools/import"),
    }
    missing = [(m, p, t) for m, p, t, media in bodies if not examples_of(media, components)]
    assert missing == []
    admin = api.token(Role.ADMIN)
    posted = 0
    for method, path, content_type, media in bodies:
        if content_type != "application/json" or "{" in path:
            continue  # path parameters and non-JSON bodies are exercised by their own tests
        for example in examples_of(media, components):
            response = await api.client.request(method, path, json=example, headers=admin)
            assert response.status_code < 400, (path, example, response.text)
            posted += 1
    assert posted >= 8
