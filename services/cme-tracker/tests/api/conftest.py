"""An app on a fresh SQLite database with a frozen clock, and cases fed in through the consumer
(the way they arrive in production); ``api.deliver(event)`` runs the kit's Dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cme_tracker.bootstrap import bootstrap
from cme_tracker.config import Settings
from cme_tracker.entrypoints.api.app import create_app
from inclusion_kit.auth import Role, mint_token
from inclusion_kit.contracts import IntegrationEvent
from inclusion_kit.messaging.dispatch import Outcome
from inclusion_kit.testing.fakes import FrozenClock

from ..events import delivery


@dataclass
class Api:
    client: httpx.AsyncClient
    settings: Settings
    clock: FrozenClock
    token: Callable[..., dict[str, str]]
    kernel: Any

    async def deliver(self, event: IntegrationEvent) -> None:
        outcome = await self.kernel.dispatchers()[0].process(delivery(event))
        assert outcome is Outcome.APPLIED


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cme.db'}", http={"max_body_bytes": 65_536}
    )
    kernel = bootstrap(settings)
    await kernel.migrate()
    await kernel.dispose()
    clock = FrozenClock(datetime(2025, 11, 10, 11, 0, tzinfo=UTC))  # a Monday in the autumn term
    app = create_app(settings, clock=clock)

    def token(
        role: Role, *, urns: tuple[str, ...] = (), districts: tuple[str, ...] = (), subject: str = "officer-1"
    ) -> dict[str, str]:
        value = mint_token(settings.auth, subject=subject, roles=[role], urns=urns, districts=districts)
        return {"Authorization": f"Bearer {value}"}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(client, settings, clock, token, app.state.kernel)
