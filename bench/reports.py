"""Reporting over a county's academic year, beside the limits measured in the same run.

    seeded year (COPY) --> reporting's active generation (PostgreSQL)
    a county day of AttendanceRecorded on Kafka --> `reporting worker`'s consumer --> projections
    the same topic from the start --> `reporting rebuild` into a fresh generation

Printed:

- p50 / p95 of the indicator board and of the district breakdowns (attendance, exclusions, CME,
  enforcement) through the API in-process, beside the framework's empty endpoint (/healthz);
- live projection throughput of a county day of marks (one AttendanceRecorded of two marks per
  pupil), beside a raw aiokafka consume of the same records and beside referral-api's ingest
  figure (36,092 marks/s evented: ``bench/attendance_ingest.py --api-workers 2 --concurrency 4``
  on the 2-core development machine, quiet, 2026-12-07; pass --ingest-marks-per-s to compare with
  another run);
- the rebuild rate in events per second.

Goals: board and district breakdowns p95 <= 100 ms with the year loaded (240,000 pupils); the
projection keeps up with the ingest (ratio >= 1).

    python bench/reports.py                                   # the county: 600 schools, 240,000 pupils
    python bench/reports.py --schools 10 --pupils 2000 --requests 20    # CI smoke
    python bench/reports.py --workers 3 --partitions 12   # as deployed: replicas share the topic's
                                                          # partitions

With ``--workers N`` above 1, the county day is projected by N worker processes (each a whole
``reporting worker``: ``bootstrap(settings)`` then ``run_worker``, as the deployment's replicas
are) on the same database and topic prefix, sharing the consumer group. None consumes until every
one has imported and wired itself; the group's joins and rebalances after the first batch are then
inside the measured time. ``--partitions`` is the attendance topic's partition count (the other
topics keep 3, as before).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import multiprocessing.synchronize
import os
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.calendar import AcademicYear, load_calendar
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.contracts.events.attendance import AttendanceRecorded
from inclusion_kit.messaging.kafka import KafkaPublisher, ensure_topics, make_producer
from inclusion_kit.pupils import upn_check_letter
from inclusion_kit.settings import KafkaSettings
from inclusion_kit.testing import infra
from inclusion_kit.testing.fakes import FrozenClock
from reporting.adapters.orm import COUNTERS, projection_tables
from reporting.adapters.repository import ACTIVE, Generations
from reporting.bootstrap import bootstrap
from reporting.config import Settings
from reporting.entrypoints.api.app import create_app
from reporting.entrypoints.rebuild import run_rebuild

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
PHASES = ["primary"] * 15 + ["secondary"] * 4 + ["special"] + ["pru"]
YEAR = AcademicYear(2025)
# referral-api's ingest figure, evented marks/s: `bench/attendance_ingest.py --api-workers 2
# --concurrency 4` on the 2-core development machine, quiet, 2026-12-07.
INGEST_MARKS_PER_S = 36_092.0
POLL_SECONDS = 0.25
CALENDAR = load_calendar("886")


def upn(n: int) -> str:
    body = f"886{n // 1000:04d}25{n % 1000:03d}"
    return upn_check_letter(body) + body


def _rate(rng: random.Random) -> float:
    draw = rng.random()
    if draw < 0.75:
        return rng.uniform(0, 0.08)
    if draw < 0.95:
        return rng.uniform(0.08, 0.25)
    return rng.uniform(0.25, 0.7)


async def seed(db: str, generation: int, schools: int, pupils: int) -> dict[str, Any]:
    """A year of read models for the county by COPY (not timed)."""
    conn = await asyncpg.connect(db.replace("postgresql+asyncpg", "postgresql"))
    schema = f"reporting_g{generation}"
    rng = random.Random(886)
    halves = CALENDAR.half_terms(YEAR)
    terms = CALENDAR.terms(YEAR)
    sessions = [2 * CALENDAR.count_school_days(h.start, h.end) for h in halves]
    school_rows, enrol_rows, fsm_rows, ae_rows = [], [], [], []
    per_school = max(1, pupils // schools)
    totals: dict[tuple[str, str], list[int]] = {}
    serial = 0
    for s in range(schools):
        urn = f"{200000 + s:06d}"
        school_rows.append((urn, "886", f"School {s}", PHASES[s % len(PHASES)], DISTRICTS[s % 12]))
        for _ in range(per_school):
            serial += 1
            pupil = upn(serial)
            enrol_rows.append(
                (
                    urn,
                    pupil,
                    f"c-{serial:016x}",
                    str(rng.randint(1, 11)),
                    date(2025, 9, 1),
                    None,
                    rng.choice("NNNNNNNNKE"),
                    rng.random() < 0.01,
                    rng.random() < 0.03,
                    rng.random() < 0.01,
                    "WROM" if rng.random() < 0.01 else "WBRI",
                    False,
                    1,
                )
            )
            if rng.random() < 0.22:
                fsm_rows.append((urn, pupil, date(2024, 9, 1), None))
            rate = _rate(rng)
            per_half = []
            for possible in sessions:
                absent = min(possible, round(possible * rate * rng.uniform(0.5, 1.5)))
                authorised = round(absent * 0.7)
                aea = 1 if possible - absent > 0 and rng.random() < 0.3 else 0
                per_half.append([possible - absent - aea, aea, authorised, absent - authorised, 0, 0, 0])
            periods = {f"{YEAR.label}:{h.name}": per_half[i] for i, h in enumerate(halves)}
            for t_index, term in enumerate(terms):
                periods[f"{YEAR.label}:{term.name}"] = [
                    a + b for a, b in zip(per_half[2 * t_index], per_half[2 * t_index + 1], strict=True)
                ]
            periods[YEAR.label] = [sum(col) for col in zip(*per_half, strict=True)]
            for key, c in periods.items():
                ae_rows.append((urn, pupil, key, *c))
                possible = c[0] + c[1] + c[2] + c[3]
                absent = c[2] + c[3]
                row = totals.setdefault((urn, key), [0] * (len(COUNTERS) + 3))
                for i, value in enumerate(c):
                    row[i] += value
                row[7] += int(possible > 0)
                row[8] += int(possible > 0 and absent * 10 >= possible)
                row[9] += int(possible > 0 and absent * 2 >= possible)
    await conn.copy_records_to_table(
        "schools",
        schema_name=schema,
        records=school_rows,
        columns=["urn", "la_code", "name", "phase", "district"],
    )
    await conn.copy_records_to_table(
        "enrolments",
        schema_name=schema,
        records=enrol_rows,
        columns=[
            "school_urn",
            "upn",
            "child_ref",
            "year_group",
            "on_roll_from",
            "on_roll_until",
            "sen_provision",
            "looked_after",
            "child_in_need",
            "child_protection_plan",
            "ethnicity",
            "grt",
            "version",
        ],
    )
    await conn.copy_records_to_table(
        "fsm_periods", schema_name=schema, records=fsm_rows, columns=["school_urn", "upn", "start", "end"]
    )
    await conn.copy_records_to_table(
        "attendance_enrolment",
        schema_name=schema,
        records=ae_rows,
        columns=["school_urn", "upn", "period", *COUNTERS],
    )
    await conn.copy_records_to_table(
        "attendance_school",
        schema_name=schema,
        records=[(u, p, *v) for (u, p), v in totals.items()],
        columns=["school_urn", "period", *COUNTERS, "enrolments", "persistent", "severe"],
    )
    # Exclusions (about 5 suspensions and 0.04 permanent exclusions per 100 pupils), CME, EHE and
    # enforcement at the county's yearly volumes, scaled to the pupils.
    scale = pupils / 240_000
    exclusions = []
    for i in range(int(12_000 * scale) + int(100 * scale) + 1):
        permanent = i < int(100 * scale) + 1
        urn = school_rows[rng.randrange(len(school_rows))][0]
        start = date(2025, 9, 8) + timedelta(days=rng.randrange(300))
        exclusions.append(
            (
                f"ex-{i:016x}",
                f"c-{rng.randrange(1, serial + 1):016x}",
                urn,
                "permanent" if permanent else "suspension",
                start,
                YEAR.label,
                0.0 if permanent else 1.0,
                rng.choice(["PA", "VA", "DB", "PP,VA"]),
                rng.random() < 0.45,
                rng.choice("NNNKE"),
                rng.random() < 0.07,
                False,
                False,
                None,
                start + timedelta(days=7) if permanent else None,
                rng.random() < 0.7 if permanent else None,
                None,
                1,
            )
        )
    await conn.copy_records_to_table(
        "exclusions",
        schema_name=schema,
        records=exclusions,
        columns=[
            "exclusion_id",
            "child_ref",
            "school_urn",
            "kind",
            "start_date",
            "academic_year",
            "days",
            "reason_codes",
            "fsm",
            "sen_provision",
            "ehc_plan",
            "looked_after",
            "child_in_need",
            "withdrawn_on",
            "provision_due",
            "provision_on_time",
            "provision_missed",
            "version",
        ],
    )
    cases = []
    for i in range(int(1_500 * scale) + 1):
        opened = date(2025, 9, 3) + timedelta(days=rng.randrange(300))
        located = rng.choice([3, 5, 9, 13, 20, None])
        cases.append(
            (
                f"cme-{i:016x}",
                f"c-{i:016x}",
                DISTRICTS[i % 12],
                opened,
                opened + timedelta(days=located) if located is not None else None,
                located,
                opened + timedelta(days=25) if located is not None and rng.random() < 0.6 else None,
                None,
                rng.random() < 0.6 if located is not None else None,
                None,
                None,
                rng.randrange(2),
            )
        )
    await conn.copy_records_to_table(
        "cme_cases",
        schema_name=schema,
        records=cases,
        columns=[
            "case_id",
            "child_ref",
            "district",
            "opened_on",
            "located_on",
            "days_to_located",
            "placed_on",
            "days_to_placed",
            "placed_within_target",
            "closed_on",
            "outcome",
            "reviews_overdue",
        ],
    )
    notices = []
    for i in range(int(3_000 * scale) + 1):
        issued = date(2025, 9, 15) + timedelta(days=rng.randrange(280))
        notices.append(
            (
                f"pn-{i:016x}",
                f"c-{i:016x}",
                f"pr-{i:016x}",
                school_rows[i % len(school_rows)][0],
                issued,
                True,
                issued + timedelta(days=14) if rng.random() < 0.6 else None,
                8000,
                "reduced",
                None,
                None,
            )
        )
    await conn.copy_records_to_table(
        "penalty_notices",
        schema_name=schema,
        records=notices,
        columns=[
            "notice_id",
            "child_ref",
            "request_id",
            "school_urn",
            "issued_on",
            "issued_within_target",
            "paid_on",
            "amount_pence",
            "rate",
            "withdrawn_on",
            "withdrawal_ground",
        ],
    )
    await conn.execute("ANALYZE")
    await conn.close()
    return {
        "enrolments": len(enrol_rows),
        "attendance rows": len(ae_rows),
        "exclusions": len(exclusions),
        "cme cases": len(cases),
        "notices": len(notices),
        "schools": school_rows,
        "serial": serial,
    }


def county_day(schools: list[Any], per_school: int) -> list[Envelope]:
    """One AttendanceRecorded (AM and PM) per pupil for a school day of the seeded year."""
    day = CALENDAR.school_day_on_or_after(date(2026, 3, 2))
    rng = random.Random(11)
    now = datetime.now(UTC)
    events = []
    serial = 0
    for urn, _la, _name, phase, district in schools:
        ref = {"urn": urn, "la_code": "886", "phase": phase, "district": district}
        for _ in range(per_school):
            serial += 1
            codes = ["/", "\\"] if rng.random() < 0.93 else [rng.choice("INOGM"), rng.choice("INOGM\\")]
            events.append(
                Envelope.wrap(
                    AttendanceRecorded(
                        child_ref=f"c-{serial:016x}",
                        aggregate_id=f"{urn}/c-{serial:016x}",
                        aggregate_version=2,
                        occurred_at=now,
                        submission_id=f"s-{urn}",
                        school=ref,
                        upn=upn(serial),
                        marks=[
                            {"date": day, "session": "AM", "code": codes[0], "regime": "2024"},
                            {"date": day, "session": "PM", "code": codes[1], "regime": "2024"},
                        ],
                    ),
                    source="inclusion/referral-api",
                    event_id=str(uuid.uuid4()),
                )
            )
    return events


async def latency(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, params: dict[str, str], n: int
) -> tuple[float, float]:
    for _ in range(max(3, n // 10)):
        assert (await client.get(path, params=params, headers=headers)).status_code == 200
    times = []
    for _ in range(n):
        t = time.perf_counter()
        response = await client.get(path, params=params, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.text
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


async def applied_count(kernel: Any, generation: int) -> int:
    table = projection_tables(generation, "postgresql").applied
    async with kernel.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def raw_consume(kafka: KafkaSettings, topic: str, expected: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=f"raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            seen += sum(len(b) for b in batches.values())
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def worker_settings(url: str, kafka: KafkaSettings) -> Settings:
    # The API rate limit (600/min by default) would turn the timed loops into 429s.
    return Settings(
        database_url=url, bus="kafka", kafka=kafka, log_level="WARNING", http={"rate_limit_per_minute": 10**9}
    )


def worker_process(
    url: str,
    kafka: KafkaSettings,
    ready: multiprocessing.synchronize.Event,
    go: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
) -> None:
    """One replica: reporting's worker in its own process, from ``go`` until ``stop`` is set."""
    logging.basicConfig(level=logging.WARNING)

    async def run() -> None:
        kernel = bootstrap(worker_settings(url, kafka))
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


