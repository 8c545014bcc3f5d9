"""The OpenAPI 3.1 document: every request body has an example, and the API accepts each one when
it is posted to a record in the state the example describes (a case opened on 10 November 2025,
an EHE registration made the same day)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from inclusion_kit.auth import Role
from inclusion_kit.pupils import upn_check_letter

from ..events import ALEX, cme_referral
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
    assert len(bodies) >= 9
    assert [(m, p, t) for m, p, t, media in bodies if not examples_of(media, components)] == []


class Records:
    """A fresh child each time (its own UPN), so every example meets a record in the right state."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.n = 0

    def _child(self) -> tuple[str, dict[str, Any]]:
        self.n += 1
        body = f"88620002{self.n:04d}"  # LA 886, establishment 2000, serial
        return f"c-example-{self.n}", {**ALEX, "upn": upn_check_letter(body) + body}

    async def case(self) -> str:
        """A CME case opened from a referral received on Monday 10 November 2025."""
        child_ref, child = self._child()
        await self.api.deliver(cme_referral(child_ref, referral_id=f"r-{child_ref}", child=child))
        return await self._find("/cases", f"r-{child_ref}")

    async def registration(self) -> str:
        """An EHE registration from a parent's notice passed on on 10 November 2025."""
        child_ref, child = self._child()
        await self.api.deliver(
            cme_referral(child_ref, referral_id=f"r-{child_ref}", child=child, kind="elective_home_education")
        )
        return await self._find("/ehe", f"r-{child_ref}")

    async def _find(self, path: str, source_id: str) -> str:
        page = (await self.api.client.get(path, headers=self.api.token(Role.ADMIN))).json()
        return str(next(item["id"] for item in page["items"] if item["source_id"] == source_id))


async def test_the_api_accepts_every_example(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    components = doc["components"]["schemas"]
    records = Records(api)
    makers: dict[str, tuple[str, Callable[[], Awaitable[str]]]] = {
        "/cases/{case_id}/": ("{case_id}", records.case),
        "/ehe/{registration_id}/": ("{registration_id}", records.registration),
    }
    # Every record is opened on 10 November; the examples are dated up to 12 December.
    api.clock.set(datetime(2025, 12, 12, 10, 0, tzinfo=UTC))
    officer = api.token(Role.OFFICER)
    posted = []
    for method, path, content_type, media in request_bodies(doc):
        assert content_type == "application/json", (path, content_type)
        matches = [v for prefix, v in makers.items() if path.startswith(prefix)]
        assert len(matches) == 1, f"no record to post {path}'s examples to"
        placeholder, make = matches[0]
        for example in examples_of(media, components):
            real = path.replace(placeholder, await make())
            response = await api.client.request(method, real, json=example, headers=officer)
            assert response.status_code < 400, (path, example, response.text)
            posted.append((method, path))
    assert len(posted) >= 11
    assert {p for _, p in posted} == {p for _, p, _, _ in request_bodies(doc)}
