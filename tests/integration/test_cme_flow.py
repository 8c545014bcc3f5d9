"""Across services on real Kafka and PostgreSQL: a CME referral posted to referral-api becomes a
case in cme-tracker (outbox -> relay -> Kafka -> cme-tracker's consumer), and a new-pupil return
for the child, posted to referral-api, closes the case as placed; cme-tracker's own events reach
its topic. Both services run in process, each on its own database, as their workers run them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import insert

import cme_tracker.config
import cme_tracker.entrypoints.api.app
import referral_api.config
import referral_api.entrypoints.api.app
from inclusion_kit.auth import Role, mint_token
from inclusion_kit.settings import KafkaSettings
from inclusion_kit.testing import infra
from inclusion_kit.testing.fakes import FrozenClock
from referral_api.adapters.orm import schools

pytestmark = pytest.mark.integration

SCHOOLS = [
    ("118000", "8862000", "Example Primary School", "primary", "Maidstone"),
    ("118001", "8864000", "Example High School", "secondary", "Dover"),
]


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app's API in process, and its worker (relay and consumers) as a task."""
    kernel = app.state.kernel
    await kernel.migrate()
    stop = asyncio.Event()
    async with app.router.lifespan_context(app):
        worker = asyncio.create_task(kernel.run_worker(stop))
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client
        finally:
            stop.set()
            await asyncio.wait_for(worker, 30)


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 45.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_cme_referral_becomes_a_case_and_a_new_pupil_return_closes_it(
    postgres_admin_url: str, kafka_settings: KafkaSettings
) -> None:
    referral_db = await infra.create_database(postgres_admin_url, "ref")
    cme_db = await infra.create_database(postgres_admin_url, "cme")
    try:
        await _journey(
            infra.database_url(postgres_admin_url, referral_db),
            infra.database_url(postgres_admin_url, cme_db),
            kafka_settings,
        )
    finally:
        await infra.drop_database(postgres_admin_url, referral_db)
        await infra.drop_database(postgres_admin_url, cme_db)


async def _journey(referral_url: str, cme_url: str, kafka: KafkaSettings) -> None:
    clock = FrozenClock(datetime(2025, 11, 10, 9, 0, tzinfo=UTC))  # Monday after half-term
    fast = {"poll_interval_seconds": 0.05}
    ref_settings = referral_api.config.Settings(
        database_url=referral_url, bus="kafka", kafka=kafka, relay=fast
    )
    cme_settings = cme_tracker.config.Settings(database_url=cme_url, bus="kafka", kafka=kafka, relay=fast)
    ref_app = referral_api.entrypoints.api.app.create_app(ref_settings, clock=clock)
    cme_app = cme_tracker.entrypoints.api.app.create_app(cme_settings, clock=clock)
    await ref_app.state.kernel.migrate()
    async with ref_app.state.kernel.engine.begin() as conn:
        await conn.execute(
            insert(schools),
            [
                {
                    "urn": urn,
                    "laestab": laestab,
                    "la_code": "886",
                    "name": name,
                    "phase": phase,
                    "district": district,
                    "is_open": True,
                    "updated_at": clock.now(),
                }
                for urn, laestab, name, phase, district in SCHOOLS
            ],
        )
    primary = {
        "Authorization": "Bearer "
        + mint_token(ref_settings.auth, subject="mis-a", roles=[Role.SCHOOL], urns=["118000"])
    }
    high = {
        "Authorization": "Bearer "
        + mint_token(ref_settings.auth, subject="mis-b", roles=[Role.SCHOOL], urns=["118001"])
    }
    officer = {
        "Authorization": "Bearer " + mint_token(cme_settings.auth, subject="officer-1", roles=[Role.OFFICER])
    }
    child = {"upn": "H886200024001", "forename": "Alex", "surname": "Example", "date_of_birth": "2014-03-02"}

    async with running(ref_app) as front_door, running(cme_app) as cme:
        posted = await front_door.post(
            "/referrals",
            headers=primary,
            json={
                "kind": "child_missing_education",
                "child": child,
                "referrer": {"school_urn": "118000"},
                "missing_education": {"last_attended_on": "2025-10-17"},
            },
        )
        assert posted.status_code == 201, posted.text
        referral = posted.json()

        async def case_listed() -> dict[str, Any] | None:
            page = (await cme.get("/cases", headers=officer, params={"status": "open"})).json()
            return next((c for c in page["items"] if c["source_id"] == referral["id"]), None)

        case = await eventually(case_listed, "the case in cme-tracker")
        assert case["child_ref"] == referral["child_ref"] and case["upn"] == child["upn"]
        assert case["district"] == "Maidstone" and case["opened_on"] == "2025-11-10"
        assert case["next_review_due"] == "2025-12-10"

        # Two weeks later the child starts at another school, which sends its new-pupil return.
        clock.set(datetime(2025, 11, 25, 9, 0, tzinfo=UTC))
        added = await front_door.post(
            "/roll-changes/admissions",
            headers=high,
            json={
                "school_urn": "118001",
                "starting_day": "2025-11-24",
                "entered_on": "2025-11-24",
                "year_group": "6",
                "child": child,
            },
        )
        assert added.status_code == 201, added.text
        assert added.json()["child_ref"] == referral["child_ref"]

        async def placed() -> dict[str, Any] | None:
            body = (await cme.get(f"/cases/{case['id']}", headers=officer)).json()
            return body if body["status"] == "placed" else None

        done = await eventually(placed, "the case closed as placed")
        assert done["outcome"] == "placed_on_roll" and done["placed_school"]["urn"] == "118001"
        assert done["placed_on"] == "2025-11-24" and done["closed_on"] == "2025-11-25"
        assert (done["days_to_placed"], done["school_days_to_placed"], done["placed_within_target"]) == (
            14,
            10,
            True,
        )

        # cme-tracker's own events are on its topic, keyed by the child, in order.
        topic = kafka.topic_prefix + "inclusion.cme"

        async def cme_events() -> list[tuple[str, str, dict[str, Any]]] | None:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=kafka.bootstrap_servers,
                group_id=f"plain-{uuid.uuid4().hex[:8]}",
                auto_offset_reset="earliest",
            )
            await consumer.start()
            try:
                batches = await consumer.getmany(timeout_ms=1000)
            finally:
                await consumer.stop()
            records = [r for rs in batches.values() for r in rs]
            found = [
                (dict(r.headers)["ce_type"].decode(), r.key.decode(), json.loads(r.value)) for r in records
            ]
            return found if len(found) >= 4 else None

        published = await eventually(cme_events, "cme-tracker's events on Kafka")
    assert [t for t, _, _ in published] == [
        "inclusion.cme.case.opened.v1",
        "inclusion.cme.child.located.v1",
        "inclusion.cme.child.placed-on-roll.v1",
        "inclusion.cme.case.closed.v1",
    ]
    assert {k for _, k, _ in published} == {referral["child_ref"]}
    assert published[2][2]["roll_change_id"] == added.json()["id"]
