"""``reporting rebuild``: replay the topics from the start into a fresh generation of the read
models and switch readers to it once it has caught up, without downtime for readers.

1. A new generation is created empty, status ``building`` (readers keep using the active one).
2. A source replays every event into it through the same dispatcher as the live consumer (its own
   consumer name and inbox, handlers bound to the new generation), up to the end of the log as it
   was when the pass started.
3. **Switch**: one transaction marks it ``active`` and the previous one ``retired``. Readers look
   the active generation up per request, so the next report reads the new tables; the live
   consumer looks it up per batch, so its next batch writes there too.
4. A second pass replays what was logged up to the switch. An event the live consumer applied to
   the old generation just before the switch is thus in the new one as well, and one the live
   consumer and the rebuild both apply after it is applied once (the generation's ledger).
5. Retired generations beyond ``keep_previous`` are dropped (kept ones allow ``reporting activate``
   as a rollback).

Where the log is: in Kafka mode the topics themselves (a consumer group per generation reading
from the earliest offset; retention must keep the topics whole, see docs). In embedded mode
(SQLite, ``inclusion up``) there is no broker: the log is the producing services' outbox tables,
whose delivered rows the embedded bus keeps, so the rebuild reads those (``--from-outbox``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inclusion_kit.db.metadata import KitTables
from inclusion_kit.messaging.dispatch import Delivery, Dispatcher, Failure, Outcome
from inclusion_kit.messaging.unit_of_work import envelope_from_outbox
from inclusion_kit.service import ServiceKernel
from reporting.adapters.repository import RETIRED, Generations
from reporting.domain import commands
from reporting.service_layer.handlers import CONSUMER, Context, fixed_generation, projection_handlers
from reporting.service_layer.unit_of_work import UnitOfWork


class RebuildSource(Protocol):
    name: str

    async def catch_up(self, dispatcher: Dispatcher[UnitOfWork]) -> int:
        """Dispatch every event up to the end of the log as it is now; events seen this pass."""
        ...

    async def close(self) -> None: ...


@dataclass
class RebuildReport:
    generation: int
    previous: int | None = None
    switched: bool = False
    events: int = 0
    applied: int = 0
    failed: int = 0
    seconds: float = 0.0
    dropped: list[int] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        switched = f"active (replaced {self.previous})" if self.switched else "built, not switched"
        return (
            f"generation {self.generation} {switched}: {self.events} events "
            f"({self.applied} applied, {self.failed} failed) in {self.seconds:.1f} s = "
            f"{self.events_per_second:,.0f} events/s; dropped {self.dropped or 'none'}"
        )


def rebuild_dispatcher(
    kernel: ServiceKernel[UnitOfWork], ctx: Context, generation: int
) -> Dispatcher[UnitOfWork]:
    handlers, batch_handlers = projection_handlers(ctx, fixed_generation(generation))
    return Dispatcher(
        f"{CONSUMER}.rebuild.g{generation}",
        kernel.registry,
        handlers,
        kernel.uow,
        kernel.retry_policy(),
        batch_handlers=batch_handlers,
    )


async def rebuild(
    kernel: ServiceKernel[UnitOfWork], ctx: Context, source: RebuildSource, cmd: commands.Rebuild
) -> RebuildReport:
    async with kernel.uow() as uow:
        generation = await Generations(uow.session).create(source=source.name)
        await uow.commit()
    report = RebuildReport(generation=generation)
    dispatcher = rebuild_dispatcher(kernel, ctx, generation)
    counting = _Counting(dispatcher, report)
    started = time.perf_counter()
    try:
        report.events += await source.catch_up(counting)
        if cmd.switch:
            async with kernel.uow() as uow:
                report.previous = await Generations(uow.session).activate(generation)
                await uow.commit()
            report.switched = True
            report.events += await source.catch_up(counting)
    finally:
        report.seconds = time.perf_counter() - started
        await source.close()
    if cmd.switch:
        report.dropped = await drop_retired(kernel, keep=cmd.keep_previous)
    return report


async def drop_retired(kernel: ServiceKernel[UnitOfWork], *, keep: int) -> list[int]:
    """Drop retired generations but the ``keep`` most recent."""
    async with kernel.uow() as uow:
        generations = Generations(uow.session)
        retired = [g.generation for g in await generations.all() if g.status == RETIRED]
        doomed = sorted(retired)[: max(0, len(retired) - keep)]
        for generation in doomed:
            await generations.drop(generation)
        await uow.commit()
    return doomed


async def activate(kernel: ServiceKernel[UnitOfWork], generation: int) -> int | None:
    """Point readers (and the live consumer) at another existing generation: a rollback."""
    async with kernel.uow() as uow:
        previous = await Generations(uow.session).activate(generation)
        await uow.commit()
    return previous


class _Counting(Dispatcher[UnitOfWork]):
    """The rebuild's dispatcher, counting outcomes for the report."""

    def __init__(self, inner: Dispatcher[UnitOfWork], report: RebuildReport) -> None:
        self.__dict__.update(inner.__dict__)
        self.report = report

    async def process_batch(self, deliveries: Sequence[Delivery]) -> list[Outcome | Failure]:
        results = await super().process_batch(deliveries)
        self.report.applied += sum(1 for r in results if r is Outcome.APPLIED)
        self.report.failed += sum(1 for r in results if isinstance(r, Failure))
        return results


