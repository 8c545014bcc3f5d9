"""cme-tracker's worker on real Kafka and PostgreSQL: a referral published twice (a redelivery with
the same ce_id, and a republish in a new envelope) opens one case, and the case's event is relayed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from cme_tracker.adapters.orm import cme_cases, tables
from cme_tracker.bootstrap import bootstrap
from cme_tracker.config import Settings
from inclusion_kit.messaging.kafka import KafkaPublisher, ensure_topics, make_producer
from inclusion_kit.settings import KafkaSettings
from inclusion_kit.testing.fakes import FrozenClock

from ..events import cme_referral, delivery

pytestmark = pytest.mark.integration


async def test_the_same_referral_twice_on_kafka_opens_one_case(
    pg_url: str, kafka_settings: KafkaSettings
) -> None:
    settings = Settings(
        database_url=pg_url, bus="kafka", kafka=kafka_settings, relay={"poll_interval_seconds": 0.05}
    )
    kernel = bootstrap(settings, clock=FrozenClock(datetime(2025, 11, 10, 10, 5, tzinfo=UTC)))
    await kernel.migrate()
    event = cme_referral()
    first = delivery(event, "e-1").envelope
    again = delivery(event, "e-2").envelope
    prefix = kafka_settings.topic_prefix
    await ensure_topics(kafka_settings, [prefix + "inclusion.referrals"])
    producer = make_producer(kafka_settings, client_id="front-door")
    await producer.start()
    try:
        results = await KafkaPublisher(producer, prefix).publish_batch([first, first, again])
        assert results == [None, None, None]
    finally:
        await producer.stop()
    stop = asyncio.Event()
    worker = asyncio.create_task(kernel.run_worker(stop))
    try:
        async with asyncio.timeout(45):
            while True:
                async with kernel.engine.connect() as conn:
                    inbox = await conn.scalar(select(func.count()).select_from(tables.inbox))
                    outbox_left = await conn.scalar(select(func.count()).select_from(tables.outbox))
                if inbox == 2 and outbox_left == 0:
                    break
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
    async with kernel.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(cme_cases)) == 1
    await kernel.dispose()
