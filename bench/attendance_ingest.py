"""A county school day of register marks through referral-api, beside the raw limits.

    schools' MIS --HTTP NDJSON--> referral-api api (PostgreSQL) --outbox--> worker relay --> Kafka

The roll (schools, pupils) is seeded with COPY first (not timed). Then every school posts its day
(pupils x AM/PM, a realistic code mix) with some concurrency against a real `referral-api api`
process, while a real `referral-api worker` relays the outbox to Kafka. Printed:

- marks/s accepted (until the last 2xx) and evented (until every AttendanceRecorded is on Kafka);
- p50 / p99 latency of one school's submission;
- beside PostgreSQL COPY of the same mark rows and raw aiokafka produce of the same events, both
  measured in this run on the same machine, and the ratios.

Goal on the 2-core machine: the whole county day (240,000 pupils x 2 sessions, ~600 schools)
accepted and evented in <= 30 s; p99 of one ~800-mark submission <= 500 ms.

    python bench/attendance_ingest.py --schools 600 --pupils 240000        # the county day
    python bench/attendance_ingest.py --schools 10 --pupils 2000           # CI smoke
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.calendar import load_calendar, london_today
from inclusion_kit.messaging.kafka import ensure_topics, make_producer
from inclusion_kit.pupils import upn_check_letter
from inclusion_kit.settings import AuthSettings, KafkaSettings
from inclusion_kit.testing import infra

ROOT = Path(__file__).resolve().parents[1]
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
# About 93% present; the rest the usual absence and lateness codes (2024 regime).
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
SECRET = "bench-only-secret-" + "0" * 32


def upn(la: int, estab: int, serial: int) -> str:
    body = f"{la:03d}{estab:04d}{25:02d}{serial % 1000:03d}"
    return upn_check_letter(body) + body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def school_day(today: date) -> date:
    calendar = load_calendar("886")
    day = today
    while not calendar.is_school_day(day):
        day = date.fromordinal(day.toordinal() - 1)
    return day


async def seed(db_url: str, schools: int, pupils: int) -> list[tuple[str, list[str]]]:
    """Schools and their pupils on roll, by COPY; returns [(urn, [upn, ...])]."""
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
    now = datetime.now(UTC)
    roll: list[tuple[str, list[str]]] = []
    school_rows, children, on_roll = [], [], []
    per_school = max(1, pupils // schools)
    serial = 0
    for s in range(schools):
        urn = f"{118000 + s:06d}"
        estab = 2000 + s  # unique per school, so UPNs are too
        phase = "primary" if s % 4 else "secondary"
        school_rows.append(
            (urn, f"886{estab:04d}", "886", f"School {s}", phase, DISTRICTS[s % 12], True, now)
        )
        upns = []
        for p in range(per_school):
            serial += 1
            value = upn(886, estab % 10000, p)
            if p >= 1000:  # more than 1,000 pupils: vary the year digits to keep UPNs unique
                value = (
                    upn_check_letter(f"886{estab:04d}{25 + p // 1000:02d}{p % 1000:03d}")
                    + f"886{estab:04d}{25 + p // 1000:02d}{p % 1000:03d}"
                )
            ref = f"c-{serial:016x}"
            children.append((ref, value, now))
            on_roll.append((urn, ref, value, date(2025, 9, 1), None))
            upns.append(value)
        roll.append((urn, upns))
    await conn.copy_records_to_table(
        "schools",
        records=school_rows,
        columns=["urn", "laestab", "la_code", "name", "phase", "district", "is_open", "updated_at"],
    )
    await conn.copy_records_to_table("children", records=children, columns=["child_ref", "upn", "created_at"])
    await conn.copy_records_to_table(
        "roll", records=on_roll, columns=["school_urn", "child_ref", "upn", "on_roll_from", "left_on"]
    )
    await conn.execute("ANALYZE")
    await conn.close()
    return roll


def bodies(roll: list[tuple[str, list[str]]], day: date) -> list[tuple[str, bytes, int]]:
    rng = random.Random(886)
    codes, weights = zip(*CODE_MIX, strict=True)
    out = []
    for urn, upns in roll:
        lines = []
        for value in upns:
            for session in ("AM", "PM"):
                code = rng.choices(codes, weights)[0]
                mark: dict[str, Any] = {
                    "upn": value,
                    "date": day.isoformat(),
                    "session": session,
                    "code": code,
                }
                if code == "L":
                    mark["minutes_late"] = rng.randint(1, 25)
                lines.append(json.dumps(mark))
        out.append((urn, ("\n".join(lines) + "\n").encode(), len(lines)))
    return out


def start(
    command: str, env: dict[str, str], port: int | None = None, workers: int = 1
) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "referral_api.entrypoints.cli", command]
    if port is not None:
        args += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit(
                    f"api exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
                )
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("api did not become ready")


async def wait_relay_active(db_url: str, worker: subprocess.Popen[bytes]) -> None:
    """Start the clock only once the worker's relay holds its advisory lock (it is then relaying):
    the worker's start-up is not the ingest's cost."""
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for _ in range(300):
            if worker.poll() is not None:
                raise SystemExit(
                    f"worker exited: {worker.stderr.read().decode()[-2000:] if worker.stderr else ''}"
                )
            held = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            if held:
                return
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise SystemExit("the worker's relay did not become active")


class TopicEnd:
    """Events on a topic (the sum of its partitions' end offsets), from one consumer kept open:
    starting a client per check cost the measuring process more than the check."""

    def __init__(self, settings: KafkaSettings, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
        self.topic = topic
        self.partitions: list[TopicPartition] = []

    async def __aenter__(self) -> TopicEnd:
        await self.consumer.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.consumer.stop()

    async def count(self) -> int:
        if not self.partitions:
            found = self.consumer.partitions_for_topic(self.topic) or set()
            if not found:
                await self.consumer._client.force_metadata_update()
                found = self.consumer.partitions_for_topic(self.topic) or set()
            self.partitions = [TopicPartition(self.topic, p) for p in sorted(found)]
        ends = await self.consumer.end_offsets(self.partitions) if self.partitions else {}
        return int(sum(ends.values()))


async def raw_copy(db_url: str, payload: list[tuple[str, bytes, int]], day: date) -> float:
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
    await conn.execute(
        "CREATE TABLE copy_marks (school_urn varchar(6), upn varchar(13), date date, "
        "session varchar(2), child_ref varchar(64), code varchar(3), regime varchar(4), "
        "minutes_late int, previous_code varchar(3), submission_id varchar(64), "
        "updated_at timestamptz, PRIMARY KEY (school_urn, upn, date, session))"
    )
    now = datetime.now(UTC)
    records = []
    for urn, body, _ in payload:
        for line in body.splitlines():
            m = json.loads(line)
            records.append(
                (
                    urn,
                    m["upn"],
                    day,
                    m["session"],
                    "c-0",
                    m["code"],
                    "2024",
                    m.get("minutes_late"),
                    None,
                    "s-0",
                    now,
                )
            )
    started = time.perf_counter()
    await conn.copy_records_to_table("copy_marks", records=records)
    elapsed = time.perf_counter() - started
    await conn.close()
    return elapsed


async def raw_produce(settings: KafkaSettings, topic: str, events: int, size: int) -> float:
    producer = make_producer(settings, client_id="bench-raw")
    await producer.start()
    value = b"x" * size
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value=value, key=f"c-{i:016x}".encode()) for i in range(events)]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


def referral_env(db_url: str, bootstrap: str, prefix: str) -> dict[str, str]:
    """The environment of a real referral-api api/worker for a bench: its own database and topic
    prefix, the bench's signing key, no rate limit, quiet logs."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("REFERRAL_")},
        "REFERRAL_DATABASE_URL": db_url,
        "REFERRAL_BUS": "kafka",
        "REFERRAL_MODE": "test",
        "REFERRAL_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "REFERRAL_KAFKA__TOPIC_PREFIX": prefix,
        "REFERRAL_AUTH__JWT_SECRET": SECRET,
        "REFERRAL_HTTP__RATE_LIMIT_PER_MINUTE": "0",
        "REFERRAL_LOG_LEVEL": "WARNING",
        "REFERRAL_RELAY__BATCH_SIZE": "2000",
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=600)
    parser.add_argument("--pupils", type=int, default=240_000)
    parser.add_argument("--concurrency", type=int, default=4, help="schools sending at once")
    parser.add_argument("--api-workers", type=int, default=1, help="referral-api api --workers")
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    admin = os.environ.get("INCLUSION_POSTGRES_URL")
    if not bootstrap or not admin:
        print(f"attendance_ingest.py needs real infrastructure: {infra.HOW_TO_START}", file=sys.stderr)
        return 2
    name = await infra.create_database(admin, "bench")
    db_url = infra.database_url(admin, name)
    prefix = f"bench-ingest-{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)
    topic = prefix + "inclusion.attendance"
    env = referral_env(db_url, bootstrap, prefix)
    processes: list[subprocess.Popen[bytes]] = []
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
        roll = await seed(db_url, args.schools, args.pupils)
        day = school_day(london_today())
        payload = bodies(roll, day)
        marks = sum(n for _, _, n in payload)
        pupils = sum(len(u) for _, u in roll)
        port = free_port()
        api = start("api", env, port, args.api_workers)
        processes.append(api)
        await wait_ready(f"http://127.0.0.1:{port}", api)
        worker = start("worker", env)
        processes.append(worker)
        await wait_relay_active(db_url, worker)

        auth = AuthSettings(jwt_secret=SECRET)  # type: ignore[arg-type]
        latencies: list[float] = []
        counts = {"accepted": 0, "rejected": 0}
        queue: asyncio.Queue[tuple[str, bytes, int]] = asyncio.Queue()
        for item in payload:
            queue.put_nowait(item)

        async def sender(client: httpx.AsyncClient) -> None:
            while not queue.empty():
                urn, body, _ = queue.get_nowait()
                token = mint_token(auth, subject=f"mis-{urn}", roles=[Role.SCHOOL], urns=[urn])
                t0 = time.perf_counter()
                response = await client.post(
                    f"/attendance/schools/{urn}/marks",
                    content=body,
                    headers={"content-type": "application/x-ndjson", "authorization": f"Bearer {token}"},
                )
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    raise SystemExit(f"{urn}: {response.status_code} {response.text[:300]}")
                result = response.json()
                counts["accepted"] += result["accepted"]
                counts["rejected"] += result["rejected"]

        async with TopicEnd(kafka, topic) as topic_end:
            started = time.perf_counter()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                await asyncio.gather(*(sender(client) for _ in range(args.concurrency)))
            accepted_s = time.perf_counter() - started
            evented_at_accept = await topic_end.count()
            while (on_topic := await topic_end.count()) < pupils:
                if worker.poll() is not None:
                    raise SystemExit(
                        f"worker exited: {worker.stderr.read().decode()[-2000:] if worker.stderr else ''}"
                    )
                await asyncio.sleep(0.1)
            evented_s = time.perf_counter() - started

        copy_s = await raw_copy(db_url, payload, day)
        produce_s = await raw_produce(kafka, prefix + "raw", pupils, 420)
        latencies.sort()
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        print(
            f"attendance ingest: {args.schools} schools, {pupils} pupils, {marks} marks on {day} "
            f"(~{marks // max(1, args.schools)} marks per submission), concurrency {args.concurrency}"
        )
        print(
            f"  accepted: {counts['accepted']} marks ({counts['rejected']} rejected) in {accepted_s:.1f} s = "
            f"{marks / accepted_s:,.0f} marks/s"
        )
        print(
            f"  evented:  {on_topic} AttendanceRecorded on Kafka after {evented_s:.1f} s = "
            f"{marks / evented_s:,.0f} marks/s ({pupils / evented_s:,.0f} events/s); "
            f"{evented_at_accept} were on Kafka when the last submission was accepted"
        )
        print(f"  submission latency: p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms (goal p99 <= 500 ms)")
        print(
            f"  raw PostgreSQL COPY of the same rows: {marks / copy_s:,.0f} marks/s; "
            f"ratio evented/COPY {copy_s / evented_s:.2f}"
        )
        print(
            f"  raw aiokafka produce of {pupils} events: {pupils / produce_s:,.0f} events/s; "
            f"ratio {produce_s / evented_s:.2f}"
        )
        print(
            f"  county day goal: accepted and evented in <= 30 s at 480,000 marks; this run "
            f"{'met' if evented_s <= 30 and marks >= 480_000 else 'did not meet (or was smaller than)'} it "
            f"({statistics.mean(latencies) * 1000:.0f} ms mean latency)"
        )
        return 0
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        await infra.drop_database(admin, name)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