class OutboxSource:
    """Embedded mode's log: the delivered rows of the producing services' outbox tables, read in
    each outbox's order (one child's events keep theirs). Each pass reads what is delivered now
    and skips what an earlier pass dispatched."""

    name = "outbox"

    def __init__(self, engines: Sequence[AsyncEngine], tables: KitTables, page: int = 2000) -> None:
        self.engines = list(engines)
        self.tables = tables
        self.page = page
        self._seen: set[str] = set()

    async def catch_up(self, dispatcher: Dispatcher[UnitOfWork]) -> int:
        outbox = self.tables.outbox
        count = 0
        for engine in self.engines:
            after = -1
            while True:
                async with engine.connect() as conn:
                    rows = (
                        await conn.execute(
                            select(outbox)
                            .where(outbox.c.published_at.is_not(None), outbox.c.seq > after)
                            .order_by(outbox.c.seq)
                            .limit(self.page)
                        )
                    ).all()
                    await conn.rollback()
                if not rows:
                    break
                after = rows[-1].seq
                deliveries = []
                for row in rows:
                    if row.id in self._seen:
                        continue
                    self._seen.add(row.id)
                    deliveries.append(Delivery(envelope_from_outbox(row)))
                if deliveries:
                    await _dispatch(dispatcher, deliveries)
                    count += len(deliveries)
        return count

    async def close(self) -> None:
        for engine in self.engines:
            await engine.dispose()


async def _dispatch(dispatcher: Dispatcher[UnitOfWork], deliveries: list[Delivery]) -> None:
    results = await dispatcher.process_batch(deliveries)
    failures = [r for r in results if isinstance(r, Failure)]
    if failures:
        # No dead-letter topic to park them on here: a rebuild that cannot apply an event stops
        # rather than switching readers to read models that miss it.
        raise RuntimeError(f"rebuild could not apply {len(failures)} event(s): {failures[0].error}")


class ListSource:
    """Events already in memory (tests, and replays of an exported log)."""

    name = "list"

    def __init__(self, deliveries: Sequence[Delivery], batch: int = 2000) -> None:
        self.deliveries = list(deliveries)
        self.batch = batch
        self._done = 0

    async def catch_up(self, dispatcher: Dispatcher[UnitOfWork]) -> int:
        todo = self.deliveries[self._done :]
        for start in range(0, len(todo), self.batch):
            await _dispatch(dispatcher, todo[start : start + self.batch])
        self._done = len(self.deliveries)
        return len(todo)

    def extend(self, deliveries: Sequence[Delivery]) -> None:
        self.deliveries.extend(deliveries)

    async def close(self) -> None:
        return None
