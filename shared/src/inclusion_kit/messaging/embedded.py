"""The embedded bus: the one-process transport for ``inclusion up`` (ARCHITECTURE.md §5).

It reads every producing service's outbox and hands each row to the in-process subscribers of its
topic through the same :class:`Dispatcher` the Kafka loop uses (inbox, retries, classification).
A row is marked sent only when every subscriber has it in its inbox (or has dead-lettered it), so
a process killed half-way delivers the rest after restart and the inboxes drop what was already
applied. Dead letters go to the subscriber's own ``dead_letters`` table (there is no broker);
``replay_embedded_dead_letters`` re-dispatches them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.db.metadata import KitTables
from inclusion_kit.messaging.dispatch import Delivery, Dispatcher, Failure, Outcome
from inclusion_kit.messaging.unit_of_work import envelope_from_outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedProducer:
    name: str
    engine: AsyncEngine
    tables: KitTables


@dataclass(frozen=True)
class EmbeddedSubscriber:
    dispatcher: Dispatcher[Any]
    engine: AsyncEngine
    tables: KitTables


class EmbeddedBus:
    def __init__(
        self,
        producers: Sequence[EmbeddedProducer],
        subscribers: Sequence[EmbeddedSubscriber],
        *,
        batch_size: int = 200,
        poll_interval: float = 0.2,
    ) -> None:
        self.producers = list(producers)
        self.subscribers = list(subscribers)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.delivered = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called after a local commit to deliver without waiting for the poll."""
        self._wake.set()

    def _subscribers_for(self, envelope: Envelope) -> list[EmbeddedSubscriber]:
        return [
            s
            for s in self.subscribers
            if envelope.topic in s.dispatcher.topics and s.dispatcher.handles(envelope.type)
        ]

    async def deliver_pending(self) -> int:
        """One pass over every producer's outbox; returns rows marked sent."""
        marked = 0
        for producer in self.producers:
            outbox = producer.tables.outbox
            async with producer.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(outbox)
                        .where(outbox.c.published_at.is_(None))
                        .order_by(outbox.c.seq)
                        .limit(self.batch_size)
                    )
                ).all()
                await conn.rollback()
            if not rows:
                continue
            envelopes = [envelope_from_outbox(row) for row in rows]
            # Each subscriber gets the pass's events as one batch (one transaction, as a Kafka
            # consumer applies a poll), in outbox order; the rows are marked sent only after
            # every subscriber has them. A crash in between re-delivers, and inboxes drop repeats.
            for subscriber in self.subscribers:
                mine = [Delivery(e) for e in envelopes if subscriber in self._subscribers_for(e)]
                if not mine:
                    continue
                results = await subscriber.dispatcher.process_batch(mine)
                for delivery, result in zip(mine, results, strict=True):
                    if isinstance(result, Failure):
                        # If storing the dead letter fails this raises: the rows stay unsent.
                        await store_dead_letter(subscriber, delivery.envelope, result)
            async with producer.engine.begin() as conn:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.seq.in_([row.seq for row in rows]))
                    .values(published_at=datetime.now(UTC), attempts=outbox.c.attempts + 1)
                )
            marked += len(rows)
        self.delivered += marked
        return marked

    async def drain(self, max_passes: int = 10_000) -> int:
        """Deliver until every outbox is empty (events may cause further events)."""
        total = 0
        for _ in range(max_passes):
            n = await self.deliver_pending()
            if n == 0:
                return total
            total += n
        raise RuntimeError("embedded bus did not settle")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                n = await self.deliver_pending()
            except Exception:
                log.exception("embedded bus pass failed")
                n = 0
            if n:
                continue
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait(
                    {waiter, stopper}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
            finally:  # also when the bus itself is cancelled: no task left pending
                waiter.cancel()
                stopper.cancel()


async def store_dead_letter(subscriber: EmbeddedSubscriber, envelope: Envelope, failure: Failure) -> None:
    table = subscriber.tables.dead_letters
    values = {
        "consumer": subscriber.dispatcher.consumer,
        "event_id": envelope.id,
        "topic": envelope.topic,
        "key": envelope.key,
        "event_type": envelope.type,
        "payload": envelope.data,
        "headers": {
            "source": envelope.source,
            "time": envelope.time.isoformat(),
            "subject": envelope.subject,
            "correlation_id": envelope.correlation_id,
            "causation_id": envelope.causation_id,
            "traceparent": envelope.traceparent,
        },
        "reason": failure.reason,
        "error": failure.error,
        "attempts": failure.attempts,
        "failed_at": datetime.now(UTC),
    }
    async with subscriber.engine.begin() as conn:
        # One dead letter per (consumer, event): a redelivery after a crash does not add another.
        existing = await conn.scalar(
            select(table.c.seq).where(
                table.c.consumer == values["consumer"],
                table.c.event_id == envelope.id,
                table.c.replayed_at.is_(None),
            )
        )
        if existing is None:
            await conn.execute(table.insert().values(values))
    log.warning(
        "dead-lettered (embedded)",
        extra={
            "consumer": values["consumer"],
            "event_id": envelope.id,
            "event_type": envelope.type,
            "reason": failure.reason,
            "error": failure.error,
        },
    )


def _envelope_from_dead_letter(row: Any) -> Envelope:
    headers = row.headers or {}
    return Envelope(
        id=row.event_id,
        type=row.event_type,
        source=headers.get("source", "unknown"),
        time=datetime.fromisoformat(headers["time"]) if headers.get("time") else datetime.now(UTC),
        topic=row.topic,
        key=row.key,
        data=bytes(row.payload),
        subject=headers.get("subject"),
        correlation_id=headers.get("correlation_id"),
        causation_id=headers.get("causation_id"),
        traceparent=headers.get("traceparent"),
    )


async def replay_embedded_dead_letters(subscriber: EmbeddedSubscriber) -> dict[str, int]:
    table = subscriber.tables.dead_letters
    counts = {"replayed": 0, "duplicates": 0, "skipped": 0, "failed": 0}
    async with subscriber.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(table)
                .where(table.c.replayed_at.is_(None), table.c.consumer == subscriber.dispatcher.consumer)
                .order_by(table.c.seq)
            )
        ).all()
        await conn.rollback()
    for row in rows:
        result = await subscriber.dispatcher.process(Delivery(_envelope_from_dead_letter(row)))
        if isinstance(result, Failure):
            counts["failed"] += 1
            async with subscriber.engine.begin() as conn:
                await conn.execute(
                    update(table)
                    .where(table.c.seq == row.seq)
                    .values(error=result.error, attempts=row.attempts + result.attempts)
                )
            continue
        key = {Outcome.APPLIED: "replayed", Outcome.DUPLICATE: "duplicates"}.get(result, "skipped")
        counts[key] += 1
        async with subscriber.engine.begin() as conn:
            await conn.execute(
                update(table).where(table.c.seq == row.seq).values(replayed_at=datetime.now(UTC))
            )
    return counts
