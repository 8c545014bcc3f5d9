"""On the real infrastructure: events on Kafka topics are projected by `reporting worker` into
PostgreSQL, and `reporting rebuild` replays the topics into a fresh generation (a schema) that
gives the same figures and takes over from the live one."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.messaging.kafka import KafkaPublisher, ensure_topics, make_producer
from inclusion_kit.settings import KafkaSettings
from inclusion_kit.testing.fakes import FrozenClock
from reporting.adapters.repository import Generations
from reporting.bootstrap import bootstrap
from reporting.config import Settings
from reporting.entrypoints.api.app import create_app
from reporting.entrypoints.rebuild import run_rebuild
from tests.events import known_year

pytestmark = pytest.mark.integration
YEAR = {"academic_year": "2025/26"}


async def _figures(settings: Settings) -> dict[str, Any]:
    app = create_app(settings, clock=FrozenClock(datetime(2026, 1, 12, 9, 0, tzinfo=UTC)))
    headers = {"Authorization": "Bearer " + mint_token(settings.auth, subject="m", roles=[Role.MANAGER])}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            out = {}
            for path, params in [
                ("/reports/indicators", YEAR),
                ("/reports/attendance", {**YEAR, "by": "phase"}),
                ("/reports/exclusions", YEAR),
                ("/reports/cme", {**YEAR, "by": "district"}),
                ("/reports/enforcement", YEAR),
            ]:
                response = await client.get(path, params=params, headers=headers)
                assert response.status_code == 200, response.text
                body = response.json()
                body.pop("generation")
                out[path + str(params)] = body
            return out


async def test_worker_projects_from_kafka_and_rebuild_switches_to_equal_figures(
    pg_url: str, kafka_settings: KafkaSettings
) -> None:
    settings = Settings(database_url=pg_url, bus="kafka", kafka=kafka_settings)
    kernel = bootstrap(settings)
    await kernel.migrate()
    history = known_year()
    prefix = kafka_settings.topic_prefix
    await ensure_topics(kafka_settings, {prefix + e.topic for e in history})
    producer = make_producer(kafka_settings, client_id="test-producer")
    await producer.start()
    try:
        errors = await KafkaPublisher(producer, prefix).publish_batch(history)
        assert not any(errors)
    finally:
        await producer.stop()

    stop = asyncio.Event()
    worker = asyncio.create_task(kernel.run_worker(stop))
    deadline = time.monotonic() + 90
    try:
        while True:
            assert time.monotonic() < deadline, "the worker did not project the topics in time"
            async with kernel.uow() as uow:
                generations = Generations(uow.session)
                active = await generations.active()
                applied = 0
                if active is not None:
                    pt = generations.tables(active)
                    applied = len((await uow.session.execute(pt.applied.select())).all())
            if applied == len(history):
                break
            await asyncio.sleep(0.5)
        live = await _figures(settings)
        exclusions = live["/reports/exclusions" + str(YEAR)]["rows"][0]
        assert (exclusions["permanent_exclusions"], exclusions["permanent_fsm_share"]) == (64, 46.9)

        report = await run_rebuild(settings, switch=True, keep=0, outboxes=[])
        assert report.switched and report.generation == 2 and report.events >= len(history)
        assert report.dropped == [1]  # keep=0: the replaced generation's schema is gone
        assert await _figures(settings) == live
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
        await kernel.dispose()
