"""Time as a dependency: services take a :class:`Clock` so deadlines and schedulers can be tested
with a controllable one. Times are UTC; school dates come from :mod:`inclusion_kit.calendar`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol

from inclusion_kit.calendar import london_date


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def today_in_london(clock: Clock) -> date:
    """The date in England for the clock's instant (what deadlines in school days start from)."""
    return london_date(clock.now())
