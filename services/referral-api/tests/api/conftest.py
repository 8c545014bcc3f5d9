"""An app on a fresh database with the schools reference list seeded and a frozen clock.

SQLite by default; a module that must also prove its behaviour on PostgreSQL (where bulk paths
use COPY and asyncpg directly) parametrises the fixture:
``pytestmark = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.testing import infra
from inclusion_kit.testing.fakes import FrozenClock
from referral_api.adapters.orm import schools
from referral_api.bootstrap import bootstrap
from referral_api.config import Settings
from referral_api.entrypoints.api.app import create_app

SCHOOLS = [
    ("118000", "8862000", "Example Primary School", "primary", "Maidstone"),
    ("118001", "8864000", "Example High School", "secondary", "Dover"),
]


@dataclass
class Api:
    client: httpx.AsyncClient
    settings: Settings
    clock: FrozenClock
    token: Callable[..., dict[str, str]]
    kernel: object


@pytest.fixture
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    backend = getattr(request, "param", "sqlite")
    admin_url, database = None, None
    if backend == "postgresql":
        admin_url = request.getfixturevalue("postgres_admin_url")
        database = await infra.create_database(admin_url)
        url = infra.database_url(admin_url, database)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'referral.db'}"
    try:
        async for api in _api(url):
            yield api
    finally:
        if admin_url and database:
            await infra.drop_database(admin_url, database)


async def _api(url: str) -> AsyncIterator[Api]:
    settings = Settings(database_url=url, http={"max_body_bytes": 65_536})
    kernel = bootstrap(settings)
    await kernel.migrate()
    async with kernel.engine.begin() as conn:
        now = datetime.now(UTC)
        await conn.execute(
            insert(schools),
            [
                {
                    "urn": urn,
                    "laestab": laestab,
                    "la_code": "886",
                    "name": name,
                    "phase": phase,
                    "district": district,
                    "is_open": True,
                    "updated_at": now,
                }
                for urn, laestab, name, phase, district in SCHOOLS
            ],
        )
    await kernel.dispose()
    clock = FrozenClock(datetime(2025, 10, 6, 8, 30, tzinfo=UTC))  # a Monday in the autumn term
    app = create_app(settings, clock=clock)

    def token(role: Role, *, urns: tuple[str, ...] = (), subject: str = "user-1") -> dict[str, str]:
        value = mint_token(settings.auth, subject=subject, roles=[role], urns=urns)
        return {"Authorization": f"Bearer {value}"}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(client, settings, clock, token, app.state.kernel)
