"""A CME referral posted through the API reaches a real Kafka topic as a CloudEvent whose body
validates against the committed JSON Schema, read by a plain aiokafka consumer."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jsonschema
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import insert

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.messaging.kafka import KafkaPublisher, ensure_topics, make_producer
from inclusion_kit.settings import KafkaSettings
from inclusion_kit.testing.fakes import FrozenClock
from referral_api.adapters.orm import schools
from referral_api.bootstrap import bootstrap
from referral_api.config import Settings
from referral_api.entrypoints.api.app import create_app

pytestmark = pytest.mark.integration
CATALOG = Path(__file__).resolve().parents[4] / "shared" / "catalog" / "schemas"


async def test_cme_referral_arrives_as_a_valid_cloudevent(pg_url: str, kafka_settings: KafkaSettings) -> None:
    settings = Settings(database_url=pg_url, bus="kafka", kafka=kafka_settings)
    kernel = bootstrap(settings)
    await kernel.migrate()
    async with kernel.engine.begin() as conn:
        await conn.execute(
            insert(schools).values(
                urn="118000",
                laestab="8862000",
                la_code="886",
                name="Example Primary School",
                phase="primary",
                district="Maidstone",
                is_open=True,
                updated_at=datetime.now(UTC),
            )
        )
    app = create_app(settings, clock=FrozenClock(datetime(2025, 10, 6, 8, 30, tzinfo=UTC)))
    token = mint_token(settings.auth, subject="school", roles=[Role.SCHOOL], urns=["118000"])
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.post(
                "/referrals",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "kind": "child_missing_education",
                    "child": {
                        "upn": "H886200024001",
                        "forename": "Alex",
                        "surname": "Example",
                        "date_of_birth": "2014-03-02",
                    },
                    "referrer": {"school_urn": "118000"},
                    "missing_education": {"last_attended_on": "2025-09-26"},
                },
            )
        assert response.status_code == 201, response.text
        referral = response.json()

        # The worker's relay, as `referral-api worker` runs it.
        topic = kafka_settings.topic_prefix + "inclusion.referrals"
        await ensure_topics(kafka_settings, [topic])
        producer = make_producer(kafka_settings, client_id="relay")
        await producer.start()
        try:
            assert (
                await app.state.kernel.relay(KafkaPublisher(producer, kafka_settings.topic_prefix)).drain()
                == 1
            )
        finally:
            await producer.stop()

    # A subscriber that knows nothing of this code base: aiokafka, json and the published schema.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_settings.bootstrap_servers,
        group_id=f"plain-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "inclusion.referrals.referral.received.v1"
    assert headers["ce_source"] == "inclusion/referral-api"
    assert headers["ce_subject"] == referral["id"]
    assert headers["content-type"] == "application/json"
    assert record.key.decode() == referral["child_ref"]
    body = json.loads(record.value)
    schema = json.loads((CATALOG / f"{headers['ce_type']}.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(body)
    assert body["referral_id"] == referral["id"] and body["response_due"] == "2025-10-20"
