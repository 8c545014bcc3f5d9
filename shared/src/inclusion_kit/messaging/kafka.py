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

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

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


async def ensure_topics(
    settings: KafkaSettings, topics: Iterable[str], *, partitions: int = 3, replication_factor: int = 1
) -> None:
    """Create missing topics (idempotent). Production declares topics in deploy/kafka; this keeps
    local runs and tests independent of the broker's auto-create setting."""
    wanted = sorted(set(topics))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **_security(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
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
    """Sends envelopes in order; returns per-envelope errors (None = acked by all replicas)."""

    def __init__(self, producer: AIOKafkaProducer, topic_prefix: str = "") -> None:
        self.producer = producer
        self.topic_prefix = topic_prefix

    async def publish_batch(self, envelopes: Sequence[Envelope]) -> list[BaseException | None]:
        # Queue every record before awaiting any: aiokafka batches per partition and, with
        # idempotence, keeps one partition's records in order.
        futures = []
        for envelope in envelopes:
            futures.append(
                await self.producer.send(
                    self.topic_prefix + envelope.topic,
                    value=envelope.data,
                    key=envelope.key.encode(),
                    headers=envelope.kafka_headers(),
                )
            )
        results = await asyncio.gather(*futures, return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in results]
