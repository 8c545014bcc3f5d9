"""Soak: register marks at the county's ingest rate for N minutes through a real `referral-api api`
and `worker`, watching memory and lag.

    schools' MIS --HTTP NDJSON--> referral-api api (PostgreSQL) --outbox--> worker relay --> Kafka

The roll is seeded by COPY (as in ``attendance_ingest.py``), then submissions - one school's
session register each, a realistic code mix, on successive school days from the calendar - are
posted at a steady rate (``--rate`` marks/s; the default is the county's morning register, 240,000
marks, arriving over half an hour). Every ``--interval`` seconds a row is printed: each process's
RSS (the process and its children, from /proc), the outbox lag (unpublished rows, age of the
oldest), the attendance topic's end offset, and the submissions' latency in the interval.

At the end, a verdict from the second half of the run (the first half is warm-up: caches,
connection pools and the allocator filling): the RSS slope of each process (MiB/min, least
squares) and the outbox lag's slope. Figures are printed, never asserted: this machine is shared.

    python bench/soak.py                                   # ten minutes, the county roll
    python bench/soak.py --minutes 0.5 --schools 20 --pupils 4000     # the short version (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attendance_ingest as ingest  # the sibling bench's seeding and process helpers

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.calendar import load_calendar, london_today
from inclusion_kit.messaging.kafka import ensure_topics
from inclusion_kit.settings import AuthSettings, KafkaSettings
from inclusion_kit.testing import infra

COUNTY_MORNING_MARKS = 240_000
REGISTER_WINDOW_SECONDS = 30 * 60


@dataclass
class Sample:
    t: float
    rss_api: float  # MiB
    rss_worker: float
    outbox_rows: int
    outbox_age: float
    topic_end: int
    submissions: int
    marks: int
    p50_ms: float
    p99_ms: float


@dataclass
class Load:
    submissions: int = 0
    marks: int = 0
    accepted: int = 0
    rejected: int = 0
    failures: int = 0
    window: list[float] = field(default_factory=list)


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its descendants (uvicorn may fork workers)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (units per second)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def school_days(today: date, count: int) -> list[date]:
    """The last ``count`` school days up to today, most recent first (from the LA's calendar)."""
    calendar = load_calendar("886")
    days: list[date] = []
    day = today
    while len(days) < count:
        if calendar.is_school_day(day):
            days.append(day)
        day = date.fromordinal(day.toordinal() - 1)
    return days


def register(upns: list[str], day: date, session: str, rng: random.Random) -> tuple[bytes, int]:
    import json

    codes, weights = zip(*ingest.CODE_MIX, strict=True)
    lines = []
    for value in upns:
        code = rng.choices(codes, weights)[0]
        mark: dict[str, Any] = {"upn": value, "date": day.isoformat(), "session": session, "code": code}
        if code == "L":
            mark["minutes_late"] = rng.randint(1, 25)
        lines.append(json.dumps(mark))
    return ("\n".join(lines) + "\n").encode(), len(lines)


async def outbox_lag(conn: asyncpg.Connection) -> tuple[int, float]:
    row = await conn.fetchrow(
        "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age "
        "FROM outbox WHERE published_at IS NULL"
    )
    assert row is not None
    return int(row["n"]), float(row["age"] or 0.0)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--schools", type=int, default=600)
    parser.add_argument("--pupils", type=int, default=240_000)
    parser.add_argument(
        "--rate",
        type=float,
        default=COUNTY_MORNING_MARKS / REGISTER_WINDOW_SECONDS,
        help="marks per second (default: 240,000 marks over 30 minutes = %(default).0f/s)",
    )
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--concurrency", type=int, default=4, help="submissions in flight at most")
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    admin = os.environ.get("INCLUSION_POSTGRES_URL")
    if not bootstrap or not admin:
        print(f"soak.py needs real infrastructure: {infra.HOW_TO_START}", file=sys.stderr)
        return 2
    name = await infra.create_database(admin, "soak")
    db_url = infra.database_url(admin, name)
    prefix = f"bench-soak-{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)
    topic = prefix + "inclusion.attendance"
    env = ingest.referral_env(db_url, bootstrap, prefix)
    processes: list[subprocess.Popen[bytes]] = []
    conn: asyncpg.Connection | None = None
    try:
        migrate = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "referral_api.entrypoints.cli", "migrate"],
            env=env,
            capture_output=True,
            check=False,
        )
        if migrate.returncode:
            raise SystemExit(migrate.stderr.decode())
        await ensure_topics(kafka, [topic, prefix + "inclusion.referrals"])
        seeding = time.perf_counter()
        roll = await ingest.seed(db_url, args.schools, args.pupils)
        pupils = sum(len(u) for _, u in roll)
        print(f"seeded {len(roll)} schools, {pupils} pupils in {time.perf_counter() - seeding:.1f} s")
        port = ingest.free_port()
        api = ingest.start("api", env, port)
        processes.append(api)
        await ingest.wait_ready(f"http://127.0.0.1:{port}", api)
        worker = ingest.start("worker", env)
        processes.append(worker)
        await ingest.wait_relay_active(db_url, worker)
        conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))

        duration = args.minutes * 60
        per_submission = pupils / max(1, len(roll))
        every = per_submission / args.rate  # seconds between submissions
        expected = int(duration / every) + 1
        # Successive (school, day, session) registers: enough distinct days that nothing repeats.
        days = school_days(london_today(), max(1, expected // (2 * len(roll)) + 2))
        work = [(urn, upns, day, session) for day in days for session in ("AM", "PM") for urn, upns in roll]
        auth = AuthSettings(jwt_secret=ingest.SECRET)  # type: ignore[arg-type]
        tokens = {
            urn: mint_token(auth, subject=f"mis-{urn}", roles=[Role.SCHOOL], urns=[urn]) for urn, _ in roll
        }
        rng = random.Random(886)
        load = Load()
        slots = asyncio.Semaphore(args.concurrency)
        print(
            f"soak: {args.minutes:g} min at {args.rate:,.0f} marks/s ({per_submission:,.0f} marks per "
            f"submission, one every {every:.2f} s), sampling every {args.interval:g} s; "
            f"api pid {api.pid}, worker pid {worker.pid}"
        )
        header = (
            f"{'t(s)':>6} {'api MiB':>8} {'worker MiB':>10} {'outbox':>7} {'oldest(s)':>9} "
            f"{'topic end':>10} {'subm':>5} {'marks':>8} {'p50 ms':>7} {'p99 ms':>7}"
        )
        print(header)
        samples: list[Sample] = []

        async def submit(client: httpx.AsyncClient, index: int) -> None:
            urn, upns, day, session = work[index % len(work)]
            body, count = register(upns, day, session, rng)
            try:
                started = time.perf_counter()
                response = await client.post(
                    f"/attendance/schools/{urn}/marks",
                    content=body,
                    headers={
                        "content-type": "application/x-ndjson",
                        "authorization": f"Bearer {tokens[urn]}",
                    },
                )
                load.window.append(time.perf_counter() - started)
                if response.status_code != 200:
                    load.failures += 1
                    return
                result = response.json()
                load.accepted += result["accepted"] + result.get("corrected", 0) + result.get("unchanged", 0)
                load.rejected += result["rejected"]
                load.submissions += 1
                load.marks += count
            except httpx.HTTPError:
                load.failures += 1
            finally:
                slots.release()

        async def sampler(topic_end: ingest.TopicEnd, begun: float, stop: asyncio.Event) -> None:
            while not stop.is_set():
                with_timeout = asyncio.create_task(stop.wait())
                await asyncio.wait({with_timeout}, timeout=args.interval)
                with_timeout.cancel()
                assert conn is not None
                rows, age = await outbox_lag(conn)
                sample = Sample(
                    t=time.monotonic() - begun,
                    rss_api=rss_mib(api.pid),
                    rss_worker=rss_mib(worker.pid),
                    outbox_rows=rows,
                    outbox_age=age,
                    topic_end=await topic_end.count(),
                    submissions=load.submissions,
                    marks=load.marks,
                    p50_ms=percentile(load.window, 0.5),
                    p99_ms=percentile(load.window, 0.99),
                )
                load.window.clear()
                samples.append(sample)
                print(
                    f"{sample.t:6.0f} {sample.rss_api:8.1f} {sample.rss_worker:10.1f} "
                    f"{sample.outbox_rows:7d} {sample.outbox_age:9.1f} {sample.topic_end:10d} "
                    f"{sample.submissions:5d} "
                    f"{sample.marks:8d} {sample.p50_ms:7.0f} {sample.p99_ms:7.0f}",
                    flush=True,
                )
                for process, label in ((api, "api"), (worker, "worker")):
                    if process.poll() is not None:
                        raise SystemExit(f"{label} exited with {process.returncode}")

        async with ingest.TopicEnd(kafka, topic) as topic_end:
            stop = asyncio.Event()
            begun = time.monotonic()
            watcher = asyncio.create_task(sampler(topic_end, begun, stop))
            pending: set[asyncio.Task[None]] = set()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                index = 0
                while (now := time.monotonic() - begun) < duration:
                    due = index * every
                    if due > now:
                        await asyncio.sleep(min(due - now, 0.5))
                        continue
                    await slots.acquire()  # at most --concurrency in flight; lateness shows as rate
                    task = asyncio.create_task(submit(client, index))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    index += 1
                    if watcher.done():
                        break
                await asyncio.gather(*pending)
            sent_for = time.monotonic() - begun
            # Drain: how long until the outbox is empty once the load stops.
            drain_started = time.monotonic()
            for _ in range(600):  # at most two minutes
                if (await outbox_lag(conn))[0] == 0:
                    break
                await asyncio.sleep(0.2)
            drained_in = time.monotonic() - drain_started
            stop.set()
            await watcher
            final_end = await topic_end.count()

        report(args, samples, load, sent_for, drained_in, final_end)
        return 0
    finally:
        if conn is not None:
            await conn.close()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        await infra.drop_database(admin, name)


def report(
    args: argparse.Namespace,
    samples: list[Sample],
    load: Load,
    sent_for: float,
    drained_in: float,
    final_end: int,
) -> None:
    print()
    print(
        f"sent {load.submissions} submissions, {load.marks:,} marks in {sent_for:.0f} s = "
        f"{load.marks / max(sent_for, 1e-9):,.0f} marks/s (target {args.rate:,.0f}); "
        f"{load.rejected} marks rejected, {load.failures} failed submissions; "
        f"{final_end:,} events on the attendance topic; outbox empty {drained_in:.1f} s after the last"
    )
    half = [s for s in samples if s.t >= samples[-1].t / 2] if samples else []
    if len(half) < 3:
        print("verdict: too few samples in the second half for a slope (run longer)")
        return
    span_min = (half[-1].t - half[0].t) / 60
    for label, values in (
        ("api", [(s.t, s.rss_api) for s in half]),
        ("worker", [(s.t, s.rss_worker) for s in half]),
    ):
        per_min = slope(values) * 60
        mean = sum(v for _, v in values) / len(values)
        growth = per_min * span_min
        flat = abs(growth) <= max(0.05 * mean, 8.0)
        print(
            f"memory {label:>6}: {values[0][1]:.1f} -> {values[-1][1]:.1f} MiB over the second half, "
            f"slope {per_min:+.2f} MiB/min ({growth:+.1f} MiB over {span_min:.1f} min): "
            f"{'flat' if flat else 'GROWING'}"
        )
    rows = [(s.t, float(s.outbox_rows)) for s in half]
    rows_per_min = slope(rows) * 60
    ages = [s.outbox_age for s in half]
    per_sample_marks = args.rate * args.interval
    flat_lag = rows_per_min * span_min <= max(per_sample_marks, 100) and max(ages) < 10 * args.interval
    print(
        f"lag: outbox {min(r for _, r in rows):.0f}..{max(r for _, r in rows):.0f} rows, oldest at most "
        f"{max(ages):.1f} s, slope {rows_per_min:+.1f} rows/min: {'flat' if flat_lag else 'GROWING'}"
    )


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
