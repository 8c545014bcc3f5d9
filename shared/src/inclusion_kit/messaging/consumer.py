"""The Kafka consume loop, dead-letter topics and ``dlt-replay``.

Records of one partition are processed strictly in order (one child's events stay in order).
Offsets are committed only after the records' database transactions committed (if the group
rebalanced meanwhile, the offsets of partitions this member lost are left to their new owner, which
reads those records again and finds them in the inbox); a record that fails for good is copied
verbatim to ``<topic>.<group>.dlt`` with reason headers, and only once the broker acknowledged
that copy is its offset committed. A failed dead-letter publish is never
acknowledged: the loop stops with an error and the record is read again after restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from inclusion_kit.contracts.envelope import Envelope, EnvelopeError
from inclusion_kit.contracts.topics import dead_letter_topic
from inclusion_kit.messaging.dispatch import (
    Delivery,
    Dispatcher,
    Failure,
    FailureKind,
    Outcome,
    describe,
)

if TYPE_CHECKING:
    from inclusion_kit.observability import ServiceMetrics

log = logging.getLogger(__name__)

DLT_HEADER_PREFIX = "dlt_"


class DeadLetterPublishError(RuntimeError):
    """The dead-letter copy was not acknowledged; the record must not be acknowledged either."""


@dataclass
class ConsumeStats:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: Outcome) -> None:
        if outcome is Outcome.APPLIED:
            self.applied += 1
        elif outcome is Outcome.DUPLICATE:
            self.duplicates += 1
        elif outcome is Outcome.SKIPPED:
            self.skipped += 1
        else:
            self.dead_lettered += 1


def dead_letter_headers(
    record: ConsumerRecord[Any, Any], group: str, failure: Failure
) -> list[tuple[str, bytes]]:
    original = [(k, v) for k, v in (record.headers or ()) if not k.startswith(DLT_HEADER_PREFIX)]
    reasons = {
        "dlt_reason": failure.reason,
        "dlt_error": failure.error,
        "dlt_attempts": str(failure.attempts),
        "dlt_group": group,
        "dlt_original_topic": record.topic,
        "dlt_original_partition": str(record.partition),
        "dlt_original_offset": str(record.offset),
        "dlt_failed_at": datetime.now(UTC).isoformat(),
    }
    return original + [(k, v.encode()) for k, v in reasons.items()]


class KafkaConsumerWorker:
    def __init__(
        self,
        dispatcher: Dispatcher[Any],
        consumer: AIOKafkaConsumer,
        dlt_producer: AIOKafkaProducer,
        *,
        group_id: str,
        poll_timeout_ms: int = 500,
        topic_prefix: str = "",
        max_batch: int = 2000,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.max_batch = max_batch
        self.metrics = metrics
        self._lag_recorded_at = 0.0
        self.topic_prefix = topic_prefix
        self.dispatcher = dispatcher
        self.consumer = consumer
        self.dlt_producer = dlt_producer
        self.group_id = group_id
        self.poll_timeout_ms = poll_timeout_ms
        self.stats = ConsumeStats()

    async def process_record(self, record: ConsumerRecord[Any, Any]) -> Outcome:
        try:
            envelope = Envelope.from_kafka(
                topic=record.topic.removeprefix(self.topic_prefix),
                key=record.key,
                value=record.value,
                headers=record.headers or (),
            )
        except EnvelopeError as exc:
            result: Outcome | Failure = Failure(FailureKind.PERMANENT, "permanent", describe(exc), 1)
        else:
            result = await self.dispatcher.process(
                Delivery(envelope, partition=record.partition, offset=record.offset)
            )
        if isinstance(result, Failure):
            await self.dead_letter(record, result)
            return Outcome.DEAD_LETTERED
        return result

    async def dead_letter(self, record: ConsumerRecord[Any, Any], failure: Failure) -> None:
        topic = dead_letter_topic(record.topic, self.group_id)
        try:
            future = await self.dlt_producer.send(
                topic,
                value=record.value,
                key=record.key,
                headers=dead_letter_headers(record, self.group_id, failure),
            )
            await future
        except Exception as exc:
            raise DeadLetterPublishError(
                f"could not dead-letter {record.topic}:{record.partition}:{record.offset} to {topic}"
            ) from exc
        if self.metrics is not None:
            self.metrics.dead_lettered.labels(self.group_id, failure.reason).inc()
        log.warning(
            "dead-lettered",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "dlt_topic": topic,
                "reason": failure.reason,
                "error": failure.error,
            },
        )

    async def run_once(self) -> int:
        """Poll once, apply the records, commit their offsets; returns records handled.

        The records of all partitions in one poll are applied together (one partition's records
        stay in order and contiguous), so a busy consumer pays one transaction and one offset
        commit per poll rather than per record."""
        batches = await self.consumer.getmany(timeout_ms=self.poll_timeout_ms)
        by_partition: dict[TopicPartition, list[ConsumerRecord[Any, Any]]] = {}
        for tp, part in batches.items():
            by_partition.setdefault(tp, []).extend(part)
        count = sum(len(part) for part in by_partition.values())
        # Under backlog, take what the client already buffered (no waiting) up to the batch size:
        # fewer, larger transactions; when idle this adds no latency.
        while batches and count < self.max_batch:
            batches = await self.consumer.getmany(timeout_ms=0, max_records=self.max_batch - count)
            for tp, part in batches.items():
                by_partition.setdefault(tp, []).extend(part)
                count += len(part)
        records = [record for part in by_partition.values() for record in part]
        before = (self.stats.applied, self.stats.duplicates, self.stats.skipped, self.stats.dead_lettered)
        done: dict[TopicPartition, int] = {}
        try:
            for chunk in self._chunks(records):
                if isinstance(chunk, list):
                    results = await self.dispatcher.process_batch([delivery for _record, delivery in chunk])
                    for (record, _delivery), result in zip(chunk, results, strict=True):
                        if isinstance(result, Failure):
                            await self.dead_letter(record, result)
                            result = Outcome.DEAD_LETTERED
                        self.stats.count(result)
                        done[TopicPartition(record.topic, record.partition)] = record.offset + 1
                else:
                    self.stats.count(await self.process_record(chunk))
                    done[TopicPartition(chunk.topic, chunk.partition)] = chunk.offset + 1
        finally:
            # Offsets only after the database commit; what was fully processed is committed even
            # if a later record raised.
            if done:
                await self._commit(done)
            if self.metrics is not None:
                after = (
                    self.stats.applied,
                    self.stats.duplicates,
                    self.stats.skipped,
                    self.stats.dead_lettered,
                )
                for outcome, old, new in zip(Outcome, before, after, strict=True):
                    if new > old:
                        self.metrics.consumed.labels(self.group_id, outcome.value).inc(new - old)
                await self._record_lag()
        return len(records)

    async def _commit(self, done: dict[TopicPartition, int]) -> None:
        """Commit what was processed, unless the group took the partition away meanwhile (another
        replica joined or left): its new owner reads those records again, and its inbox recognises
        each one already applied here, so nothing is applied twice and nothing is lost."""
        assigned = self.consumer.assignment()
        owned = {tp: offset for tp, offset in done.items() if tp in assigned}
        error: str | None = None
        try:
            if owned:
                await self.consumer.commit(owned)
        except (CommitFailedError, IllegalStateError) as exc:
            owned = {}
            error = describe(exc)
        lost = sorted(f"{tp.topic}:{tp.partition}" for tp in done if tp not in owned)
        if lost:
            log.warning(
                "offsets not committed: the group rebalanced",
                extra={"group": self.group_id, "partitions": lost, "error": error},
            )

    async def _record_lag(self) -> None:
        """Records behind the end of each assigned partition (the highwater mark the last fetch
        reported minus this group's position), at most once a second."""
        now = time.monotonic()
        if self.metrics is None or now - self._lag_recorded_at < 1.0:
            return
        self._lag_recorded_at = now
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            position = await self.consumer.position(tp)
            topic = tp.topic.removeprefix(self.topic_prefix)
            self.metrics.consumer_lag.labels(self.group_id, topic, str(tp.partition)).set(
                max(0, highwater - position)
            )

    def _chunks(self, records: Sequence[ConsumerRecord[Any, Any]]) -> list[Any]:
        """Runs of well-formed CloudEvents (batched) split by malformed records (one by one)."""
        chunks: list[Any] = []
        run: list[tuple[ConsumerRecord[Any, Any], Delivery]] = []
        for record in records:
            try:
                envelope = Envelope.from_kafka(
                    topic=record.topic.removeprefix(self.topic_prefix),
                    key=record.key,
                    value=record.value,
                    headers=record.headers or (),
                )
            except EnvelopeError:
                if run:
                    chunks.append(run)
                    run = []
                chunks.append(record)
                continue
            run.append((record, Delivery(envelope, partition=record.partition, offset=record.offset)))
        if run:
            chunks.append(run)
        return chunks

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.run_once()


@dataclass
class ReplayReport:
    replayed: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def envelope_from_dead_letter(
    record: ConsumerRecord[Any, Any], topic_prefix: str = ""
) -> tuple[Envelope, str]:
    headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith(DLT_HEADER_PREFIX)]
    original_topic = next(
        (v.decode() for k, v in (record.headers or ()) if k == "dlt_original_topic"), record.topic
    )
    original_topic = original_topic.removeprefix(topic_prefix)
    envelope = Envelope.from_kafka(topic=original_topic, key=record.key, value=record.value, headers=headers)
    return envelope, original_topic


