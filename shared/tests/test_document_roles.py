"""Each operation's roles are read from its own dependencies into OpenAPI (``x-roles`` and the
description), so documentation and authorisation tests cannot drift from the code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI

from inclusion_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from inclusion_kit.service import api_routes, document_roles, route_roles

OFFICERS = require_roles(Role.OFFICER, Role.ADMIN)


def app_with_routes() -> FastAPI:
    router = APIRouter(prefix="/things")

    @router.post("", description="Make a thing.")
    async def make(principal: Annotated[Principal, Depends(OFFICERS)]) -> dict[str, str]:
        return {}

    @router.get("")
    async def read(principal: CurrentPrincipal) -> dict[str, str]:
        return {}

    @router.get("/public")
    async def public() -> dict[str, str]:
        return {}

    nested = APIRouter(prefix="/inner")

    @nested.delete("/{thing}")
    async def remove(
        thing: str,
        officer: Annotated[Principal, Depends(OFFICERS)],
        admin: Annotated[Principal, Depends(require_roles(Role.ADMIN))],
    ) -> None:
        return None

    router.include_router(nested)
    app = FastAPI()
    app.include_router(router)
    document_roles(app)
    return app


def test_roles_come_from_the_routes_dependencies() -> None:
    app = app_with_routes()
    paths = app.openapi()["paths"]
    assert paths["/things"]["post"]["x-roles"] == ["admin", "officer"]
    assert paths["/things"]["post"]["description"] == "Make a thing.\n\nRoles: admin, officer."
    assert paths["/things"]["get"]["x-roles"] == sorted(str(r) for r in Role)
    assert "any signed-in role" in paths["/things"]["get"]["description"]
    assert "x-roles" not in paths["/things/public"]["get"]
    # Two role dependencies: only roles that pass both.
    assert paths["/things/inner/{thing}"]["delete"]["x-roles"] == ["admin"]


def test_routes_inside_included_routers_are_found_and_documenting_twice_changes_nothing() -> None:
    app = app_with_routes()
    found = {(route.path, tuple(sorted(route.methods))) for route in api_routes(app.routes)}
    assert ("/things/inner/{thing}", ("DELETE",)) in found or ("/inner/{thing}", ("DELETE",)) in found
    before = app.openapi()
    app.openapi_schema = None
    document_roles(app)
    assert app.openapi() == before
    route = next(r for r in api_routes(app.routes) if r.name == "make")
    assert route_roles(route) == frozenset({"admin", "officer"})
