"""The outbox -> relay -> Kafka -> consumer-with-inbox chain on a real broker and real PostgreSQL.

Two databases (producer and consumer), the real relay and consume loop, and a topic prefix that is
unique per test so no test sees another's records.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from inclusion_kit.contracts import dead_letter_topic
from inclusion_kit.messaging.consumer import KafkaConsumerWorker, replay_dead_letters
from inclusion_kit.messaging.dispatch import Outcome
from inclusion_kit.messaging.kafka import (
    KafkaPublisher,
    dead_letter_depth,
    ensure_topics,
    make_consumer,
    make_producer,
)
from inclusion_kit.messaging.relay import OutboxRelay
from inclusion_kit.observability import ServiceMetrics
from inclusion_kit.settings import KafkaSettings
from inclusion_kit.testing import infra

from .chain import (
    REGISTRY,
    Faults,
    NoteWritten,
    Side,
    consumer_side,
    count_rows,
    producer_side,
    tally,
    tally_dispatcher,
    write_note,
)

pytestmark = pytest.mark.integration

GROUP = "chain-consumer"


@dataclass
class Chain:
    producer: Side
    consumer: Side
    kafka: KafkaSettings
    kafka_producer: AIOKafkaProducer
    relay: OutboxRelay
    faults: Faults
    consumers: list[AIOKafkaConsumer]
    metrics: ServiceMetrics

    @property
    def topic(self) -> str:
        return self.kafka.topic_prefix + NoteWritten.topic()

    @property
    def dlt(self) -> str:
        return dead_letter_topic(self.topic, GROUP)

    async def worker(self) -> KafkaConsumerWorker:
        consumer = make_consumer(
            self.kafka, group_id=self.kafka.topic_prefix + GROUP, client_id="chain", topics=[self.topic]
        )
        await consumer.start()
        self.consumers.append(consumer)
        return KafkaConsumerWorker(
            tally_dispatcher(self.consumer, self.faults, name=GROUP),
            consumer,
            self.kafka_producer,
            group_id=GROUP,
            poll_timeout_ms=200,
            topic_prefix=self.kafka.topic_prefix,
            metrics=self.metrics,
        )


async def consume_until(worker: KafkaConsumerWorker, predicate: Any, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await worker.run_once()


@pytest.fixture
async def chain(postgres_admin_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Chain]:
    names = [await infra.create_database(postgres_admin_url) for _ in range(2)]
    producer = producer_side(infra.database_url(postgres_admin_url, names[0]))
    consumer = consumer_side(infra.database_url(postgres_admin_url, names[1]))
    await producer.create()
    await consumer.create()
    topic = kafka_settings.topic_prefix + NoteWritten.topic()
    await ensure_topics(kafka_settings, [topic, dead_letter_topic(topic, GROUP)])
    kafka_producer = make_producer(kafka_settings, client_id="chain-relay")
    await kafka_producer.start()
    relay = OutboxRelay(
        producer.engine,
        producer.tables,
        KafkaPublisher(kafka_producer, kafka_settings.topic_prefix),
        source="inclusion/test-producer",
        poll_interval=0.05,
    )
    c = Chain(producer, consumer, kafka_settings, kafka_producer, relay, Faults(), [], ServiceMetrics("test"))
    try:
        yield c
    finally:
        for k in c.consumers:
            await k.stop()
        await kafka_producer.stop()
        await producer.engine.dispose()
        await consumer.engine.dispose()
        for name in names:
            await infra.drop_database(postgres_admin_url, name)


async def test_committed_use_case_is_published_and_applied_once(chain: Chain) -> None:
    await write_note(chain.producer, "child-1", "first")
    await write_note(chain.producer, "child-1", "second")
    assert (
        await count_rows(
            chain.producer,
            chain.producer.tables.outbox,
            chain.producer.tables.outbox.c.published_at.is_(None),
        )
        == 2
    )

    assert await chain.relay.drain() == 2
    assert (
        await count_rows(
            chain.producer,
            chain.producer.tables.outbox,
            chain.producer.tables.outbox.c.published_at.is_(None),
        )
        == 0
    )

    worker = await chain.worker()

    async def two() -> bool:
        return await tally(chain.consumer, "child-1") == 2

    await consume_until(worker, two)
    assert worker.stats.applied == 2
    assert await count_rows(chain.consumer, chain.consumer.tables.inbox) == 2


async def test_rolled_back_use_case_publishes_nothing(chain: Chain) -> None:
    await write_note(chain.producer, "child-2", "never", commit=False)
    assert await count_rows(chain.producer, chain.producer.tables.outbox) == 0
    assert await count_rows(chain.producer, chain.producer.extra["notes"]) == 0
    assert await chain.relay.drain() == 0
    # A committed marker after it shows the consumer would have seen anything before it.
    await write_note(chain.producer, "child-2", "marker")
    await chain.relay.drain()
    worker = await chain.worker()

    async def marker_seen() -> bool:
        return worker.stats.applied >= 1

    await consume_until(worker, marker_seen)
    assert await tally(chain.consumer, "child-2") == 1


async def test_duplicate_delivery_changes_nothing(chain: Chain) -> None:
    await write_note(chain.producer, "child-3", "once")
    async with chain.producer.engine.connect() as conn:
        row = (await conn.execute(chain.producer.tables.outbox.select())).one()
    await chain.relay.drain()
    # Deliver the very same record (same ce_id) twice more, as a broker or relay retry would.
    from inclusion_kit.messaging.unit_of_work import envelope_from_outbox

    envelope = envelope_from_outbox(row)
    publisher = KafkaPublisher(chain.kafka_producer, chain.kafka.topic_prefix)
    assert await publisher.publish_batch([envelope, envelope]) == [None, None]

    worker = await chain.worker()

    async def three_seen() -> bool:
        return worker.stats.applied + worker.stats.duplicates >= 3

    await consume_until(worker, three_seen)
    assert worker.stats.applied == 1
    assert worker.stats.duplicates == 2
    assert await tally(chain.consumer, "child-3") == 1


class CrashAfterAck(OutboxRelay):
    """A relay that dies after the broker acknowledged the batch but before marking it."""

    async def _mark_published(self, conn: Any, seqs: list[int]) -> None:
        raise ConnectionResetError("relay killed between ack and mark")


async def test_relay_crash_between_ack_and_mark_resends_same_id_and_consumer_ignores_it(chain: Chain) -> None:
    await write_note(chain.producer, "child-4", "crashy")
    crashing = CrashAfterAck(
        chain.producer.engine,
        chain.producer.tables,
        KafkaPublisher(chain.kafka_producer, chain.kafka.topic_prefix),
        source="inclusion/test",
    )
    with pytest.raises(ConnectionResetError):
        await crashing.publish_pending()
    # Still unpublished: the mark never happened.
    outbox = chain.producer.tables.outbox
    assert await count_rows(chain.producer, outbox, outbox.c.published_at.is_(None)) == 1
    assert await chain.relay.drain() == 1  # a healthy relay sends it again

    # Both copies are on the topic with the same ce_id.
    reader = make_consumer(
        chain.kafka, group_id=chain.kafka.topic_prefix + "reader", client_id="reader", topics=[chain.topic]
    )
    await reader.start()
    chain.consumers.append(reader)
    ids: list[bytes] = []
    async with asyncio.timeout(30):
        while len(ids) < 2:
            for records in (await reader.getmany(timeout_ms=200)).values():
                ids.extend(dict(r.headers)["ce_id"] for r in records)
    assert len(ids) == 2 and ids[0] == ids[1]

    worker = await chain.worker()

    async def both_seen() -> bool:
        return worker.stats.applied + worker.stats.duplicates >= 2

    await consume_until(worker, both_seen)
    assert (worker.stats.applied, worker.stats.duplicates) == (1, 1)
    assert await tally(chain.consumer, "child-4") == 1


async def test_poison_message_goes_to_dead_letters_and_consumer_carries_on_then_replay(chain: Chain) -> None:
    chain.faults.poison_texts.add("poison")
    await write_note(chain.producer, "child-5", "poison")
    await write_note(chain.producer, "child-5", "fine")
    # A record that is not a CloudEvent at all, on the same topic.
    await (await chain.kafka_producer.send(chain.topic, value=b"not json", key=b"child-5"))
    await chain.relay.drain()

    worker = await chain.worker()

    async def settled() -> bool:
        return worker.stats.applied + worker.stats.dead_lettered >= 3

    await consume_until(worker, settled)
    assert worker.stats.applied == 1  # "fine" applied after the poison one
    assert worker.stats.dead_lettered == 2
    rendered = chain.metrics.render().body.decode()
    assert 'events_dead_lettered_total{consumer="chain-consumer",reason="permanent"} 2.0' in rendered
    assert 'events_consumed_total{consumer="chain-consumer",outcome="applied"} 1.0' in rendered
    assert await tally(chain.consumer, "child-5") == 1
    # The consumer caught up: its lag gauge says so for the partitions it holds.
    assert 'consumer_lag_records{consumer="chain-consumer"' in rendered
    assert all(
        line.endswith(" 0.0") for line in rendered.splitlines() if line.startswith("consumer_lag_records{")
    )
    groups = {chain.kafka.topic_prefix + GROUP: [chain.dlt]}
    assert await dead_letter_depth(chain.kafka, groups) == {(chain.kafka.topic_prefix + GROUP, chain.dlt): 2}

    dlt_reader = make_consumer(
        chain.kafka, group_id=chain.kafka.topic_prefix + "dlt-reader", client_id="dlt", topics=[chain.dlt]
    )
    await dlt_reader.start()
    chain.consumers.append(dlt_reader)
    dead: list[Any] = []
    async with asyncio.timeout(30):
        while len(dead) < 2:
            for records in (await dlt_reader.getmany(timeout_ms=200)).values():
                dead.extend(records)
    reasons = sorted(dict(r.headers)["dlt_reason"].decode() for r in dead)
    assert reasons == ["permanent", "permanent"]
    errors = " | ".join(dict(r.headers)["dlt_error"].decode() for r in dead)
    assert "PermanentError" in errors and "not a CloudEvent" in errors
    assert {dict(r.headers)["dlt_original_topic"].decode() for r in dead} == {chain.topic}
    assert b"not json" in [r.value for r in dead]  # copied verbatim

    # Fix the cause, then replay: the poison note is applied once; the malformed record cannot be,
    # is reported and parked again at the end of the dead-letter topic for a later replay.
    chain.faults.poison_texts.clear()

    def factory(group: str) -> AIOKafkaConsumer:
        return make_consumer(chain.kafka, group_id=group, client_id="replay")

    report = await replay_dead_letters(
        tally_dispatcher(chain.consumer, chain.faults, name=GROUP),
        factory,
        [chain.dlt],
        producer=chain.kafka_producer,
        group_id=chain.kafka.topic_prefix + GROUP,
        topic_prefix=chain.kafka.topic_prefix,
    )
    assert await tally(chain.consumer, "child-5") == 2
    assert report.replayed == 1
    assert report.failed == 1 and "not a CloudEvent" in report.errors[0]
    # One dead letter left: the malformed record, parked again after the replay group's position.
    assert await dead_letter_depth(chain.kafka, groups) == {(chain.kafka.topic_prefix + GROUP, chain.dlt): 1}

    # Replaying again applies nothing twice; the malformed record is tried (and parked) again.
    again = await replay_dead_letters(
        tally_dispatcher(chain.consumer, chain.faults, name=GROUP),
        factory,
        [chain.dlt],
        producer=chain.kafka_producer,
        group_id=chain.kafka.topic_prefix + GROUP,
        topic_prefix=chain.kafka.topic_prefix,
    )
    assert again.replayed == 0
    assert again.failed == 1
    assert await tally(chain.consumer, "child-5") == 2


async def test_only_one_relay_is_active(chain: Chain) -> None:
    stop = asyncio.Event()
    second = OutboxRelay(
        chain.producer.engine,
        chain.producer.tables,
        KafkaPublisher(chain.kafka_producer, chain.kafka.topic_prefix),
        source="inclusion/test-producer",
        poll_interval=0.05,
        lock_retry=0.1,
    )
    first_task = asyncio.create_task(chain.relay.run(stop))
    await asyncio.sleep(0.5)
    second_task = asyncio.create_task(second.run(stop))
    for i in range(20):
        await write_note(chain.producer, "child-6", f"n{i}")
    outbox = chain.producer.tables.outbox
    async with asyncio.timeout(20):
        while await count_rows(chain.producer, outbox, outbox.c.published_at.is_(None)):
            await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(first_task, second_task)
    assert chain.relay.published_total == 20
    assert second.published_total == 0


async def test_outcome_of_unknown_event_type_is_skip(chain: Chain) -> None:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"x-1"),
        ("ce_type", b"inclusion.referrals.future.thing.v9"),
        ("ce_source", b"inclusion/elsewhere"),
    ]
    await (await chain.kafka_producer.send(chain.topic, value=b"{}", key=b"child-7", headers=headers))
    await write_note(chain.producer, "child-7", "after")
    await chain.relay.drain()
    worker = await chain.worker()

    async def seen() -> bool:
        return worker.stats.applied >= 1

    await consume_until(worker, seen)
    assert worker.stats.skipped == 1
    assert worker.stats.dead_lettered == 0
    assert Outcome.SKIPPED.value == "skipped"
    assert REGISTRY.get("inclusion.referrals.future.thing.v9") is None


async def test_relay_is_woken_by_notify_not_its_poll(chain: Chain) -> None:
    # A poll interval far longer than the test: only the commit's NOTIFY can wake the relay in time.
    relay = OutboxRelay(
        chain.producer.engine,
        chain.producer.tables,
        KafkaPublisher(chain.kafka_producer, chain.kafka.topic_prefix),
        source="inclusion/test-producer",
        poll_interval=60,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(1.0)  # let it take the lock, drain nothing and start listening
    started = asyncio.get_running_loop().time()
    await write_note(chain.producer, "child-8", "wake up")
    async with asyncio.timeout(10):
        while relay.published_total < 1:
            await asyncio.sleep(0.02)
    woken_after = asyncio.get_running_loop().time() - started
    stop.set()
    await task
    assert woken_after < 5  # well inside the 60 s poll
