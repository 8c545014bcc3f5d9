"""On real Kafka and PostgreSQL, through the worker as `exclusions worker` runs it: the roll
arrives as referral-api publishes it; a permanent exclusion notified through the API reaches the
topic as a CloudEvent whose body validates against the committed JSON Schema (read by a plain
aiokafka consumer); when the controllable clock passes the sixth school day with no provision
recorded, the scheduler publishes SixthDayProvisionMissed, once."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select

from exclusions.adapters.orm import roll, tables
from exclusions.bootstrap import bootstrap
from exclusions.config import Settings
from exclusions.entrypoints import worker
from exclusions.entrypoints.api.app import create_app
from inclusion_kit.auth import Role, mint_token
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.contracts.events.roll import PupilEnrolmentRecorded
from inclusion_kit.messaging.kafka import KafkaPublisher, ensure_topics, make_producer
from inclusion_kit.settings import KafkaSettings
from inclusion_kit.testing.fakes import FrozenClock

pytestmark = pytest.mark.integration
CATALOG = Path(__file__).resolve().parents[4] / "shared" / "catalog" / "schemas"
ISSUED = "inclusion.exclusions.exclusion.issued.v1"
MISSED = "inclusion.exclusions.provision.missed.v1"


async def _eventually(check: Any, timeout: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.1)


def _validate(record: Any) -> dict[str, Any]:
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["ce_specversion"] == "1.0" and headers["ce_source"] == "inclusion/exclusions"
    assert headers["content-type"] == "application/json"
    body: dict[str, Any] = json.loads(record.value)
    schema = json.loads((CATALOG / f"{headers['ce_type']}.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(body)
    return {"type": headers["ce_type"], "subject": headers["ce_subject"], "key": record.key.decode(), **body}


async def test_issued_event_matches_the_schema_and_the_scheduler_reports_missed_provision(
    pg_url: str, kafka_settings: KafkaSettings
) -> None:
    settings = Settings(
        database_url=pg_url, bus="kafka", kafka=kafka_settings, scheduler_interval_seconds=0.2
    )
    kernel = bootstrap(settings)
    await kernel.migrate()
    prefix = kafka_settings.topic_prefix
    await ensure_topics(kafka_settings, [prefix + "inclusion.referrals", prefix + "inclusion.exclusions"])
    clock = FrozenClock(datetime(2025, 10, 6, 8, 30, tzinfo=UTC))  # Monday 6 October 2025
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(settings, stop, clock=clock))
    consumer = AIOKafkaConsumer(
        prefix + "inclusion.exclusions",
        bootstrap_servers=kafka_settings.bootstrap_servers,
        group_id=f"plain-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    try:
        # The roll, as referral-api publishes it.
        producer = make_producer(kafka_settings, client_id="referral-api-relay")
        await producer.start()
        try:
            enrolment = PupilEnrolmentRecorded(
                child_ref="c-sam",
                aggregate_id="118001/c-sam",
                aggregate_version=1,
                occurred_at=datetime(2025, 9, 1, 6, 0, tzinfo=UTC),
                school={"urn": "118001", "la_code": "886", "phase": "secondary", "district": "Dover"},
                upn="K886400023012",
                on_roll_from=date(2021, 9, 1),
            )
            envelope = Envelope.wrap(enrolment, source="inclusion/referral-api", event_id=str(uuid.uuid4()))
            assert await KafkaPublisher(producer, prefix).publish_batch([envelope]) == [None]
        finally:
            await producer.stop()

        async def on_roll() -> int:
            async with kernel.engine.connect() as conn:
                return int(await conn.scalar(select(func.count()).select_from(roll)) or 0)

        await _eventually(on_roll)

        app = create_app(settings, clock=clock)
        token = mint_token(settings.auth, subject="school", roles=[Role.SCHOOL], urns=["118001"])
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as client:
                response = await client.post(
                    "/exclusions",
                    headers={"Authorization": f"Bearer {token}"},
                    json={
                        "school_urn": "118001",
                        "upn": "K886400023012",
                        "kind": "permanent",
                        "start_date": "2025-10-06",
                        "reason_codes": ["PA"],
                        "sen_provision": "E",
                        "ehc_plan": True,
                        "fsm_eligible": True,
                        "looked_after": False,
                        "child_in_need": True,
                        "child_protection_plan": False,
                        "parents_notified_at": "2025-10-06T08:00:00+01:00",
                    },
                )
        assert response.status_code == 201, response.text
        exclusion = response.json()
        assert exclusion["deadlines"]["sixth_day_provision_due"] == "2025-10-13"

        await consumer.start()
        issued = _validate(await asyncio.wait_for(consumer.getone(), 30))
        assert issued["type"] == ISSUED and issued["subject"] == exclusion["id"]
        assert issued["key"] == "c-sam" and issued["kind"] == "permanent"
        assert issued["deadlines"]["provision_responsibility"] == "local_authority"
        assert issued["school"]["district"] == "Dover"

        # On the sixth day itself nothing is missed yet; the day after, it is.
        clock.set(datetime(2025, 10, 13, 16, 0, tzinfo=UTC))
        await asyncio.sleep(0.6)
        clock.set(datetime(2025, 10, 14, 6, 0, tzinfo=UTC))
        missed = _validate(await asyncio.wait_for(consumer.getone(), 30))
        assert missed["type"] == MISSED and missed["subject"] == exclusion["id"]
        assert (missed["due_by"], missed["detected_on"]) == ("2025-10-13", "2025-10-14")
        assert missed["responsibility"] == "local_authority" and missed["aggregate_version"] == 2

        # Later passes (and later days) publish nothing more.
        clock.advance(timedelta(days=1))
        await asyncio.sleep(1.0)
        extra = await consumer.getmany(timeout_ms=1000)
        assert not any(extra.values())
        async with kernel.engine.connect() as conn:
            pending = await conn.scalar(select(func.count()).select_from(tables.outbox))
        assert pending == 0  # everything relayed (published rows are deleted)
    finally:
        stop.set()
        await consumer.stop()
        await running
        await kernel.dispose()
