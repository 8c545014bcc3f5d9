"""An exclusions app on a fresh SQLite database whose roll was fed through its own consumer
(PupilEnrolmentRecorded events, as referral-api publishes them), with a frozen clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from exclusions.bootstrap import bootstrap
from exclusions.config import Settings
from exclusions.entrypoints.api.app import create_app
from inclusion_kit.auth import Role, mint_token
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.contracts.events.roll import PupilEnrolmentRecorded
from inclusion_kit.messaging.dispatch import Delivery, Outcome
from inclusion_kit.testing.fakes import FrozenClock

HIGH = "118001"  # Dover
PRIMARY = "118000"  # Maidstone
SCHOOLS = {
    HIGH: {"urn": HIGH, "laestab": "8864000", "la_code": "886", "phase": "secondary", "district": "Dover"},
    PRIMARY: {
        "urn": PRIMARY,
        "laestab": "8862000",
        "la_code": "886",
        "phase": "primary",
        "district": "Maidstone",
    },
}
SAM = "K886400023012"  # on HIGH's roll
ALEX = "H886200024001"  # on PRIMARY's roll


def enrolment(urn: str, upn: str, child_ref: str, version: int = 1, **extra: Any) -> PupilEnrolmentRecorded:
    return PupilEnrolmentRecorded(
        child_ref=child_ref,
        aggregate_id=f"{urn}/{child_ref}",
        aggregate_version=version,
        occurred_at=datetime(2025, 9, 1, 6, 0, tzinfo=UTC),
        school=SCHOOLS[urn],
        upn=upn,
        on_roll_from=date(2020, 9, 1),
        **extra,
    )


@dataclass
class Api:
    client: httpx.AsyncClient
    settings: Settings
    clock: FrozenClock
    kernel: Any
    token: Callable[..., dict[str, str]]

    async def deliver(self, event: Any) -> Outcome:
        dispatcher = self.kernel.dispatchers()[0]
        envelope = Envelope.wrap(event, source="inclusion/referral-api", event_id=str(uuid.uuid4()))
        outcome: Outcome = await dispatcher.dispatch_once(Delivery(envelope))
        return outcome

    def school(self, urn: str = HIGH) -> dict[str, str]:
        return self.token(Role.SCHOOL, urns=(urn,), subject=f"school-{urn}")

    def officer(self, *districts: str) -> dict[str, str]:
        return self.token(Role.OFFICER, districts=districts, subject="officer-1")


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'exclusions.db'}")
    kernel = bootstrap(settings)
    await kernel.migrate()
    await kernel.dispose()
    clock = FrozenClock(datetime(2025, 10, 6, 8, 30, tzinfo=UTC))  # Monday 6 October 2025
    app = create_app(settings, clock=clock)

    def token(
        role: Role, *, urns: tuple[str, ...] = (), districts: tuple[str, ...] = (), subject: str = "user-1"
    ) -> dict[str, str]:
        value = mint_token(settings.auth, subject=subject, roles=[role], urns=urns, districts=districts)
        return {"Authorization": f"Bearer {value}"}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            a = Api(client, settings, clock, app.state.kernel, token)
            assert await a.deliver(enrolment(HIGH, SAM, "c-sam")) is Outcome.APPLIED
            assert await a.deliver(enrolment(PRIMARY, ALEX, "c-alex")) is Outcome.APPLIED
            yield a


def notification(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "school_urn": HIGH,
        "upn": SAM,
        "kind": "suspension",
        "start_date": "2025-10-06",
        "length_days": 3,
        "reason_codes": ["PA", "VA"],
        "sen_provision": "K",
        "ehc_plan": False,
        "fsm_eligible": True,
        "looked_after": False,
        "child_in_need": False,
        "child_protection_plan": False,
        "parents_notified_at": "2025-10-03T15:30:00+01:00",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}
