"""Handlers of reporting: every topic's events into the read models (reporting takes no commands
over HTTP; its one operator command, the rebuild, is in ``service_layer/rebuild.py``).

One consumer group, ``reporting``, handles every projected event type. Each handler is a batch
handler (the dispatcher hands it a run of consecutive events of one type in one transaction; a
county day of attendance is 240,000 events) with the single-event form the dispatcher uses for
retries. The live consumer writes into the *active* generation, looked up in the same transaction
(and created empty on the first event ever); a rebuild builds the same handlers bound to the
generation it is building.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from inclusion_kit.calendar import SchoolCalendar
from inclusion_kit.contracts.base import IntegrationEvent
from inclusion_kit.messaging.dispatch import BatchContext, BatchHandler, Handler, HandlerContext
from inclusion_kit.service import ConsumerSpec
from reporting.adapters.orm import ProjectionTables
from reporting.adapters.repository import Generations
from reporting.domain.model import MarkDeltas, PeriodIndex
from reporting.service_layer.projections import PROJECTED_TYPES, Projector
from reporting.service_layer.unit_of_work import UnitOfWork

CONSUMER = "reporting"

# Which generation a handler writes into, resolved inside the message's transaction.
Target = Callable[[UnitOfWork], Awaitable[ProjectionTables]]


@dataclass(frozen=True)
class Context:
    """What handlers need besides the unit of work: the LA's calendar (periods of a mark)."""

    calendar: SchoolCalendar


async def active_generation(uow: UnitOfWork) -> ProjectionTables:
    generations = Generations(uow.session)
    return generations.tables(await generations.ensure_active())


def fixed_generation(generation: int) -> Target:
    async def target(uow: UnitOfWork) -> ProjectionTables:
        return Generations(uow.session).tables(generation)

    return target


def projection_handlers(
    ctx: Context, target: Target
) -> tuple[dict[str, Handler[UnitOfWork]], dict[str, BatchHandler[UnitOfWork]]]:
    # Built once per consumer (not per batch): they keep the periods and marks already worked out.
    marks = MarkDeltas(PeriodIndex(ctx.calendar))

    async def batch(events: list[IntegrationEvent], bctx: BatchContext[UnitOfWork]) -> None:
        pt = await target(bctx.uow)
        await Projector(bctx.uow.session, pt, marks).apply(events, bctx.envelopes)

    async def single(event: IntegrationEvent, hctx: HandlerContext[UnitOfWork]) -> None:
        pt = await target(hctx.uow)
        await Projector(hctx.uow.session, pt, marks).apply([event], [hctx.envelope])

    return {t: single for t in PROJECTED_TYPES}, {t: batch for t in PROJECTED_TYPES}


def consumers(ctx: Context) -> list[ConsumerSpec[UnitOfWork]]:
    """The consumer groups of this service and the event types each handles."""
    handlers, batch_handlers = projection_handlers(ctx, active_generation)
    return [ConsumerSpec(name=CONSUMER, handlers=handlers, batch_handlers=batch_handlers)]
