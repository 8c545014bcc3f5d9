"""Events per second through the whole chain, beside raw aiokafka on the same messages.

    outbox (PostgreSQL) -> relay -> Kafka -> consumer group -> handler + inbox (PostgreSQL)

against, in the same run and on the same broker:

    aiokafka idempotent producer (acks=all) -> Kafka -> aiokafka consumer (offsets committed)

The messages are the same bytes (payload, key and CloudEvents headers). The chain's clock starts
when the outbox already holds the events (the use cases' commits are timed and printed apart) and
stops when the consumer's database holds all of them. Goal: ratio >= 0.5.

    python bench/bus.py --events 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from sqlalchemy import Column, Integer, String, Table, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from inclusion_kit.contracts import Envelope, EventRegistry, IntegrationEvent
from inclusion_kit.db import KitTables, create_engine, make_metadata, session_factory
from inclusion_kit.messaging.consumer import KafkaConsumerWorker
from inclusion_kit.messaging.dispatch import BatchContext, Dispatcher, HandlerContext
from inclusion_kit.messaging.kafka import KafkaPublisher, ensure_topics, make_consumer, make_producer
from inclusion_kit.messaging.relay import OutboxRelay
from inclusion_kit.messaging.unit_of_work import UnitOfWork
from inclusion_kit.settings import KafkaSettings
from inclusion_kit.testing import infra


class BenchMarked(IntegrationEvent):
    event_type: ClassVar[str] = "inclusion.attendance.bench-mark.recorded.v1"
    school_urn: str
    sessions: int


REGISTRY = EventRegistry([BenchMarked])
CHILDREN = 5000


def make_event(i: int) -> BenchMarked:
    return BenchMarked(
        child_ref=f"child-{i % CHILDREN:05d}",
        aggregate_id=str(uuid.uuid4()),
        aggregate_version=1,
        occurred_at=datetime.now(UTC),
        school_urn=f"{118000 + i % 600}",
        sessions=i % 7,
    )


async def raw_kafka(settings: KafkaSettings, envelopes: list[Envelope], topic: str) -> float:
    producer = make_producer(settings, client_id="bench-raw")
    consumer = make_consumer(
        settings,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        client_id="bench-raw",
        topics=[topic],
        max_poll_records=2000,
    )
    await producer.start()
    await consumer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=e.data, key=e.key.encode(), headers=e.kafka_headers())
            for e in envelopes
        ]
        await asyncio.gather(*futures)
        received = 0
        while received < len(envelopes):
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for tp, records in batches.items():
                received += len(records)
                await consumer.commit({tp: records[-1].offset + 1})
        return time.perf_counter() - started
    finally:
        await consumer.stop()
        await producer.stop()


async def chain(
    settings: KafkaSettings, admin_url: str, events: list[BenchMarked], *, batched: bool
) -> dict[str, float]:
    names = [await infra.create_database(admin_url, "bench") for _ in range(2)]
    producer_engine = create_engine(infra.database_url(admin_url, names[0]))
    consumer_engine = create_engine(infra.database_url(admin_url, names[1]))
    producer_md, consumer_md = make_metadata(), make_metadata()
    producer_tables, consumer_tables = KitTables(producer_md), KitTables(consumer_md)
    counts = Table(
        "counts",
        consumer_md,
        Column("child_ref", String(64), primary_key=True),
        Column("sessions", Integer, nullable=False),
    )
    for engine, md in ((producer_engine, producer_md), (consumer_engine, consumer_md)):
        async with engine.begin() as conn:
            await conn.run_sync(md.create_all)
    kafka_producer = make_producer(settings, client_id="bench-relay")
    await kafka_producer.start()
    consumer = None
    try:
        # The use cases' commits: state + outbox rows, 100 events per unit of work.
        started = time.perf_counter()
        sessions = session_factory(producer_engine)
        for start in range(0, len(events), 100):
            async with UnitOfWork(sessions, producer_tables, "inclusion/bench") as uow:
                for event in events[start : start + 100]:
                    uow.emit(event)
                await uow.commit()
        write_seconds = time.perf_counter() - started

        consumer_sessions = session_factory(consumer_engine)

        async def on_mark(event: IntegrationEvent, ctx: HandlerContext[UnitOfWork]) -> None:
            assert isinstance(event, BenchMarked)
            session = ctx.uow.session
            changed = await session.execute(
                update(counts)
                .where(counts.c.child_ref == event.child_ref)
                .values(sessions=counts.c.sessions + event.sessions)
            )
            if not changed.rowcount:  # type: ignore[attr-defined]
                await session.execute(
                    insert(counts).values(child_ref=event.child_ref, sessions=event.sessions)
                )

        async def on_marks(batch: list[IntegrationEvent], ctx: BatchContext[UnitOfWork]) -> None:
            # The same effect as on_mark applied to each, in one statement.
            totals: dict[str, int] = {}
            for event in batch:
                assert isinstance(event, BenchMarked)
                totals[event.child_ref] = totals.get(event.child_ref, 0) + event.sessions
            stmt = pg_insert(counts)
            await ctx.uow.session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[counts.c.child_ref],
                    set_={"sessions": counts.c.sessions + stmt.excluded.sessions},
                ),
                [{"child_ref": k, "sessions": v} for k, v in totals.items()],
            )

        dispatcher = Dispatcher(
            "bench-consumer",
            REGISTRY,
            {BenchMarked.event_type: on_mark},
            lambda: UnitOfWork(consumer_sessions, consumer_tables, "inclusion/bench-consumer"),
            batch_handlers={BenchMarked.event_type: on_marks} if batched else None,
        )
        topic = settings.topic_prefix + BenchMarked.topic()
        consumer = make_consumer(
            settings,
            group_id=settings.topic_prefix + "bench-consumer",
            client_id="bench",
            topics=[topic],
            max_poll_records=1000,
        )
        await consumer.start()
        worker = KafkaConsumerWorker(
            dispatcher,
            consumer,
            kafka_producer,
            group_id="bench-consumer",
            poll_timeout_ms=100,
            topic_prefix=settings.topic_prefix,
        )
        relay = OutboxRelay(
            producer_engine,
            producer_tables,
            KafkaPublisher(kafka_producer, settings.topic_prefix),
            source="inclusion/bench",
            batch_size=1000,
            poll_interval=0.05,
        )
        stop = asyncio.Event()
        started = time.perf_counter()
        relay_task = asyncio.create_task(relay.run(stop))
        while worker.stats.applied + worker.stats.duplicates < len(events):
            await worker.run_once()
        elapsed = time.perf_counter() - started
        stop.set()
        await relay_task
        async with consumer_engine.connect() as conn:
            inbox_rows = await conn.scalar(select(func.count()).select_from(consumer_tables.inbox))
            total = await conn.scalar(select(func.sum(counts.c.sessions)))
        expected = sum(e.sessions for e in events)
        if inbox_rows != len(events) or total != expected:
            raise SystemExit(
                f"chain lost or doubled events: inbox {inbox_rows}/{len(events)}, sum {total}/{expected}"
            )
        return {
            "seconds": elapsed,
            "write_seconds": write_seconds,
            "applied": worker.stats.applied,
            "duplicates": worker.stats.duplicates,
        }
    finally:
        if consumer is not None:
            await consumer.stop()
        await kafka_producer.stop()
        await producer_engine.dispose()
        await consumer_engine.dispose()
        for name in names:
            await infra.drop_database(admin_url, name)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each measurement; the median is reported"
    )
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    admin_url = os.environ.get("INCLUSION_POSTGRES_URL")
    if not bootstrap or not admin_url:
        print(f"bus.py needs real infrastructure: {infra.HOW_TO_START}", file=sys.stderr)
        return 2
    events = [make_event(i) for i in range(args.events)]
    envelopes = [Envelope.wrap(e, source="inclusion/bench", event_id=str(uuid.uuid4())) for e in events]
    rates: dict[str, list[float]] = {"raw": [], "per-event": [], "batch": [], "commits": []}
    for _ in range(args.repeat):
        run = uuid.uuid4().hex[:8]
        raw_settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"bench-raw-{run}.")
        raw_topic = raw_settings.topic_prefix + BenchMarked.topic()
        await ensure_topics(raw_settings, [raw_topic])
        rates["raw"].append(args.events / await raw_kafka(raw_settings, envelopes, raw_topic))
        for batched in (False, True):
            prefix = f"bench-chain-{run}-{'b' if batched else 's'}."
            settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)
            topic = prefix + BenchMarked.topic()
            await ensure_topics(settings, [topic, topic + ".bench-consumer.dlt"])
            result = await chain(settings, admin_url, events, batched=batched)
            rates["batch" if batched else "per-event"].append(args.events / result["seconds"])
            if batched:
                rates["commits"].append(args.events / result["write_seconds"])

    def fmt(name: str) -> str:
        values = rates[name]
        return f"{statistics.median(values):>9,.0f} events/s (runs: {', '.join(f'{v:,.0f}' for v in values)})"

    raw = statistics.median(rates["raw"])
    print(
        f"bus benchmark: {args.events} events of {len(envelopes[0].data)} payload bytes, "
        f"{CHILDREN} children, 3 partitions, PostgreSQL on both sides, median of {args.repeat}"
    )
    print(f"  raw aiokafka produce+consume (same records): {fmt('raw')}")
    print(f"  chain with per-event handlers:              {fmt('per-event')}")
    print(f"  chain with batch handlers:                  {fmt('batch')}")
    print(f"  use-case commits (state+outbox, 100 per tx): {fmt('commits')}")
    print(
        f"  ratio chain/raw: batch handlers {statistics.median(rates['batch']) / raw:.2f}, "
        f"per-event handlers {statistics.median(rates['per-event']) / raw:.2f} (goal >= 0.5)"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(asyncio.run(main()))
