"""``reporting rebuild`` / ``generations`` / ``activate``: the operator's commands on the read models.

Kafka mode replays the topics from their earliest offsets with a consumer group of the new
generation (``<prefix>reporting.rebuild.g<N>``); embedded mode replays the producing services'
outboxes (``--from-outbox sqlite+aiosqlite:///var/referral-api.db`` and so on for each service).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import TopicPartition

from inclusion_kit.db.engine import create_engine
from inclusion_kit.messaging.consumer import KafkaConsumerWorker
from inclusion_kit.messaging.dispatch import Dispatcher
from inclusion_kit.messaging.kafka import ensure_topics, make_consumer, make_producer
from inclusion_kit.service import ServiceKernel, tune_gc_for_worker
from inclusion_kit.settings import ServiceSettings
from reporting.adapters.orm import tables
from reporting.adapters.repository import Generations
from reporting.bootstrap import bootstrap, context
from reporting.config import Settings
from reporting.domain import commands
from reporting.service_layer import rebuild as use_case
from reporting.service_layer.unit_of_work import UnitOfWork


class KafkaSource:
    """The topics from the start, through the kit's consume loop (inbox, retries, dead letters)."""

    name = "kafka"

    def __init__(self, settings: ServiceSettings, poll_timeout_ms: int = 500) -> None:
        self.settings = settings
        self.poll_timeout_ms = poll_timeout_ms
        self._consumer: Any = None
        self._producer: Any = None
        self._worker: KafkaConsumerWorker | None = None

    async def _start(self, dispatcher: Dispatcher[UnitOfWork]) -> KafkaConsumerWorker:
        if self._worker is not None:
            return self._worker
        kafka = self.settings.kafka
        prefix = kafka.topic_prefix
        topics = [prefix + t for t in dispatcher.topics]
        await ensure_topics(kafka, topics)
        group = dispatcher.consumer
        self._producer = make_producer(kafka, client_id=f"{group}-dlt")
        await self._producer.start()
        self._consumer = make_consumer(
            kafka,
            group_id=prefix + group,
            client_id=f"{group}-consumer",
            topics=topics,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.consumer.batch_max_records,
        )
        await self._consumer.start()
        self._worker = KafkaConsumerWorker(
            dispatcher,
            self._consumer,
            self._producer,
            group_id=group,
            topic_prefix=prefix,
            poll_timeout_ms=self.poll_timeout_ms,
            max_batch=self.settings.consumer.batch_max_records,
        )
        return self._worker

    async def catch_up(self, dispatcher: Dispatcher[UnitOfWork]) -> int:
        worker = await self._start(dispatcher)
        before = sum(_stats(worker))
        expected = len(dispatcher.topics)
        # Joining the group assigns the partitions; records fetched meanwhile are processed.
        for _ in range(120):
            assigned = self._consumer.assignment()
            if assigned and len({tp.topic for tp in assigned}) >= expected:
                break
            await worker.run_once()
        else:
            raise RuntimeError("the rebuild's consumer was not assigned the topics' partitions")
        partitions: list[TopicPartition] = sorted(self._consumer.assignment())
        end = await self._consumer.end_offsets(partitions)
        while True:
            behind = [tp for tp in partitions if await self._consumer.position(tp) < end[tp]]
            if not behind:
                break
            await worker.run_once()
        return sum(_stats(worker)) - before

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()


def _stats(worker: KafkaConsumerWorker) -> tuple[int, int, int, int]:
    s = worker.stats
    return (s.applied, s.duplicates, s.skipped, s.dead_lettered)


async def run_rebuild(
    settings: Settings, *, switch: bool, keep: int, outboxes: Sequence[str]
) -> use_case.RebuildReport:
    kernel: ServiceKernel[UnitOfWork] = bootstrap(settings)
    try:
        await kernel.check_schema()
        tune_gc_for_worker()
        source: use_case.RebuildSource
        if outboxes:
            source = use_case.OutboxSource([create_engine(url) for url in outboxes], tables)
        elif settings.bus == "kafka":
            source = KafkaSource(settings)
        else:
            raise SystemExit(
                "reporting rebuild: in embedded mode name the producing services' databases with "
                "--from-outbox URL (their delivered outbox rows are the event log)"
            )
        return await use_case.rebuild(
            kernel, context(settings), source, commands.Rebuild(switch=switch, keep_previous=keep)
        )
    finally:
        await kernel.dispose()


async def list_generations(settings: Settings) -> list[str]:
    kernel = bootstrap(settings)
    try:
        async with kernel.uow() as uow:
            rows = await Generations(uow.session).all()
        return [
            f"g{g.generation}\t{g.status}\tlayout {g.layout}\tfrom {g.source}\t"
            f"created {g.created_at:%Y-%m-%d %H:%M}"
            for g in rows
        ]
    finally:
        await kernel.dispose()


async def run_activate(settings: Settings, generation: int) -> int | None:
    kernel = bootstrap(settings)
    try:
        return await use_case.activate(kernel, generation)
    finally:
        await kernel.dispose()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="reporting", description="reporting's read models")
    sub = parser.add_subparsers(dest="command", required=True)
    rb = sub.add_parser("rebuild", help="replay the topics into a fresh generation and switch readers to it")
    rb.add_argument("--no-switch", action="store_true", help="build it but leave readers where they are")
    rb.add_argument("--keep", type=int, default=1, help="retired generations kept for a rollback (default 1)")
    rb.add_argument(
        "--from-outbox",
        action="append",
        default=[],
        metavar="URL",
        help="embedded mode: a producing service's database whose delivered outbox rows are replayed",
    )
    sub.add_parser("generations", help="list the generations of the read models")
    act = sub.add_parser("activate", help="point readers at another generation (rollback)")
    act.add_argument("generation", type=int)
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "rebuild":
        report = asyncio.run(
            run_rebuild(settings, switch=not args.no_switch, keep=args.keep, outboxes=args.from_outbox)
        )
        print(f"reporting rebuild: {report}")
        return 1 if report.failed else 0
    if args.command == "generations":
        for line in asyncio.run(list_generations(settings)):
            print(line)
        return 0
    previous = asyncio.run(run_activate(settings, args.generation))
    print(f"reporting: generation {args.generation} is active (was {previous})")
    return 0
