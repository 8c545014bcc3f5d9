"""The unit of work: one database transaction per request or message, with its outgoing events.

Build one per request or per message, never one per process (sessions are not safe to share
across concurrent tasks). State changes and the outbox rows for the events they produce commit
in the same transaction, so an event is published if and only if its change was stored.
Services subclass :class:`UnitOfWork` to add their repositories.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inclusion_kit.contracts.base import IntegrationEvent
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.db.engine import asyncpg_connection
from inclusion_kit.db.metadata import KitTables
from inclusion_kit.messaging.context import (
    causation_id_var,
    current_correlation_id,
    new_id,
    traceparent_var,
)

# PostgreSQL: a batch's inbox rows in one statement over column arrays, returning the new ids.
_INBOX_UNNEST = text(
    'INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset", processed_at) '
    "SELECT :consumer, e, t, tp, p, o, :now "
    "FROM unnest(CAST(:ids AS varchar[]), CAST(:types AS varchar[]), CAST(:topics AS varchar[]), "
    "CAST(:partitions AS integer[]), CAST(:offsets AS bigint[])) AS u(e, t, tp, p, o) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)

# The same on the asyncpg connection itself: on a consumed batch (2,000-5,000 events) SQLAlchemy's
# handling of the parameters and of the returned rows costs more than the insert (found by
# bench/attendance_positions.py; enforcement had its own copy of this until the kit took it).
_INBOX_UNNEST_ASYNCPG = (
    'INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset", processed_at) '
    "SELECT $1::varchar, e, t, tp, p, o, $2::timestamptz "
    "FROM unnest($3::varchar[], $4::varchar[], $5::varchar[], $6::integer[], $7::bigint[]) "
    "AS u(e, t, tp, p, o) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)

# What follows a unit of work's commit assumes it is durable: a consumer commits its Kafka offsets,
# an API answers 2xx. So the commit waits for its WAL to be flushed whatever the server's
# ``synchronous_commit`` (deploy/local runs with ``off``, where a database crash lost inbox rows
# and effects whose offsets were already committed: those events never came again; bench/chaos.py
# found it). PostgreSQL only; the relay's marking stays asynchronous (a lost mark only re-sends).
_DURABLE_COMMIT = text("SET LOCAL synchronous_commit TO on")

# From this many events a unit of work writes its outbox rows with COPY (PostgreSQL only).
COPY_THRESHOLD = 64


def notify_channel(source: str) -> str:
    """The LISTEN/NOTIFY channel a service's relay listens on (a valid SQL identifier)."""
    return "outbox_" + hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()[:16]


