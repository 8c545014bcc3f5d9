"""enforcement's worker on real Kafka and PostgreSQL: AttendanceRecorded read from the attendance
topic (one delivered twice) becomes positions; the crossing it causes is relayed to the enforcement
topic as a CloudEvent valid against the committed schema."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import jsonschema
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import select

from enforcement.adapters.orm import attendance_positions
from enforcement.bootstrap import bootstrap
from enforcement.config import Settings
from inclusion_kit.messaging.kafka import ensure_topics, make_producer
from inclusion_kit.settings import KafkaSettings

from ..factories import envelope, marks, recorded, school_days

pytestmark = pytest.mark.integration
CATALOG = Path(__file__).resolve().parents[4] / "shared" / "catalog" / "schemas"


async def test_worker_consumes_attendance_and_publishes_persistent_absence(
    pg_url: str, kafka_settings: KafkaSettings
) -> None:
    kernel = bootstrap(Settings(database_url=pg_url, bus="kafka", kafka=kafka_settings))
    await kernel.migrate()
    prefix = kafka_settings.topic_prefix
    await ensure_topics(kafka_settings, [prefix + "inclusion.attendance", prefix + "inclusion.enforcement"])
    days = school_days("2025-09-08", 10)
    first = envelope(recorded(1, marks(days[:9]) + marks(days[9:], "O")))  # 2 of 20 absent: 10%
    other = envelope(recorded(1, marks(days[:2]), child_ref="c-0000000000000002", upn="K886400023012"))
    producer = make_producer(kafka_settings, client_id="test-referral-api")
    await producer.start()
    try:
        for e in (first, other, first):  # the first redelivered: counted once
            await producer.send_and_wait(
                prefix + e.topic, value=e.data, key=e.key.encode(), headers=e.kafka_headers()
            )
    finally:
        await producer.stop()

    stop = asyncio.Event()
    worker = asyncio.create_task(kernel.run_worker(stop))
    try:
        rows: list[tuple[str, int, int]] = []
        for _ in range(200):
            async with kernel.engine.connect() as conn:
                p = attendance_positions
                rows = [
                    tuple(r)
                    for r in (await conn.execute(select(p.c.child_ref, p.c.possible, p.c.unauthorised))).all()
                ]
            if len(rows) == 2:
                break
            assert not worker.done(), worker
            await asyncio.sleep(0.1)
        assert sorted(rows) == [("c-0000000000000001", 20, 2), ("c-0000000000000002", 4, 0)]
        # The redelivered event changed nothing: the same counts, one update of the position.
        async with kernel.engine.connect() as conn:
            version = await conn.scalar(
                select(attendance_positions.c.version).where(
                    attendance_positions.c.child_ref == "c-0000000000000001"
                )
            )
        assert version == 1

        consumer = AIOKafkaConsumer(
            prefix + "inclusion.enforcement",
            bootstrap_servers=kafka_settings.bootstrap_servers,
            group_id=f"early-help-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), 30)
        finally:
            await consumer.stop()
    finally:
        stop.set()
        await worker
        await kernel.dispose()
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["ce_type"] == "inclusion.enforcement.absence.persistent-identified.v1"
    assert headers["ce_source"] == "inclusion/enforcement" and record.key.decode() == "c-0000000000000001"
    body = json.loads(record.value)
    schema = json.loads((CATALOG / f"{headers['ce_type']}.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(body)
    assert (body["level"], body["possible_sessions"], body["absence_percent"]) == ("persistent", 20, 10.0)
    # The redelivered event changed nothing: the same counts, one crossing.
    async with kernel.engine.connect() as conn:
        version = await conn.scalar(
            select(attendance_positions.c.version).where(
                attendance_positions.c.child_ref == "c-0000000000000001"
            )
        )
    assert version == 1
