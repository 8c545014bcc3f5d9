"""The consume loop when the group rebalances between a poll and its offset commit (a replica
joined or left): the partitions this member lost are left to their new owner, which reads those
records again and finds them in its inbox; the loop keeps running."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.messaging.consumer import KafkaConsumerWorker
from inclusion_kit.messaging.dispatch import Delivery, Outcome

from .chain import NoteWritten

TOPIC = "inclusion.referrals"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


def record(tp: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
    event = NoteWritten(
        child_ref=f"c-{tp.partition}-{offset}",
        aggregate_id=f"n-{tp.partition}-{offset}",
        aggregate_version=1,
        occurred_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        text="note",
    )
    envelope = Envelope.wrap(event, source="inclusion/test")
    return ConsumerRecord(
        topic=tp.topic,
        partition=tp.partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=envelope.key.encode(),
        value=envelope.data,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=envelope.kafka_headers(),
    )


class FakeConsumer:
    """Hands out one poll; then the group has rebalanced: only ``kept`` is still assigned."""

    def __init__(self, kept: set[TopicPartition], commit_error: Exception | None = None) -> None:
        self.polls = [{P0: [record(P0, 0), record(P0, 1)], P1: [record(P1, 7)]}]
        self.kept = kept
        self.commit_error = commit_error
        self.committed: list[dict[TopicPartition, int]] = []

    async def getmany(self, *_: Any, **__: Any) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        return self.polls.pop(0) if self.polls else {}

    def assignment(self) -> set[TopicPartition]:
        return set(self.kept)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.commit_error is not None:
            raise self.commit_error
        lost = [tp for tp in offsets if tp not in self.kept]
        if lost:
            raise IllegalStateError(f"Partition {lost[0]} is not assigned")
        self.committed.append(dict(offsets))


class AppliesAll:
    async def process_batch(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        return [Outcome.APPLIED for _ in deliveries]


def worker(consumer: FakeConsumer) -> KafkaConsumerWorker:
    return KafkaConsumerWorker(
        AppliesAll(),  # type: ignore[arg-type]
        consumer,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        group_id="g",
    )


async def test_offsets_of_partitions_still_owned_are_committed_the_others_left() -> None:
    consumer = FakeConsumer(kept={P1})
    w = worker(consumer)
    assert await w.run_once() == 3
    assert consumer.committed == [{P1: 8}]
    assert w.stats.applied == 3
    assert await w.run_once() == 0  # the loop carries on


@pytest.mark.parametrize(
    "error", [CommitFailedError("the group has already rebalanced"), IllegalStateError("not assigned")]
)
async def test_a_commit_refused_for_a_rebalance_does_not_stop_the_loop(error: Exception) -> None:
    consumer = FakeConsumer(kept={P0, P1}, commit_error=error)
    w = worker(consumer)
    assert await w.run_once() == 3
    assert consumer.committed == []
    assert await w.run_once() == 0
