"""A county day of AttendanceRecorded consumed from real Kafka into attendance positions.

    Kafka (inclusion.attendance) --> enforcement worker (consumer group enforcement.positions,
    batch handler, inbox) --> PostgreSQL: marks, weeks, terms, year positions, PA crossings

One AttendanceRecorded per pupil (AM and PM marks, a realistic code mix), as referral-api publishes
a school's register, produced to a fresh topic first (timed apart). Then enforcement's real worker
(``EnforcementKernel.run_worker``: the kit's consume loop with enforcement's dispatcher) consumes
them from the beginning; the clock stops when the group's committed offsets reach the end.
Printed: events/s and marks/s, the consumer lag at the end, and beside them, measured in the same
run on the same machine:

- raw aiokafka consume of the same records (no database): the transport's limit;
- referral-api's ingest figure in marks/s (``--ingest-marks-per-s``, measured by
  ``bench/attendance_ingest.py``): the goal is to keep up with it (ratio >= 1).

    python bench/attendance_positions.py                          # the county day (600 schools)
    python bench/attendance_positions.py --schools 4 --pupils 400 # smoke
    python bench/attendance_positions.py --workers 3 --partitions 12  # as deployed: replicas share
                                                                      # the topic's partitions

With ``--workers N`` above 1, N worker processes (each a whole ``EnforcementKernel.run_worker``, as
the deployment's replicas are) share the consumer group; the clock starts once every process has
imported and wired itself, so the group's joins and rebalances are inside the measured time.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime

from aiokafka import TopicPartition
from sqlalchemy import func, select

from enforcement.adapters.orm import attendance_marks, attendance_positions
from enforcement.bootstrap import bootstrap
from enforcement.config import Settings
from enforcement.service_layer.handlers import POSITIONS_CONSUMER
from inclusion_kit.calendar import load_calendar, london_today
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.contracts.events.attendance import AttendanceRecorded, Mark, Session
from inclusion_kit.contracts.events.common import Phase, SchoolRef
from inclusion_kit.messaging.kafka import ensure_topics, make_consumer, make_producer
from inclusion_kit.pupils import upn_check_letter
from inclusion_kit.settings import KafkaSettings
from inclusion_kit.testing import infra

DISTRICTS = [
    "Ashford",
    "Canterbury",
    "Dartford",
    "Dover",
    "Folkestone and Hythe",
    "Gravesham",
    "Maidstone",
    "Sevenoaks",
    "Swale",
    "Thanet",
    "Tonbridge and Malling",
    "Tunbridge Wells",
]
# As bench/attendance_ingest.py: about 93% present; the usual absence and lateness codes (2024).
CODE_MIX = [
    ("/", 930),
    ("L", 15),
    ("I", 25),
    ("M", 5),
    ("N", 6),
    ("O", 6),
    ("G", 4),
    ("U", 3),
    ("B", 3),
    ("C", 3),
]


def school_day(today: date) -> date:
    calendar = load_calendar("886")
    day = today
    while not calendar.is_school_day(day):
        day = date.fromordinal(day.toordinal() - 1)
    return day


def county_day(schools: int, pupils: int, day: date) -> list[Envelope]:
    """One AttendanceRecorded per pupil, school by school (as referral-api emits a register)."""
    rng = random.Random(886)
    codes, weights = zip(*CODE_MIX, strict=True)
    per_school = max(1, pupils // schools)
    now = datetime.now(UTC)
    envelopes = []
    serial = 0
    for s in range(schools):
        school = SchoolRef(
            urn=f"{118000 + s:06d}",
            laestab=f"886{2000 + s:04d}",
            la_code="886",
            phase=Phase.PRIMARY if s % 4 else Phase.SECONDARY,
            district=DISTRICTS[s % 12],
        )
        submission = f"s-{uuid.uuid4().hex[:16]}"
        for p in range(per_school):
            serial += 1
            body = f"886{2000 + s:04d}{25 + p // 1000:02d}{p % 1000:03d}"
            child_ref = f"c-{serial:016x}"
            marks = []
            for session in ("AM", "PM"):
                code = rng.choices(codes, weights)[0]
                if code == "/" and session == "PM":
                    code = "\\"
                marks.append(
                    Mark(
                        date=day,
                        session=Session(session),
                        code=code,
                        regime="2024",
                        minutes_late=rng.randint(1, 25) if code == "L" else None,
                    )
                )
            event = AttendanceRecorded(
                child_ref=child_ref,
                aggregate_id=f"{school.urn}/{child_ref}",
                aggregate_version=1,
                occurred_at=now,
                submission_id=submission,
                school=school,
                upn=upn_check_letter(body) + body,
                marks=marks,
            )
            envelopes.append(Envelope.wrap(event, source="inclusion/referral-api"))
    return envelopes


async def produce(kafka: KafkaSettings, topic: str, envelopes: list[Envelope]) -> float:
    producer = make_producer(kafka, client_id="bench-positions-producer")
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=e.data, key=e.key.encode(), headers=e.kafka_headers())
            for e in envelopes
        ]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def raw_consume(kafka: KafkaSettings, topic: str, expected: int) -> float:
    """aiokafka alone: read every record of the topic and commit, no parsing, no database."""
    consumer = make_consumer(
        kafka,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        client_id="bench-raw",
        topics=[topic],
        max_poll_records=2000,
    )
    await consumer.start()
    try:
        started = time.perf_counter()
        received = 0
        while received < expected:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            offsets = {}
            for tp, records in batches.items():
                received += len(records)
                offsets[tp] = records[-1].offset + 1
            if offsets:
                await consumer.commit(offsets)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def lag(kafka: KafkaSettings, topic: str, group: str) -> tuple[int, int]:
    """(records not yet committed by ``group``, end of the topic)."""
    consumer = make_consumer(kafka, group_id=group, client_id="bench-lag")
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        for _ in range(20):
            if parts:
                break
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        ends = await consumer.end_offsets(tps)
        behind = 0
        for tp in tps:
            behind += ends[tp] - (await consumer.committed(tp) or 0)
        return behind, sum(ends.values())
    finally:
        await consumer.stop()


def worker_process(
    database_url: str,
    kafka: KafkaSettings,
    batch: int,
    ready: multiprocessing.synchronize.Event,
    go: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
) -> None:
    """One replica: enforcement's worker in its own process until ``stop`` is set."""
    logging.basicConfig(level=logging.WARNING)

    async def run() -> None:
        settings = Settings(
            database_url=database_url,
            bus="kafka",
            mode="test",
            kafka=kafka,
            log_level="WARNING",
            consumer={"batch_max_records": batch},
        )
        kernel = bootstrap(settings)
        try:
            await kernel.check_schema()
            ready.set()
            await asyncio.to_thread(go.wait)
            stopping = asyncio.Event()
            worker = asyncio.create_task(kernel.run_worker(stopping))
            await asyncio.to_thread(stop.wait)
            stopping.set()
            await worker
        finally:
            await kernel.dispose()

    asyncio.run(run())


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=600)
    parser.add_argument("--pupils", type=int, default=240_000)
    parser.add_argument(
        "--ingest-marks-per-s",
        type=float,
        default=36_092.0,
        help="referral-api's ingest figure to compare with: the county day's evented marks/s from "
        "bench/attendance_ingest.py --api-workers 2 --concurrency 4 on this machine (quiet, 2026-12-07)",
    )
    parser.add_argument("--batch", type=int, default=2000, help="records per consumer transaction")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the consumer group (1: in this one)"
    )
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the attendance topic")
    args = parser.parse_args()
    bootstrap_servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    admin = os.environ.get("INCLUSION_POSTGRES_URL")
    if not bootstrap_servers or not admin:
        print(f"attendance_positions.py needs real infrastructure: {infra.HOW_TO_START}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    name = await infra.create_database(admin, "bench")
    prefix = f"bench-positions-{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(bootstrap_servers=bootstrap_servers, topic_prefix=prefix, linger_ms=20)
    topic = prefix + "inclusion.attendance"
    settings = Settings(
        database_url=infra.database_url(admin, name),
        bus="kafka",
        mode="test",
        kafka=kafka,
        log_level="WARNING",
        consumer={"batch_max_records": args.batch},
    )
    kernel = bootstrap(settings)
    try:
        await kernel.migrate()
        await ensure_topics(kafka, [topic], partitions=args.partitions)
        day = school_day(london_today())
        t0 = time.perf_counter()
        envelopes = county_day(args.schools, args.pupils, day)
        built_s = time.perf_counter() - t0
        events = len(envelopes)
        marks = 2 * events
        produce_s = await produce(kafka, topic, envelopes)
        del envelopes
        raw_s = await raw_consume(kafka, topic, events)

        group = prefix + POSITIONS_CONSUMER
        processes: list[multiprocessing.process.BaseProcess] = []
        spawn = multiprocessing.get_context("spawn")
        ready = [spawn.Event() for _ in range(args.workers)]
        go, stop_all = spawn.Event(), spawn.Event()
        if args.workers > 1:
            for i in range(args.workers):
                process = spawn.Process(
                    target=worker_process,
                    args=(settings.database_url, kafka, args.batch, ready[i], go, stop_all),
                    name=f"enforcement-worker-{i}",
                )
                process.start()
                processes.append(process)
            for event in ready:
                while not await asyncio.to_thread(event.wait, 1.0):
                    if any(not p.is_alive() for p in processes):
                        raise SystemExit("a worker process stopped before it was ready")
        stop = asyncio.Event()
        try:
            started = time.perf_counter()
            if processes:
                go.set()
                worker = asyncio.create_task(asyncio.sleep(float("inf")))
            else:
                worker = asyncio.create_task(kernel.run_worker(stop))
            behind, end = events, events
            while True:
                await asyncio.sleep(0.5)
                if worker.done():
                    worker.result()  # raises what stopped it
                    raise SystemExit("the worker stopped before the topic was consumed")
                if any(not p.is_alive() for p in processes):
                    raise SystemExit("a worker process stopped before the topic was consumed")
                behind, end = await lag(kafka, topic, group)
                if end >= events and behind == 0:
                    break
            consumed_s = time.perf_counter() - started
        finally:
            stop.set()
            stop_all.set()
            go.set()
            if processes:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)
                for process in processes:
                    await asyncio.to_thread(process.join, 60)
            else:
                await worker
        if any(p.exitcode != 0 for p in processes):
            raise SystemExit(f"worker processes exited with {[p.exitcode for p in processes]}")
        async with kernel.engine.connect() as conn:
            stored = int(await conn.scalar(select(func.count()).select_from(attendance_marks)) or 0)
            positions = int(await conn.scalar(select(func.count()).select_from(attendance_positions)) or 0)
            possible = int(await conn.scalar(select(func.sum(attendance_positions.c.possible))) or 0)

        events_s = events / consumed_s
        marks_s = marks / consumed_s
        raw_events_s = events / raw_s
        print(
            f"attendance positions: {args.schools} schools, {events} pupils (one AttendanceRecorded each), "
            f"{marks} marks on {day}; consumer batch {args.batch}; "
            f"{args.workers} worker process(es) on {args.partitions} partitions; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(
            f"  events built in {built_s:.1f} s; produced to Kafka in {produce_s:.1f} s "
            f"({events / produce_s:,.0f}/s)"
        )
        print(
            f"  enforcement worker: {events} events consumed into positions in {consumed_s:.1f} s = "
            f"{events_s:,.0f} events/s, {marks_s:,.0f} marks/s"
        )
        print(f"  stored: {stored} marks, {positions} positions, {possible} possible sessions")
        print(f"  consumer lag at the end: {behind} records (topic end {end})")
        print(
            f"  raw aiokafka consume of the same records: {raw_events_s:,.0f} events/s; "
            f"ratio positions/raw {events_s / raw_events_s:.2f}"
        )
        print(
            f"  referral-api ingest figure: {args.ingest_marks_per_s:,.0f} marks/s; ratio positions/ingest "
            f"{marks_s / args.ingest_marks_per_s:.2f} (goal >= 1: keeps up)"
        )
        return 0
    finally:
        await kernel.dispose()
        await infra.drop_database(admin, name)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
