"""An Early Help system's subscriber: what docs/early-help-subscribers.md walks through.

It depends on nothing of the platform's code - only aiokafka and jsonschema - because an Early Help
system is somebody else's software. It shows the four things every subscriber must do:

1. **Join a consumer group** of its own (``--group``), reading the topics it needs from the start
   the first time and from its committed offsets afterwards.
2. **Read CloudEvents in Kafka binary mode**: the event's type, id and time are the ``ce_type``,
   ``ce_id`` and ``ce_time`` headers; the value is the JSON payload; the key is the child's opaque
   reference (one child's events stay in order on one partition).
3. **Validate** each payload against the committed JSON Schema of its type
   (``shared/catalog/schemas/<ce_type>.json``) and **ignore types it does not know**: new event
   types and new optional fields appear without notice (they are compatible changes).
4. **Be idempotent**: delivery is at least once, so remember the ``ce_id`` of what was handled and
   skip a repeat. Commit offsets only after the work is stored.

Run it against the local broker (``eval "$(deploy/local/up.sh)"``)::

    python docs/examples/early_help_subscriber.py --bootstrap localhost:9092 --group early-help-demo

It prints one line per event of the types below and keeps going until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from aiokafka import AIOKafkaConsumer

CATALOG = Path(__file__).resolve().parents[2] / "shared" / "catalog" / "schemas"

#: The topics an Early Help system reads, and the event types it acts on.
TOPICS = ["inclusion.referrals", "inclusion.cme", "inclusion.exclusions", "inclusion.enforcement"]
WANTED = {
    # A school or agency asked for early help, or reported a child missing education.
    "inclusion.referrals.referral.received.v1",
    # A child's absence has become persistent (10%) or severe (50%): the Early Help offer.
    "inclusion.enforcement.absence.persistent-identified.v1",
    # A third suspension this year: the point to step in before a permanent exclusion.
    "inclusion.exclusions.pupil.repeat-suspension-flagged.v1",
    # A case for a child missing education was opened.
    "inclusion.cme.case.opened.v1",
}


@dataclass(frozen=True)
class Received:
    type: str
    id: str
    child_ref: str
    payload: dict[str, Any]


@dataclass
class Subscriber:
    """Validates and de-duplicates; ``handle`` is where an Early Help system does its work."""

    handle: Callable[[Received], Awaitable[None]]
    wanted: set[str] = field(default_factory=lambda: set(WANTED))
    seen: set[str] = field(default_factory=set)  # a real system keeps these in its database
    ignored: int = 0
    _validators: dict[str, jsonschema.Draft202012Validator] = field(default_factory=dict)

    def validator(self, event_type: str) -> jsonschema.Draft202012Validator:
        if event_type not in self._validators:
            schema = json.loads((CATALOG / f"{event_type}.json").read_text())
            self._validators[event_type] = jsonschema.Draft202012Validator(schema)
        return self._validators[event_type]

    async def on_record(self, key: bytes | None, value: bytes, headers: Iterable[tuple[str, bytes]]) -> None:
        meta = {name: raw.decode() for name, raw in headers}
        event_type, event_id = meta.get("ce_type", ""), meta.get("ce_id", "")
        if event_type not in self.wanted or not event_id:
            self.ignored += 1  # another type, or not a CloudEvent: not ours to judge
            return
        if event_id in self.seen:
            return  # delivered again (at least once): already handled
        payload = json.loads(value)
        self.validator(event_type).validate(payload)
        await self.handle(Received(event_type, event_id, (key or b"").decode(), payload))
        self.seen.add(event_id)


async def consume(
    bootstrap: str,
    group: str,
    subscriber: Subscriber,
    stop: asyncio.Event,
    *,
    topics: list[str] | None = None,
) -> None:
    consumer = AIOKafkaConsumer(
        *(topics or TOPICS),
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batches.values():
                for record in records:
                    await subscriber.on_record(record.key, record.value, record.headers)
            if batches:
                await consumer.commit()  # only after the batch was handled
    finally:
        await consumer.stop()


async def _print(event: Received) -> None:
    school = event.payload.get("school") or {}
    print(f"{event.type}  child {event.child_ref}  school {school.get('urn', '-')}  id {event.id}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--group", default="early-help-demo")
    parser.add_argument("--topic-prefix", default="", help="e.g. a test's or an environment's prefix")
    args = parser.parse_args()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        topics = [args.topic_prefix + t for t in TOPICS]
        await consume(args.bootstrap, args.group, Subscriber(_print), stop, topics=topics)

    asyncio.run(run())


if __name__ == "__main__":
    main()
