"""aiokafka client factories and the Kafka side of publishing.

The producer is idempotent, which in aiokafka implies ``acks="all"``; consumers never auto-commit:
offsets are committed only after the database transaction that applied the records.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner

from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.settings import KafkaSettings

log = logging.getLogger(__name__)


def _security(settings: KafkaSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=settings.ssl_cafile)
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    return options


def make_producer(settings: KafkaSettings, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,  # implies acks="all"
        acks="all",
        linger_ms=settings.linger_ms,
        max_batch_size=settings.max_batch_size,
        request_timeout_ms=settings.request_timeout_ms,
        **_security(settings),
    )


def make_consumer(
    settings: KafkaSettings,
    *,
    group_id: str,
    client_id: str,
    topics: Sequence[str] = (),
    auto_offset_reset: str = "earliest",
    max_poll_records: int = 500,
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset=auto_offset_reset,
        max_poll_records=max_poll_records,
        request_timeout_ms=settings.request_timeout_ms,
        **_security(settings),
    )


class MissingTopics(RuntimeError):
    pass


async def ensure_topics(
    settings: KafkaSettings,
    topics: Iterable[str],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    create: bool = True,
) -> None:
    """Create missing topics (idempotent), for local runs and tests, independent of the broker's
    auto-create setting. With ``create=False`` (staging and production, where the topics, their
    partitions, replication and retention are declared in deploy/kafka/topics.yaml) a missing
    topic is an error naming it, never a topic made with the wrong settings."""
    wanted = sorted(set(topics))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **_security(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing and not create:
            raise MissingTopics(
                f"topics missing on the broker: {', '.join(missing)}; apply deploy/kafka/topics.yaml "
                "(python deploy/kafka/apply_topics.py) first"
            )
        if missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(name=t, num_partitions=partitions, replication_factor=replication_factor)
                        for t in missing
                    ]
                )
            except TopicAlreadyExistsError:
                pass  # created concurrently by another worker
    finally:
        await admin.close()


async def check_broker(settings: KafkaSettings, timeout: float = 5.0) -> None:
    """Raise unless the broker answers a metadata request (used by /readyz)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=int(timeout * 1000),
        **_security(settings),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
    finally:
        await admin.close()


class KafkaPublisher:
    """Sends envelopes in order; returns per-envelope errors (None = acked by all replicas).

    Records are appended to one batch per partition (aiokafka's ``create_batch``/``send_batch``)
    rather than sent one by one: a future per batch instead of per record is what lets the relay
    keep up with the broker. Partitions come from the same murmur2 partitioner ``send()`` uses, so
    a child's events land where any Kafka client would put that key; batches of one partition are
    sent in order, and the idempotent producer keeps them in order.
    """

    def __init__(self, producer: AIOKafkaProducer, topic_prefix: str = "") -> None:
        self.producer = producer
        self.topic_prefix = topic_prefix
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}

    async def _partitions_for(self, topic: str) -> list[int]:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = sorted(await self.producer.partitions_for(topic))
            self._partitions[topic] = partitions
        return partitions

    async def publish_batch(self, envelopes: Sequence[Envelope]) -> list[BaseException | None]:
        # (topic, partition) -> list of (builder, indices of the envelopes in it), in order
        batches: dict[tuple[str, int], list[tuple[Any, list[int]]]] = {}
        for index, envelope in enumerate(envelopes):
            topic = self.topic_prefix + envelope.topic
            key = envelope.key.encode()
            partitions = await self._partitions_for(topic)
            partition = self._partitioner(key, partitions, partitions)
            chain = batches.setdefault((topic, partition), [])
            if (
                not chain
                or chain[-1][0].append(
                    timestamp=None, key=key, value=envelope.data, headers=envelope.kafka_headers()
                )
                is None
            ):
                builder = self.producer.create_batch()
                if (
                    builder.append(
                        timestamp=None, key=key, value=envelope.data, headers=envelope.kafka_headers()
                    )
                    is None
                ):
                    raise ValueError(f"event {envelope.id} is larger than the producer's batch size")
                chain.append((builder, [index]))
            else:
                chain[-1][1].append(index)
        results: list[BaseException | None] = [None] * len(envelopes)
        pending = []
        for (topic, partition), chain in batches.items():
            for builder, indices in chain:
                future = await self.producer.send_batch(builder, topic, partition=partition)
                pending.append((future, indices))
        outcomes = await asyncio.gather(*(future for future, _ in pending), return_exceptions=True)
        for (_future, indices), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                for index in indices:
                    results[index] = outcome
        return results


async def dead_letter_depth(
    settings: KafkaSettings, groups: dict[str, list[str]]
) -> dict[tuple[str, str], int]:
    """Dead letters not yet replayed: for each consumer group and its dead-letter topics (names
    with the prefix), the topic's end offsets minus the committed offsets of the group's replay
    group (``<group>.dlt-replay``), or minus the log start where it never committed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **_security(settings))
    reader = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, **_security(settings))
    await admin.start()
    await reader.start()
    depth: dict[tuple[str, str], int] = {}
    try:
        existing = set(await admin.list_topics())
        for group, topics in groups.items():
            committed = await admin.list_consumer_group_offsets(f"{group}.dlt-replay")
            for topic in topics:
                if topic not in existing:
                    depth[(group, topic)] = 0
                    continue
                partitions = reader.partitions_for_topic(topic)
                if not partitions:
                    await reader._client.force_metadata_update()
                    partitions = reader.partitions_for_topic(topic) or set()
                tps = [TopicPartition(topic, p) for p in sorted(partitions)]
                ends = await reader.end_offsets(tps)
                starts = await reader.beginning_offsets(tps)
                total = 0
                for tp in tps:
                    done = committed.get(tp)
                    position = done.offset if done is not None and done.offset >= 0 else starts[tp]
                    total += max(0, ends[tp] - max(position, starts[tp]))
                depth[(group, topic)] = total
    finally:
        await reader.stop()
        await admin.close()
    return depth
