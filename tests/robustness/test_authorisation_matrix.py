"""The authorisation matrix, generated from every service's own routes.

For every operation of every service (read from the app, so a new route is covered the day it is
added) and every role:

- no token, or a token that fails verification (no signature, ``alg: none``, expired, not yet
  valid, wrong issuer, wrong audience, wrong key, garbage), gets **401**;
- a role the operation does not admit (its documented ``x-roles``) gets **403**;
- a role it admits gets past authorisation (neither 401 nor 403) - what happens next depends on
  the data, which the services' own tests cover, including another school's records answering 404.

The matrix size is printed (``-s``) so CI logs show what was tried.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.settings import AuthSettings
from inclusion_platform.embedded import SERVICES, ServiceEntry

ROLES = [str(r) for r in Role]
METHODS = ("get", "post", "put", "patch", "delete")
PATH_VALUES = {"school_urn": "118000", "urn": "118000", "upn": "H886200024001"}
PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"}


def concrete(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: PATH_VALUES.get(m.group(1), "x-0a1b2c3d"), path)


def operations(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    doc = app.openapi()
    out = []
    for path, ops in doc["paths"].items():
        for method in METHODS:
            if method in ops and path not in PUBLIC:
                out.append((method, path, list(ops[method].get("x-roles", []))))
    return out


async def service_client(entry: ServiceEntry, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = entry.settings_class(  # type: ignore[call-arg]
        mode="test", database_url=f"sqlite+aiosqlite:///{tmp_path / (entry.name + '.db')}"
    )
    kernel = entry.bootstrap(settings)
    await kernel.migrate()
    await kernel.dispose()
    app = entry.create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield client, settings


def token(auth: AuthSettings, role: str, **extra: Any) -> str:
    return mint_token(auth, subject=f"matrix-{role}", roles=[Role(role)], urns=["118000"], **extra)


def attacks(auth: AuthSettings) -> dict[str, str]:
    good = token(auth, "admin")
    header, payload, _signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    secret = auth.jwt_secret.get_secret_value() if auth.jwt_secret else ""
    now = datetime.now(UTC)

    def signed(changes: dict[str, Any], key: str = secret) -> str:
        return jwt.encode({**claims, **changes}, key, algorithm="HS256")

    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    return {
        "no signature": f"{header}.{payload}.",
        "alg none": f"{none_header.decode()}.{payload}.",
        "expired": signed({"exp": int((now - timedelta(hours=1)).timestamp())}),
        "not yet valid": signed({"nbf": int((now + timedelta(hours=1)).timestamp())}),
        "wrong issuer": signed({"iss": "someone-else"}),
        "wrong audience": signed({"aud": "another-platform"}),
        "wrong key": signed({}, key="not-the-platform-key-" + "x" * 32),
        "garbage": "not.a.jwt",
    }


@pytest.mark.parametrize("entry", SERVICES, ids=lambda e: e.name)
async def test_every_route_by_every_role(entry: ServiceEntry, tmp_path: Path) -> None:
    tried = 0
    async for client, settings in service_client(entry, tmp_path):
        app_ops = operations(client._transport.app)  # type: ignore[attr-defined]
        assert app_ops, f"{entry.name} has no operations"
        bad_tokens = attacks(settings.auth)
        for method, path, admitted in app_ops:
            url = concrete(path)
            assert admitted, (
                f"{entry.name} {method.upper()} {path} states no roles: every route needs a principal"
            )
            response = await client.request(method, url, json={})
            assert response.status_code == 401, (entry.name, method, path, "no token", response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            tried += 1
            for name, bad in bad_tokens.items():
                response = await client.request(
                    method, url, json={}, headers={"Authorization": f"Bearer {bad}"}
                )
                assert response.status_code == 401, (entry.name, method, path, name, response.text)
                tried += 1
            for role in ROLES:
                response = await client.request(
                    method, url, json={}, headers={"Authorization": f"Bearer {token(settings.auth, role)}"}
                )
                if role in admitted:
                    assert response.status_code not in (401, 403), (
                        entry.name,
                        method,
                        path,
                        role,
                        response.text,
                    )
                else:
                    assert response.status_code == 403, (entry.name, method, path, role, response.text)
                tried += 1
    print(
        f"\n{entry.name}: {len(app_ops)} operations x ({len(ROLES)} roles + no token + "
        f"{len(bad_tokens)} bad tokens) = {tried} requests"
    )
