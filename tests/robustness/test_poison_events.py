"""Poison and unknown events, on the real Kafka and PostgreSQL, for every consuming service.

Into one partition of a topic each consumer group reads (one child's key, so the order holds),
ahead of a valid event, the test publishes:

- a malformed record (not JSON, no CloudEvents headers): not a CloudEvent, so a permanent failure,
  copied verbatim to ``<topic>.<group>.dlt`` with the reason in ``dlt_*`` headers;
- a known type whose data is not JSON, and a known type whose JSON breaks the contract: the
  contract does not validate, a permanent failure, dead-lettered the same way;
- an unknown type, and a future major version (``.v2``) of a type the group handles: skipped
  (tolerant reader: a consumer ignores what it does not know; no inbox row, no effect, no dead
  letter);

then the valid event. The worker (``run_worker``, ``bus="kafka"``) must dead-letter exactly the
three poisonous records, apply the valid one (its inbox row commits with its effects), and commit
the group's offsets past everything: the consumer carried on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import select

from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.contracts.topics import dead_letter_topic
from inclusion_kit.messaging.kafka import ensure_topics, make_producer
from inclusion_kit.settings import KafkaSettings
from inclusion_platform.embedded import SERVICES, ServiceEntry

pytestmark = pytest.mark.integration

BY_NAME = {entry.name: entry for entry in SERVICES}
# (service, the valid event a consumer group of it handles)
CASES = [
    ("cme-tracker", "inclusion.referrals.referral.received.v1"),
    ("exclusions", "inclusion.referrals.pupil.enrolment-recorded.v1"),
    ("enforcement", "inclusion.attendance.marks.recorded.v1"),
    ("reporting", "inclusion.exclusions.exclusion.issued.v1"),
]


@dataclasses.dataclass(frozen=True)
class Sent:
    name: str
    id: str | None
    value: bytes
    headers: list[tuple[str, bytes]]


def poison(valid: Envelope) -> list[Sent]:
    context = valid.type.split(".")[1]
    future = valid.type.removesuffix(".v1") + ".v2"

    def variant(name: str, **changes: Any) -> Sent:
        envelope = dataclasses.replace(valid, id=f"{name}-{uuid.uuid4().hex[:8]}", **changes)
        return Sent(name, envelope.id, envelope.data, envelope.kafka_headers())

    return [
        Sent("malformed", None, b"\x00\xffthis is not JSON {", []),
        variant("data not JSON", data=b"<xml>not json</xml>"),
        variant("contract broken", data=b'{"event_id": 42, "nonsense": true}'),
        variant("unknown type", type=f"inclusion.{context}.something.invented.v1"),
        variant("future version", type=future),
    ]


async def read_all(settings: KafkaSettings, topic: str, expected: int, timeout: float) -> list[Any]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while not consumer.partitions_for_topic(topic):
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while len(records) < expected:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
        # Nothing more arrives (a second copy would be a bug too).
        for batch in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def committed_everything(settings: KafkaSettings, group: str, topic: str) -> bool:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, group_id=group
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            if ends[tp] and (await consumer.committed(tp) or 0) < ends[tp]:
                return False
        return bool(partitions)
    finally:
        await consumer.stop()


@pytest.mark.parametrize(("service", "event_type"), CASES, ids=[c[0] for c in CASES])
async def test_poison_is_dead_lettered_unknown_is_skipped_and_the_consumer_carries_on(
    service: str, event_type: str, pg_url: str, kafka_settings: KafkaSettings
) -> None:
    entry: ServiceEntry = BY_NAME[service]
    settings = entry.settings_class(  # type: ignore[call-arg]
        mode="test",
        database_url=pg_url,
        bus="kafka",
        kafka=kafka_settings,
        relay={"poll_interval_seconds": 0.05},
        consumer={"max_attempts": 2, "backoff_initial_seconds": 0.01},
    )
    kernel = entry.bootstrap(settings)
    await kernel.migrate()
    dispatcher = next(d for d in kernel.dispatchers() if d.handles(event_type))
    model = kernel.registry[event_type]
    assert model.example is not None, event_type
    valid = Envelope.wrap(model.model_validate(model.example), source="inclusion/poison-test")
    prefix = kafka_settings.topic_prefix
    topic = prefix + valid.topic
    dlt = dead_letter_topic(topic, dispatcher.consumer)
    records = [*poison(valid), Sent("valid", valid.id, valid.data, valid.kafka_headers())]

    await ensure_topics(kafka_settings, [topic])
    producer = make_producer(kafka_settings, client_id="poison-test")
    await producer.start()
    try:
        for record in records:  # one key: one partition, in this order
            await producer.send_and_wait(
                topic, value=record.value, key=valid.key.encode(), headers=record.headers
            )
    finally:
        await producer.stop()

    inbox = kernel.tables.inbox
    stop = asyncio.Event()
    worker = asyncio.create_task(kernel.run_worker(stop))
    try:
        async with asyncio.timeout(60):
            while True:
                assert not worker.done(), worker.exception()
                async with kernel.engine.connect() as conn:
                    applied = (
                        (
                            await conn.execute(
                                select(inbox.c.event_id).where(inbox.c.consumer == dispatcher.consumer)
                            )
                        )
                        .scalars()
                        .all()
                    )
                if applied:
                    break
                await asyncio.sleep(0.1)
        dead = await read_all(kafka_settings, dlt, expected=3, timeout=30)
        async with asyncio.timeout(30):
            while not await committed_everything(kafka_settings, prefix + dispatcher.consumer, topic):
                await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
        await kernel.dispose()

    # The valid event was applied, after the poison; nothing skipped left an inbox row.
    assert list(applied) == [valid.id], applied
    # Exactly the three poisonous records are dead-lettered, verbatim, with their reason.
    poisonous = {"malformed", "data not JSON", "contract broken"}
    by_value = {r.value: r for r in records}
    assert sorted(by_value[d.value].name for d in dead) == sorted(poisonous), [d.value for d in dead]
    for d in dead:
        headers = dict(d.headers)
        assert headers["dlt_reason"] == b"permanent"
        assert headers["dlt_group"] == dispatcher.consumer.encode()
        assert headers["dlt_original_topic"] == topic.encode()
        assert headers["dlt_error"], headers
        # The error says what failed without echoing the payload (it may hold a child's details).
        assert d.value not in headers["dlt_error"]
        original = by_value[d.value]
        for name, value in original.headers:
            assert headers[name] == value, (original.name, name)
    print(
        f"\n{service} ({dispatcher.consumer}): {len(records)} records published, "
        f"{len(dead)} dead-lettered to {dlt.removeprefix(prefix)}, 2 skipped, 1 applied"
    )