async def replay_dead_letters(
    dispatcher: Dispatcher[Any],
    consumer_factory: Any,
    dlt_topics: Sequence[str],
    *,
    producer: AIOKafkaProducer,
    group_id: str,
    timeout_ms: int = 1000,
    topic_prefix: str = "",
) -> ReplayReport:
    """Re-dispatch dead letters through the same path (inbox included).

    Reads each dead-letter topic from the replay group's committed position up to the end seen at
    start. A record that fails again is parked once more at the end of its dead-letter topic (with
    ``dlt_replay_attempts`` counted up) before its offset is committed, so one record that can
    never succeed does not hold back the others, and a later replay tries it again.
    """
    report = ReplayReport()
    consumer: AIOKafkaConsumer = consumer_factory(f"{group_id}.dlt-replay")
    await consumer.start()
    try:
        partitions: list[TopicPartition] = []
        for topic in dlt_topics:
            for p in await _partitions_for(consumer, topic):
                partitions.append(TopicPartition(topic, p))
        if not partitions:
            return report
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            if await consumer.committed(tp) is None:
                await consumer.seek_to_beginning(tp)
        while True:
            remaining = [tp for tp in partitions if await consumer.position(tp) < end[tp]]
            if not remaining:
                break
            batches = await consumer.getmany(*remaining, timeout_ms=timeout_ms)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        break
                    try:
                        envelope, _topic = envelope_from_dead_letter(record, topic_prefix)
                        result = await dispatcher.process(Delivery(envelope, partition=None, offset=None))
                    except EnvelopeError as exc:
                        result = Failure(FailureKind.PERMANENT, "permanent", describe(exc), 1)
                    if isinstance(result, Failure):
                        report.failed += 1
                        report.errors.append(f"{tp.topic}:{tp.partition}@{record.offset}: {result.error}")
                        await _park_again(producer, record, result)
                    elif result is Outcome.APPLIED:
                        report.replayed += 1
                    elif result is Outcome.DUPLICATE:
                        report.duplicates += 1
                    else:
                        report.skipped += 1
                    await consumer.commit({tp: record.offset + 1})
    finally:
        await consumer.stop()
    return report


async def _park_again(producer: AIOKafkaProducer, record: ConsumerRecord[Any, Any], failure: Failure) -> None:
    headers = dict(record.headers or ())
    attempts = int(headers.get("dlt_replay_attempts", b"0").decode() or 0) + 1
    kept = [(k, v) for k, v in (record.headers or ()) if k not in ("dlt_replay_attempts", "dlt_error")]
    kept += [("dlt_replay_attempts", str(attempts).encode()), ("dlt_error", failure.error.encode())]
    try:
        await (await producer.send(record.topic, value=record.value, key=record.key, headers=kept))
    except Exception as exc:
        raise DeadLetterPublishError(f"could not park {record.topic}@{record.offset} again") from exc


async def _partitions_for(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    for _ in range(10):
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return sorted(parts)
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return sorted(parts)
        await asyncio.sleep(0.2)
    return []
