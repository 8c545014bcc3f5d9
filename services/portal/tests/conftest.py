"""The portal over a real referral-api (SQLite, in-process through ASGI transports); the other
services' clients point nowhere (a test that reaches them fails with a 502 page)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from portal.config import PortalSettings
from portal.entrypoints.app import create_app
from referral_api.adapters.orm import schools
from referral_api.bootstrap import bootstrap
from referral_api.config import Settings as ReferralSettings
from referral_api.entrypoints.api.app import create_app as create_referral_app

SCHOOLS = [
    ("118000", "8862000", "Example Primary", "primary", "Maidstone"),
    ("118001", "8864000", "Example High", "secondary", "Dover"),
]


@dataclass
class Portal:
    client: httpx.AsyncClient
    referral: httpx.AsyncClient


async def csrf(client: httpx.AsyncClient, path: str = "/sign-in") -> str:
    page = await client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, role: str, urn: str = "") -> httpx.Response:
    token = await csrf(client)
    return await client.post(
        "/sign-in/local", data={"csrf_token": token, "role": role, "urn": urn, "next": "/"}
    )


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[Portal]:
    settings = ReferralSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'referral.db'}")
    kernel = bootstrap(settings)
    await kernel.migrate()
    async with kernel.engine.begin() as conn:
        now = datetime.now(UTC)
        await conn.execute(
            insert(schools),
            [
                {
                    "urn": u,
                    "laestab": e,
                    "la_code": "886",
                    "name": n,
                    "phase": p,
                    "district": d,
                    "is_open": True,
                    "updated_at": now,
                }
                for u, e, n, p, d in SCHOOLS
            ],
        )
    await kernel.dispose()
    referral_app = create_referral_app(settings)
    async with referral_app.router.lifespan_context(referral_app):
        referral = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=referral_app), base_url="http://referral"
        )
        nowhere = {
            name: httpx.AsyncClient(base_url="http://127.0.0.1:9")
            for name in ("cme", "exclusions", "enforcement", "reporting")
        }
        app = create_app(PortalSettings(mode="test"), clients={"referral": referral, **nowhere})
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://portal"
            ) as client:
                yield Portal(client, referral)
        await referral.aclose()
        for c in nowhere.values():
            await c.aclose()
