"""Fakes for unit tests: a controllable clock and a publisher that records or fails."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from inclusion_kit.contracts.envelope import Envelope


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FrozenClock.set needs a timezone-aware time")
        self._now = moment.astimezone(UTC)


class RecordingPublisher:
    """Stands in for Kafka behind the relay: records what was sent; can fail the next N sends."""

    def __init__(self) -> None:
        self.sent: list[Envelope] = []
        self.fail_next = 0

    async def publish_batch(self, envelopes: Sequence[Envelope]) -> list[BaseException | None]:
        results: list[BaseException | None] = []
        for envelope in envelopes:
            if self.fail_next > 0:
                self.fail_next -= 1
                results.append(ConnectionError("broker unavailable (fake)"))
            else:
                self.sent.append(envelope)
                results.append(None)
        return results

    def types(self) -> list[str]:
        return [e.type for e in self.sent]
