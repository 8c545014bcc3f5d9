"""Building AttendanceRecorded events and their envelopes for tests (and the kernel on a database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from enforcement.bootstrap import EnforcementKernel, bootstrap
from enforcement.config import Settings
from inclusion_kit.calendar import load_calendar
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.contracts.events.attendance import AttendanceRecorded, Mark, Session
from inclusion_kit.contracts.events.common import Phase, SchoolRef
from inclusion_kit.testing import infra
from inclusion_kit.testing.fakes import FrozenClock

SCHOOL = SchoolRef(urn="118000", laestab="8862000", la_code="886", phase=Phase.PRIMARY, district="Maidstone")
OTHER_SCHOOL = SchoolRef(
    urn="118001", laestab="8864000", la_code="886", phase=Phase.SECONDARY, district="Dover"
)
UPN = "H886200024001"
CAL = load_calendar("886")


def school_days(start: str, count: int) -> list[date]:
    days = list(CAL.school_days(date.fromisoformat(start), date(2027, 7, 1)))
    return days[:count]


def marks(days: list[date], code: str = "/", **extra: Any) -> list[Mark]:
    found = []
    for day in days:
        for session in ("AM", "PM"):
            regime = "2024" if day >= date(2024, 8, 19) else "2006"
            c = ("\\" if session == "PM" else "/") if code == "/" else code
            found.append(Mark(date=day, session=Session(session), code=c, regime=regime, **extra))
    return found


def recorded(
    version: int,
    items: list[Mark],
    *,
    child_ref: str = "c-0000000000000001",
    school: SchoolRef = SCHOOL,
    upn: str = UPN,
) -> AttendanceRecorded:
    return AttendanceRecorded(
        child_ref=child_ref,
        aggregate_id=f"{school.urn}/{child_ref}",
        aggregate_version=version,
        occurred_at=datetime(2025, 10, 6, 16, 0, tzinfo=UTC),
        submission_id=f"s-{version:016x}",
        school=school,
        upn=upn,
        marks=items,
    )


def envelope(event: AttendanceRecorded) -> Envelope:
    return Envelope.wrap(event, source="inclusion/referral-api")


async def kernel_on(
    request: pytest.FixtureRequest, tmp_path: Path, **settings: Any
) -> AsyncIterator[EnforcementKernel]:
    """A migrated kernel on SQLite or on a fresh PostgreSQL database (``request.param``)."""
    backend = getattr(request, "param", "sqlite")
    admin_url, database = None, None
    if backend == "postgresql":
        admin_url = request.getfixturevalue("postgres_admin_url")
        database = await infra.create_database(admin_url)
        url = infra.database_url(admin_url, database)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'enforcement.db'}"
    clock = settings.pop("clock", FrozenClock(datetime(2026, 3, 2, 18, 0, tzinfo=UTC)))
    kernel = bootstrap(Settings(database_url=url, **settings), clock=clock)
    await kernel.migrate()
    try:
        yield kernel
    finally:
        await kernel.dispose()
        if admin_url and database:
            await infra.drop_database(admin_url, database)