async def main(args: argparse.Namespace) -> None:
    admin = infra.postgres_server().__enter__()
    database = await infra.create_database(admin, prefix="bench_reports")
    url = infra.database_url(admin, database)
    kafka = KafkaSettings(
        bootstrap_servers=infra.kafka_server().__enter__(), topic_prefix=f"bench-{uuid.uuid4().hex[:8]}."
    )
    settings = worker_settings(url, kafka)
    kernel = bootstrap(settings)
    try:
        await kernel.migrate()
        async with kernel.uow() as uow:
            generation = await Generations(uow.session).create(source="bench", status=ACTIVE)
            await uow.commit()
        t = time.perf_counter()
        seeded = await seed(url, generation, args.schools, args.pupils)
        print(
            f"seeded a year: {seeded['enrolments']:,} enrolments, "
            f"{seeded['attendance rows']:,} attendance rows, {seeded['exclusions']:,} exclusions, "
            f"{seeded['cme cases']:,} CME cases, {seeded['notices']:,} notices "
            f"in {time.perf_counter() - t:.1f} s (not timed below)"
        )

        # --- reads ---------------------------------------------------------------------------
        app = create_app(settings, clock=FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))
        headers = {
            "Authorization": "Bearer " + mint_token(settings.auth, subject="bench", roles=[Role.MANAGER])
        }
        year = {"academic_year": YEAR.label}
        print(f"\nreads through the API in-process, {args.requests} requests each (ms):")
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://b"
            ) as client:
                empty = await latency(client, {}, "/healthz", {}, args.requests)
                print(
                    f"  {'empty endpoint /healthz (raw limit)':<44} p50 {empty[0]:6.1f}  p95 {empty[1]:6.1f}"
                )
                for label, path, params in [
                    ("indicator board (9 indicators + 2 years' trend)", "/reports/indicators", year),
                    ("attendance by district", "/reports/attendance", {**year, "by": "district"}),
                    ("exclusions by district", "/reports/exclusions", {**year, "by": "district"}),
                    ("CME and EHE by district", "/reports/cme", {**year, "by": "district"}),
                    ("enforcement by district", "/reports/enforcement", {**year, "by": "district"}),
                    (
                        "attendance by pupil group (not a goal)",
                        "/reports/attendance",
                        {**year, "by": "group"},
                    ),
                ]:
                    count = args.requests if "not a goal" not in label else max(5, args.requests // 20)
                    p50, p95 = await latency(client, headers, path, params, count)
                    goal = "" if "not a goal" in label else ("  ok" if p95 <= 100 else "  over 100 ms")
                    print(f"  {label:<44} p50 {p50:6.1f}  p95 {p95:6.1f}{goal}")

        # --- live projection of a county day -------------------------------------------------
        events = county_day(seeded["schools"], max(1, args.pupils // args.schools))
        marks = 2 * len(events)
        topic = kafka.topic_prefix + "inclusion.attendance"
        await ensure_topics(kafka, [topic], partitions=args.partitions)
        await ensure_topics(
            kafka,
            [
                kafka.topic_prefix + t
                for t in (
                    "inclusion.referrals",
                    "inclusion.cme",
                    "inclusion.exclusions",
                    "inclusion.enforcement",
                )
            ],
        )
        producer = make_producer(kafka, client_id="bench")
        await producer.start()
        publisher = KafkaPublisher(producer, kafka.topic_prefix)
        assert not any(await publisher.publish_batch(events[:1]))
        t = time.perf_counter()
        for start in range(1, len(events), 5000):
            assert not any(await publisher.publish_batch(events[start : start + 5000]))
        produced = len(events) / (time.perf_counter() - t)
        await producer.stop()
        # The worker has none of these in memory: drop them before it starts.
        target = len(events)
        del events
        raw = await raw_consume(kafka, topic, target)
        # The consumer joins its group first (one event, applied), then the day is counted from
        # its first record applied to its last (the topic already holds it). With --workers above
        # 1 the processes wire themselves first and start together; their joins and rebalances
        # after the first event are inside the measured time.
        processes: list[multiprocessing.process.BaseProcess] = []
        spawn = multiprocessing.get_context("spawn")
        ready = [spawn.Event() for _ in range(args.workers)]
        go, stop_all = spawn.Event(), spawn.Event()
        stop = asyncio.Event()
        worker: asyncio.Task[Any] | None = None
        first: float | None = None
        base, now = 0, 0.0

        def check_workers() -> None:
            if worker is not None and worker.done():
                worker.result()  # raises what stopped it
                raise SystemExit("the worker stopped before the day was projected")
            if any(not p.is_alive() for p in processes):
                raise SystemExit("a worker process stopped before the day was projected")

        try:
            if args.workers > 1:
                for i in range(args.workers):
                    process = spawn.Process(
                        target=worker_process,
                        args=(url, kafka, ready[i], go, stop_all),
                        name=f"reporting-worker-{i}",
                    )
                    process.start()
                    processes.append(process)
                for event in ready:
                    while not await asyncio.to_thread(event.wait, 1.0):
                        check_workers()
                go.set()
            else:
                worker = asyncio.create_task(kernel.run_worker(stop))
            while await applied_count(kernel, generation) < 1:
                check_workers()
                await asyncio.sleep(0.05)
            while True:
                count = await applied_count(kernel, generation)
                now = time.perf_counter()
                if first is None and count > 1:
                    first, base = now, count
                if count >= target:
                    break
                check_workers()
                # Each poll counts the ledger (a scan of up to 240,000 rows, some 20 ms of the
                # database's time, on a machine of two cores): every 0.25 s, not every 0.05 s. The
                # end is seen up to a poll late, so the rate printed errs low.
                await asyncio.sleep(POLL_SECONDS)
        finally:
            stop.set()
            stop_all.set()
            go.set()
            if worker is not None:
                await asyncio.wait_for(worker, 60)
            for p in processes:
                await asyncio.to_thread(p.join, 60)
                if p.is_alive():
                    p.kill()
        if any(p.exitcode != 0 for p in processes):
            raise SystemExit(f"worker processes exited with {[p.exitcode for p in processes]}")
        assert first is not None
        seconds = now - first
        rate_events = (target - base) / seconds if seconds > 0 else float("nan")
        rate_marks = 2 * rate_events
        ingest = args.ingest_marks_per_s
        print(
            f"\nlive projection of a county day ({target:,} AttendanceRecorded, {marks:,} marks, "
            f"topic filled first; the clock runs from the first batch applied to the last; "
            f"up to {settings.consumer.batch_max_records:,} events a transaction; "
            f"{args.workers} worker process(es){' (in this one)' if args.workers == 1 else ''} "
            f"on {args.partitions} partitions; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}):"
        )
        if seconds > 0:
            print(f"  projected        {rate_events:10,.0f} events/s = {rate_marks:,.0f} marks/s")
            print(
                f"  raw consume      {raw:10,.0f} records/s (aiokafka, no processing)   "
                f"ratio {rate_events / raw:.2f}"
            )
        else:
            print(f"  projected        in one go (too few events to time; raw consume {raw:,.0f} records/s)")
        print(f"  produce (setup)  {produced:10,.0f} events/s")
        if seconds > 0:
            print(
                f"  referral-api ingest {ingest:,.0f} marks/s "
                f"({'bench/attendance_ingest.py, 2026-12-07' if ingest == INGEST_MARKS_PER_S else 'given'})"
                f"   projection / ingest = "
                f"{rate_marks / ingest:.2f} ({'keeps up' if rate_marks >= ingest else 'falls behind'})"
            )

        # --- rebuild -------------------------------------------------------------------------
        report = await run_rebuild(settings, switch=False, keep=1, outboxes=[])
        print(f"\nrebuild from the topics (not switched: the seeded year is not on the topics): {report}")
    finally:
        await kernel.dispose()
        await infra.drop_database(admin, database)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schools", type=int, default=600)
    parser.add_argument("--pupils", type=int, default=240_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--ingest-marks-per-s",
        type=float,
        default=INGEST_MARKS_PER_S,
        help="referral-api's ingest figure to compare with, evented marks/s (default: "
        "bench/attendance_ingest.py --api-workers 2 --concurrency 4 on the 2-core development "
        "machine, quiet, 2026-12-07)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the consumer group (1: in this one)"
    )
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the attendance topic")
    args = parser.parse_args()
    if args.workers < 1 or args.partitions < 1:
        parser.error("--workers and --partitions are at least 1")
    asyncio.run(main(args))
