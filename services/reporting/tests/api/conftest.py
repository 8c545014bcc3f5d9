"""An app on a fresh database, fed events through the live consumer's own dispatcher.

SQLite by default; a module that must also prove its figures on PostgreSQL (where the attendance
projection runs through asyncpg arrays) parametrises the fixture:
``pytestmark = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.messaging.dispatch import Delivery, Failure
from inclusion_kit.service import ServiceKernel
from inclusion_kit.testing import infra
from inclusion_kit.testing.fakes import FrozenClock
from reporting.bootstrap import bootstrap
from reporting.config import Settings
from reporting.entrypoints.api.app import create_app


@dataclass
class Api:
    client: httpx.AsyncClient
    settings: Settings
    kernel: ServiceKernel[Any]
    token: Callable[..., dict[str, str]]

    async def feed(self, envelopes: Sequence[Envelope], batch: int = 500) -> None:
        """Deliver as the live consumer does: batches through the dispatcher (inbox and all)."""
        dispatcher = self.kernel.dispatchers()[0]
        for start in range(0, len(envelopes), batch):
            results = await dispatcher.process_batch([Delivery(e) for e in envelopes[start : start + batch]])
            failures = [r for r in results if isinstance(r, Failure)]
            assert not failures, failures[0]

    async def get(self, path: str, role: Role = Role.MANAGER, **params: Any) -> Any:
        response = await self.client.get(path, params=params, headers=self.token(role))
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    backend = getattr(request, "param", "sqlite")
    admin_url, database = None, None
    if backend == "postgresql":
        admin_url = request.getfixturevalue("postgres_admin_url")
        database = await infra.create_database(admin_url)
        url = infra.database_url(admin_url, database)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    try:
        settings = Settings(database_url=url)
        kernel = bootstrap(settings)
        await kernel.migrate()
        await kernel.dispose()
        app = create_app(settings, clock=FrozenClock(datetime(2026, 1, 12, 9, 0, tzinfo=UTC)))

        def token(
            role: Role, *, districts: tuple[str, ...] = (), urns: tuple[str, ...] = ()
        ) -> dict[str, str]:
            value = mint_token(
                settings.auth, subject=f"{role}-1", roles=[role], districts=districts, urns=urns
            )
            return {"Authorization": f"Bearer {value}"}

        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Api(client, settings, app.state.kernel, token)
    finally:
        if admin_url and database:
            await infra.drop_database(admin_url, database)
