"""The same chain on the embedded bus and SQLite (the one-process mode), including a restart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from inclusion_kit.messaging.embedded import (
    EmbeddedBus,
    EmbeddedProducer,
    EmbeddedSubscriber,
    replay_embedded_dead_letters,
)

from .chain import Faults, Side, consumer_side, count_rows, producer_side, tally, tally_dispatcher, write_note


@pytest.fixture
async def sides(tmp_path: Path) -> AsyncIterator[tuple[Side, Side]]:
    producer = producer_side(f"sqlite+aiosqlite:///{tmp_path / 'producer.db'}")
    consumer = consumer_side(f"sqlite+aiosqlite:///{tmp_path / 'consumer.db'}")
    await producer.create()
    await consumer.create()
    yield producer, consumer
    await producer.engine.dispose()
    await consumer.engine.dispose()


def make_bus(producer: Side, consumer: Side, faults: Faults) -> tuple[EmbeddedBus, EmbeddedSubscriber]:
    subscriber = EmbeddedSubscriber(tally_dispatcher(consumer, faults), consumer.engine, consumer.tables)
    bus = EmbeddedBus([EmbeddedProducer("producer", producer.engine, producer.tables)], [subscriber])
    return bus, subscriber


async def test_commit_is_delivered_once_and_marked_sent(sides: tuple[Side, Side]) -> None:
    producer, consumer = sides
    bus, _ = make_bus(producer, consumer, Faults())
    await write_note(producer, "child-1", "a")
    await write_note(producer, "child-1", "b")
    assert await bus.drain() == 2
    assert await tally(consumer, "child-1") == 2
    outbox = producer.tables.outbox
    assert await count_rows(producer, outbox, outbox.c.published_at.is_(None)) == 0
    assert await bus.drain() == 0  # nothing left


async def test_rollback_publishes_nothing(sides: tuple[Side, Side]) -> None:
    producer, consumer = sides
    bus, _ = make_bus(producer, consumer, Faults())
    await write_note(producer, "child-2", "never", commit=False)
    assert await count_rows(producer, producer.tables.outbox) == 0
    assert await bus.drain() == 0
    assert await tally(consumer, "child-2") == 0


async def test_redelivery_changes_nothing(sides: tuple[Side, Side]) -> None:
    producer, consumer = sides
    faults = Faults()
    bus, _ = make_bus(producer, consumer, faults)
    await write_note(producer, "child-3", "once")
    await bus.drain()
    # As if the process died after delivering but before marking: the row is pending again.
    async with producer.engine.begin() as conn:
        await conn.execute(update(producer.tables.outbox).values(published_at=None))
    assert await bus.drain() == 1
    assert faults.calls == 1  # the inbox stopped the second delivery before the handler ran
    assert await tally(consumer, "child-3") == 1


async def test_poison_is_dead_lettered_consumer_carries_on_and_replay_applies_it(
    sides: tuple[Side, Side],
) -> None:
    producer, consumer = sides
    faults = Faults(poison_texts={"poison"})
    bus, subscriber = make_bus(producer, consumer, faults)
    await write_note(producer, "child-4", "poison")
    await write_note(producer, "child-4", "fine")
    assert await bus.drain() == 2
    assert await tally(consumer, "child-4") == 1
    dead = consumer.tables.dead_letters
    assert await count_rows(consumer, dead, dead.c.reason == "permanent") == 1

    faults.poison_texts.clear()
    assert await replay_embedded_dead_letters(subscriber) == {
        "replayed": 1,
        "duplicates": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert await tally(consumer, "child-4") == 2
    assert await replay_embedded_dead_letters(subscriber) == {
        "replayed": 0,
        "duplicates": 0,
        "skipped": 0,
        "failed": 0,
    }


@pytest.mark.parametrize("kill_after", [1, 5, 13])
def test_process_killed_mid_delivery_loses_and_doubles_nothing(tmp_path: Path, kill_after: int) -> None:
    script = Path(__file__).with_name("embedded_process.py")
    notes = 20
    killed = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(notes), str(kill_after)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr  # SIGKILL, mid-way
    finished = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(notes), "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr

    import asyncio

    async def check() -> None:
        producer = producer_side(f"sqlite+aiosqlite:///{tmp_path / 'producer.db'}")
        first = consumer_side(f"sqlite+aiosqlite:///{tmp_path / 'first.db'}")
        second = consumer_side(f"sqlite+aiosqlite:///{tmp_path / 'second.db'}")
        try:
            outbox = producer.tables.outbox
            assert await count_rows(producer, outbox) == notes
            assert await count_rows(producer, outbox, outbox.c.published_at.is_(None)) == 0
            for side in (first, second):
                totals = [await tally(side, f"child-{c}") for c in range(7)]
                assert sum(totals) == notes  # every note once: none lost, none doubled
                assert totals == [len(range(c, notes, 7)) for c in range(7)]
                assert await count_rows(side, side.tables.inbox) == notes
        finally:
            for side in (producer, first, second):
                await side.engine.dispose()

    asyncio.run(check())
