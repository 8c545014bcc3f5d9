"""An app on a fresh database with a frozen clock, and attendance fed through the real consumer's
dispatcher (so requests are judged on marks the service counted itself)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from enforcement.bootstrap import bootstrap
from enforcement.config import Settings
from enforcement.entrypoints.api.app import create_app
from inclusion_kit.auth import Role, mint_token
from inclusion_kit.contracts.events.attendance import AttendanceRecorded
from inclusion_kit.messaging.dispatch import Delivery
from inclusion_kit.testing import infra
from inclusion_kit.testing.fakes import FrozenClock

from ..factories import envelope


@dataclass
class Api:
    client: httpx.AsyncClient
    settings: Settings
    clock: FrozenClock
    token: Callable[..., dict[str, str]]
    kernel: Any

    async def feed(self, *events: AttendanceRecorded) -> None:
        dispatcher = self.kernel.dispatchers()[0]
        for event in events:
            await dispatcher.process(Delivery(envelope(event)))


@pytest.fixture
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    backend = getattr(request, "param", "sqlite")
    admin_url, database = None, None
    if backend == "postgresql":
        admin_url = request.getfixturevalue("postgres_admin_url")
        database = await infra.create_database(admin_url)
        url = infra.database_url(admin_url, database)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'enforcement.db'}"
    try:
        settings = Settings(database_url=url)
        kernel = bootstrap(settings)
        await kernel.migrate()
        await kernel.dispose()
        clock = FrozenClock(datetime(2025, 11, 24, 9, 0, tzinfo=UTC))  # a Monday in the autumn term
        app = create_app(settings, clock=clock)

        def token(
            role: Role,
            *,
            urns: tuple[str, ...] = (),
            subject: str = "user-1",
            districts: tuple[str, ...] = (),
        ) -> dict[str, str]:
            value = mint_token(settings.auth, subject=subject, roles=[role], urns=urns, districts=districts)
            return {"Authorization": f"Bearer {value}"}

        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Api(client, settings, clock, token, app.state.kernel)
    finally:
        if admin_url and database:
            await infra.drop_database(admin_url, database)
