"""The dispatcher's failure policy and the relay's ordering, with fakes on SQLite (no broker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from inclusion_kit.contracts import Envelope
from inclusion_kit.messaging.dispatch import (
    Delivery,
    Dispatcher,
    Failure,
    FailureKind,
    HandlerContext,
    Outcome,
    RetryPolicy,
    SkipMessage,
    TransientError,
)
from inclusion_kit.messaging.relay import OutboxRelay
from inclusion_kit.messaging.unit_of_work import UnitOfWork
from inclusion_kit.testing.fakes import RecordingPublisher

from .chain import REGISTRY, NoteWritten, Side, consumer_side, count_rows, producer_side, tally, write_note


@pytest.fixture
async def side(tmp_path: Path) -> AsyncIterator[Side]:
    s = consumer_side(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    await s.create()
    yield s
    await s.engine.dispose()


def note(child: str = "child-1", text: str = "hello", event_id: str = "e-1") -> Delivery:
    from datetime import UTC, datetime

    event = NoteWritten(
        child_ref=child, aggregate_id="n1", aggregate_version=1, occurred_at=datetime.now(UTC), text=text
    )
    return Delivery(Envelope.wrap(event, source="inclusion/test", event_id=event_id))


class Script:
    """A handler that raises the scripted exceptions, in turn, before succeeding."""

    def __init__(self, side: Side, *errors: BaseException) -> None:
        self.side = side
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, event: object, ctx: HandlerContext[UnitOfWork]) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        assert isinstance(event, NoteWritten)
        await ctx.uow.session.execute(
            self.side.extra["tallies"].insert().values(child_ref=event.child_ref, count=1)
        )


def dispatcher(
    side: Side, handler: Script, max_attempts: int = 3
) -> tuple[Dispatcher[UnitOfWork], list[float]]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return Dispatcher(
        "policy-test",
        REGISTRY,
        {NoteWritten.event_type: handler},
        lambda: side.uow(),
        RetryPolicy(max_attempts=max_attempts, backoff_initial=0.1, backoff_max=0.3),
        sleep=sleep,
    ), sleeps


OPERATIONAL = OperationalError("SELECT 1", {}, Exception("server closed the connection"))


@pytest.mark.parametrize(
    ("errors", "expected", "calls", "sleeps"),
    [
        ((), Outcome.APPLIED, 1, 0),
        ((TransientError("busy"),), Outcome.APPLIED, 2, 1),
        ((OPERATIONAL, ConnectionError("reset")), Outcome.APPLIED, 3, 2),
        ((TransientError("1"), TransientError("2"), TransientError("3")), "retries-exhausted", 3, 2),
        ((RuntimeError("a bug"),) * 3, "retries-exhausted", 3, 2),
        ((ValueError("bad"),), Outcome.APPLIED, 2, 1),  # unexpected errors are retried (bounded)
    ],
)
async def test_transient_failures_are_retried_with_backoff_then_dead_lettered(
    side: Side, errors: tuple[BaseException, ...], expected: object, calls: int, sleeps: int
) -> None:
    handler = Script(side, *errors)
    d, slept = dispatcher(side, handler)
    result = await d.process(note())
    if isinstance(expected, Outcome):
        assert result is expected
        assert await tally(side, "child-1") == 1
    else:
        assert isinstance(result, Failure)
        assert (result.kind, result.reason, result.attempts) == (FailureKind.TRANSIENT, expected, 3)
        assert await tally(side, "child-1") == 0
        assert await count_rows(side, side.tables.inbox) == 0  # nothing half-written
    assert handler.calls == calls
    assert len(slept) == sleeps
    assert all(0.05 <= s <= 0.3 for s in slept)  # jittered exponential backoff, capped


async def test_permanent_failure_is_not_retried(side: Side) -> None:
    from inclusion_kit.messaging.dispatch import PermanentError

    handler = Script(side, PermanentError("never"))
    d, slept = dispatcher(side, handler)
    result = await d.process(note())
    assert isinstance(result, Failure) and result.reason == "permanent" and result.attempts == 1
    assert slept == [] and handler.calls == 1


async def test_invalid_payload_is_permanent_and_names_fields_not_values(side: Side) -> None:
    handler = Script(side)
    d, _ = dispatcher(side, handler)
    bad = note()
    envelope = Envelope(
        **{
            **{f: getattr(bad.envelope, f) for f in bad.envelope.__slots__},
            "data": b'{"child_ref": "c", "text": "Jane Smith B801200005001"}',
        }
    )
    result = await d.process(Delivery(envelope))
    assert isinstance(result, Failure) and result.kind is FailureKind.PERMANENT
    assert (
        "aggregate_id" in result.error and "Jane" not in result.error and "B801200005001" not in result.error
    )
    assert handler.calls == 0


async def test_skip_keeps_inbox_row_and_changes_nothing_else(side: Side) -> None:
    handler = Script(side, SkipMessage())
    d, _ = dispatcher(side, handler)
    assert await d.process(note()) is Outcome.SKIPPED
    assert await tally(side, "child-1") == 0
    assert await count_rows(side, side.tables.inbox) == 1
    assert await d.process(note()) is Outcome.DUPLICATE  # a redelivery is recognised


async def test_unknown_type_is_skipped_without_inbox_row(side: Side) -> None:
    handler = Script(side)
    d, _ = dispatcher(side, handler)
    other = note()
    envelope = Envelope(
        **{
            **{f: getattr(other.envelope, f) for f in other.envelope.__slots__},
            "type": "inclusion.referrals.something.else.v1",
        }
    )
    assert await d.process(Delivery(envelope)) is Outcome.SKIPPED
    assert await count_rows(side, side.tables.inbox) == 0


async def test_batch_applies_all_or_falls_back_one_by_one(side: Side) -> None:
    from inclusion_kit.messaging.dispatch import PermanentError

    class PoisonOnText(Script):
        async def __call__(self, event: object, ctx: HandlerContext[UnitOfWork]) -> None:
            assert isinstance(event, NoteWritten)
            if event.text == "poison":
                raise PermanentError("no")
            await super().__call__(event, ctx)

    handler = PoisonOnText(side)
    d, _ = dispatcher(side, handler)
    deliveries = [
        note("a", event_id="1"),
        note("b", "poison", event_id="2"),
        note("c", event_id="3"),
        note("a", event_id="1"),
    ]  # a duplicate inside the batch
    results = await d.process_batch(deliveries)
    assert results[0] is Outcome.APPLIED and results[2] is Outcome.APPLIED
    assert isinstance(results[1], Failure) and results[1].reason == "permanent"
    assert results[3] is Outcome.DUPLICATE
    assert [await tally(side, c) for c in "abc"] == [1, 0, 1]

    clean = [note("d", event_id="4"), note("e", event_id="5"), note("d", event_id="4")]
    assert await d.process_batch(clean) == [Outcome.APPLIED, Outcome.APPLIED, Outcome.DUPLICATE]


async def test_relay_keeps_order_and_resends_from_the_first_failure(tmp_path: Path) -> None:
    producer = producer_side(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    await producer.create()
    try:
        for i in range(5):
            await write_note(producer, "child-1", f"n{i}")
        publisher = RecordingPublisher()
        publisher.fail_next = 0
        relay = OutboxRelay(producer.engine, producer.tables, publisher, source="inclusion/test")

        class FailThird(RecordingPublisher):
            async def publish_batch(self, envelopes):  # type: ignore[no-untyped-def]
                results = await super().publish_batch(envelopes)
                return [r if i != 2 else ConnectionError("lost") for i, r in enumerate(results)]

        flaky = FailThird()
        relay = OutboxRelay(producer.engine, producer.tables, flaky, source="inclusion/test")
        assert await relay.publish_pending() == 2  # marked: the two before the failure
        outbox = producer.tables.outbox
        assert await count_rows(producer, outbox, outbox.c.published_at.is_(None)) == 3
        assert await count_rows(producer, outbox, outbox.c.last_error.is_not(None)) == 3
        healthy = OutboxRelay(producer.engine, producer.tables, publisher, source="inclusion/test")
        assert await healthy.drain() == 3
        texts = [NoteWritten.model_validate_json(e.data).text for e in flaky.sent + publisher.sent]
        # n2..n4 were sent again after the failure, in order: duplicates, never reordering.
        assert texts == ["n0", "n1", "n2", "n3", "n4", "n2", "n3", "n4"]
        assert (await relay.lag())[0] == 0
    finally:
        await producer.engine.dispose()


@pytest.mark.parametrize("keep", [False, True])
async def test_marking_deletes_published_rows_or_keeps_them_stamped(tmp_path: Path, keep: bool) -> None:
    producer = producer_side(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    await producer.create()
    try:
        for i in range(3):
            await write_note(producer, "child-1", f"n{i}")
        relay = OutboxRelay(
            producer.engine,
            producer.tables,
            RecordingPublisher(),
            source="inclusion/test",
            keep_published=keep,
        )
        assert await relay.drain() == 3
        outbox = producer.tables.outbox
        assert await count_rows(producer, outbox, outbox.c.published_at.is_(None)) == 0
        assert await count_rows(producer, outbox, outbox.c.published_at.is_not(None)) == (3 if keep else 0)
        assert await relay.lag() == (0, 0.0)
    finally:
        await producer.engine.dispose()
