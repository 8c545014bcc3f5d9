"""A tiny two-service domain used to prove the messaging chain.

"Producer" stores notes about a child and publishes ``NoteWritten``; "consumer" keeps a tally per
child in its own database. Each has its own metadata with the kit tables, exactly like a service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inclusion_kit.contracts import EventRegistry, IntegrationEvent
from inclusion_kit.db import KitTables, create_engine, make_metadata, session_factory
from inclusion_kit.messaging.dispatch import Dispatcher, HandlerContext, PermanentError, RetryPolicy
from inclusion_kit.messaging.unit_of_work import UnitOfWork


class NoteWritten(IntegrationEvent):
    event_type: ClassVar[str] = "inclusion.referrals.chain-note.written.v1"
    text: str


REGISTRY = EventRegistry([NoteWritten])


@dataclass
class Side:
    engine: AsyncEngine
    metadata: MetaData
    tables: KitTables
    extra: dict[str, Table] = field(default_factory=dict)

    def uow(self, source: str = "inclusion/test-producer") -> UnitOfWork:
        return UnitOfWork(session_factory(self.engine), self.tables, source)

    async def create(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.metadata.create_all)


def producer_side(url: str) -> Side:
    metadata = make_metadata()
    tables = KitTables(metadata)
    notes = Table(
        "notes",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("child_ref", String(64), nullable=False),
        Column("text", String(200), nullable=False),
    )
    return Side(create_engine(url), metadata, tables, {"notes": notes})


def consumer_side(url: str) -> Side:
    metadata = make_metadata()
    tables = KitTables(metadata)
    tallies = Table(
        "tallies",
        metadata,
        Column("child_ref", String(64), primary_key=True),
        Column("count", Integer, nullable=False),
    )
    return Side(create_engine(url), metadata, tables, {"tallies": tallies})


async def write_note(side: Side, child_ref: str, text: str, *, commit: bool = True) -> NoteWritten:
    """The producer's use case: store a note and its event in one unit of work."""
    note_id = str(uuid.uuid4())
    event = NoteWritten(
        child_ref=child_ref,
        aggregate_id=note_id,
        aggregate_version=1,
        occurred_at=datetime.now(UTC),
        text=text,
    )
    async with side.uow() as uow:
        await uow.session.execute(
            insert(side.extra["notes"]).values(id=note_id, child_ref=child_ref, text=text)
        )
        uow.emit(event)
        if commit:
            await uow.commit()
    return event


@dataclass
class Faults:
    """Switches the tests flip to make the consumer's handler fail."""

    poison_texts: set[str] = field(default_factory=set)
    calls: int = 0


def tally_dispatcher(
    side: Side, faults: Faults, *, name: str = "chain-consumer", policy: RetryPolicy | None = None
) -> Dispatcher[UnitOfWork]:
    tallies = side.extra["tallies"]

    async def on_note(event: IntegrationEvent, ctx: HandlerContext[UnitOfWork]) -> None:
        assert isinstance(event, NoteWritten)
        faults.calls += 1
        if event.text in faults.poison_texts:
            raise PermanentError("this note cannot be tallied")
        session = ctx.uow.session
        current = await session.scalar(select(tallies.c.count).where(tallies.c.child_ref == event.child_ref))
        if current is None:
            await session.execute(insert(tallies).values(child_ref=event.child_ref, count=1))
        else:
            await session.execute(
                update(tallies).where(tallies.c.child_ref == event.child_ref).values(count=current + 1)
            )

    return Dispatcher(
        name,
        REGISTRY,
        {NoteWritten.event_type: on_note},
        lambda: side.uow("inclusion/test-consumer"),
        policy or RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.05),
    )


async def tally(side: Side, child_ref: str) -> int:
    async with side.engine.connect() as conn:
        value = await conn.scalar(
            select(side.extra["tallies"].c.count).where(side.extra["tallies"].c.child_ref == child_ref)
        )
    return int(value or 0)


async def count_rows(side: Side, table: Table, *where: Any) -> int:
    async with side.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)