class UnitOfWork:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tables: KitTables,
        source: str,
    ) -> None:
        self._session_factory = session_factory
        self.tables = tables
        self.source = source
        self._pending: list[Envelope] = []
        self._session: AsyncSession | None = None

    @property
    def dialect(self) -> str:
        bind = self.session.bind
        if bind is None:  # pragma: no cover - sessions here are always bound to an engine
            raise RuntimeError("unit of work session is not bound to an engine")
        return bind.dialect.name

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        self._pending = []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.rollback()
        finally:
            await self.session.close()
            self._session = None

    # -- outgoing events ---------------------------------------------------------------------
    def emit(
        self,
        event: IntegrationEvent,
        *,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> Envelope:
        """Queue ``event`` to be written to the outbox when this unit of work commits."""
        envelope = Envelope.wrap(
            event,
            source=self.source,
            event_id=new_id(),
            correlation_id=correlation_id or current_correlation_id(),
            causation_id=causation_id or causation_id_var.get(),
            traceparent=traceparent_var.get(),
        )
        self._pending.append(envelope)
        return envelope

    def collect_new_events(self) -> list[IntegrationEvent]:
        """Hook for services: return integration events from aggregates seen in this unit."""
        return []

    async def commit(self) -> None:
        for event in self.collect_new_events():
            self.emit(event)
        if self._pending:
            await self._write_outbox(datetime.now(UTC))
            if self.dialect == "postgresql":
                # Delivered at commit; wakes the relay without waiting for its poll.
                await self.session.execute(
                    text("SELECT pg_notify(:channel, '')"), {"channel": notify_channel(self.source)}
                )
        if self.dialect == "postgresql":
            await self.session.execute(_DURABLE_COMMIT)
        await self.session.commit()
        self._pending = []

    async def _write_outbox(self, now: datetime) -> None:
        rows = [outbox_row(envelope, now) for envelope in self._pending]
        driver = await asyncpg_connection(self.session) if len(rows) >= COPY_THRESHOLD else None
        if driver is None:
            await self.session.execute(insert(self.tables.outbox), rows)
            return
        # Bulk units of work (a school's register: hundreds of events) write the outbox with COPY,
        # in the same transaction: several times cheaper than a multi-row INSERT.
        columns = [c for c in rows[0] if c != "headers"]
        await driver.copy_records_to_table(
            self.tables.outbox.name,
            records=[(*(row[c] for c in columns), json.dumps(row["headers"])) for row in rows],
            columns=[*columns, "headers"],
            schema_name=self.tables.outbox.schema,
        )

    async def rollback(self) -> None:
        self._pending = []
        if self._session is not None:
            await self._session.rollback()

    # -- inbox -------------------------------------------------------------------------------
    async def record_inbox(
        self, consumer: str, envelope: Envelope, *, partition: int | None = None, offset: int | None = None
    ) -> bool:
        """Insert the inbox row; False when this consumer already processed the event.

        Runs first in the message's transaction: a concurrent duplicate waits on the primary key
        until the first commits, then sees the conflict.
        """
        values: dict[str, Any] = {
            "consumer": consumer,
            "event_id": envelope.id,
            "event_type": envelope.type,
            "topic": envelope.topic,
            "partition": partition,
            "offset": offset,
            "processed_at": datetime.now(UTC),
        }
        dialect = self.dialect
        table = self.tables.inbox
        if dialect == "postgresql":
            stmt: Any = postgresql.insert(table).values(values).on_conflict_do_nothing()
        elif dialect == "sqlite":
            stmt = sqlite.insert(table).values(values).on_conflict_do_nothing()
        else:  # pragma: no cover - only PostgreSQL and SQLite are supported
            exists = await self.session.scalar(
                select(table.c.event_id).where(table.c.consumer == consumer, table.c.event_id == envelope.id)
            )
            if exists:
                return False
            stmt = insert(table).values(values)
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 1))

    async def record_inbox_many(
        self, consumer: str, deliveries: list[tuple[Envelope, int | None, int | None]]
    ) -> set[str]:
        """Insert inbox rows for several events in one statement; returns the ids that were new."""
        if not deliveries:
            return set()
        now = datetime.now(UTC)
        rows: dict[str, dict[str, Any]] = {}
        for envelope, partition, offset in deliveries:
            rows.setdefault(
                envelope.id,
                {
                    "consumer": consumer,
                    "event_id": envelope.id,
                    "event_type": envelope.type,
                    "topic": envelope.topic,
                    "partition": partition,
                    "offset": offset,
                    "processed_at": now,
                },
            )
        table = self.tables.inbox
        dialect = self.dialect
        if dialect == "postgresql":
            # One statement over column arrays: per-row parameter handling would cost more than
            # the database's work on a large batch.
            values = list(rows.values())
            driver = await asyncpg_connection(self.session)
            if driver is not None and table.schema is None:
                fetched = await driver.fetch(
                    _INBOX_UNNEST_ASYNCPG,
                    consumer,
                    now,
                    [v["event_id"] for v in values],
                    [v["event_type"] for v in values],
                    [v["topic"] for v in values],
                    [v["partition"] for v in values],
                    [v["offset"] for v in values],
                )
                return {r[0] for r in fetched}
            result = await self.session.execute(
                _INBOX_UNNEST,
                {
                    "consumer": consumer,
                    "now": now,
                    "ids": [v["event_id"] for v in values],
                    "types": [v["event_type"] for v in values],
                    "topics": [v["topic"] for v in values],
                    "partitions": [v["partition"] for v in values],
                    "offsets": [v["offset"] for v in values],
                },
            )
            return set(result.scalars().all())
        insert_fn: Any = sqlite.insert
        # executemany with RETURNING: compiled once and cached (a multi-row VALUES built per
        # batch would be compiled afresh every time), sent in pages by insertmanyvalues.
        result = await self.session.execute(
            insert_fn(table).on_conflict_do_nothing().returning(table.c.event_id), list(rows.values())
        )
        return set(result.scalars().all())


def outbox_row(envelope: Envelope, now: datetime) -> dict[str, Any]:
    return {
        "id": envelope.id,
        "topic": envelope.topic,
        "key": envelope.key,
        "event_type": envelope.type,
        "source": envelope.source,
        "subject": envelope.subject,
        "occurred_at": envelope.time,
        "payload": envelope.data,
        "headers": {
            "correlation_id": envelope.correlation_id,
            "causation_id": envelope.causation_id,
            "traceparent": envelope.traceparent,
        },
        "created_at": now,
        "published_at": None,
        "attempts": 0,
    }


def envelope_from_outbox(row: Any) -> Envelope:
    headers = row.headers or {}
    occurred = row.occurred_at
    if occurred.tzinfo is None:  # SQLite returns naive datetimes
        occurred = occurred.replace(tzinfo=UTC)
    return Envelope(
        id=row.id,
        type=row.event_type,
        source=row.source,
        time=occurred,
        topic=row.topic,
        key=row.key,
        data=bytes(row.payload),
        subject=row.subject,
        correlation_id=headers.get("correlation_id"),
        causation_id=headers.get("causation_id"),
        traceparent=headers.get("traceparent"),
    )
