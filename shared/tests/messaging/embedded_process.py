"""A process that writes notes and runs the embedded bus; the restart test SIGKILLs it mid-way.

Usage: python embedded_process.py <dir> <notes-to-write> <kill-after-calls|0>
Two subscribers ("first" and "second", each with its own SQLite file) consume the producer's
outbox; "second" kills the whole process on its Nth call, after "first" has committed the same
event but before the bus marked the row sent.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from chain import Faults, consumer_side, producer_side, tally_dispatcher, write_note

from inclusion_kit.messaging.embedded import EmbeddedBus, EmbeddedProducer, EmbeddedSubscriber


async def main(folder: Path, notes: int, kill_after: int) -> None:
    producer = producer_side(f"sqlite+aiosqlite:///{folder / 'producer.db'}")
    first = consumer_side(f"sqlite+aiosqlite:///{folder / 'first.db'}")
    second = consumer_side(f"sqlite+aiosqlite:///{folder / 'second.db'}")
    for side in (producer, first, second):
        await side.create()
    written_marker = folder / "written"
    if not written_marker.exists():
        for i in range(notes):
            await write_note(producer, f"child-{i % 7}", f"note {i}")
        written_marker.write_text("yes")

    second_faults = Faults()
    second_dispatcher = tally_dispatcher(second, second_faults, name="second")
    inner = second_dispatcher.handlers
    handler = next(iter(inner.values()))

    async def killing_handler(event, ctx):  # type: ignore[no-untyped-def]
        if kill_after and second_faults.calls + 1 >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        await handler(event, ctx)

    second_dispatcher.handlers = {k: killing_handler for k in inner}
    bus = EmbeddedBus(
        [EmbeddedProducer("producer", producer.engine, producer.tables)],
        [
            EmbeddedSubscriber(tally_dispatcher(first, Faults(), name="first"), first.engine, first.tables),
            EmbeddedSubscriber(second_dispatcher, second.engine, second.tables),
        ],
        batch_size=10,
    )
    await bus.drain()
    print(f"delivered {bus.delivered}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
