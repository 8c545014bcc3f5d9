"""Repositories of reporting: the generations of the read models, and the set-based statements
the projector writes them with (one statement per table per batch, never one per event).

PostgreSQL's heavy paths go through asyncpg in the session's transaction (arrays and ``unnest``),
the rest through SQLAlchemy Core, which also serves SQLite (embedded mode).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from inclusion_kit.db.engine import asyncpg_connection
from reporting.adapters.orm import (
    LAYOUT,
    ProjectionTables,
    generation_schema,
    projection_generations,
    projection_tables,
)

ACTIVE, BUILDING, RETIRED = "active", "building", "retired"


@dataclass(frozen=True)
class Generation:
    generation: int
    status: str
    layout: int
    source: str
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    assert bind is not None
    return bind.dialect.name


class Generations:
    """Which read models exist and which one readers use."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = _dialect(session)

    def tables(self, generation: int) -> ProjectionTables:
        return projection_tables(generation, self.dialect)

    async def all(self) -> list[Generation]:
        rows = await self.session.execute(
            select(projection_generations).order_by(projection_generations.c.generation)
        )
        return [Generation(**row._mapping) for row in rows]

    async def active(self) -> int | None:
        g = projection_generations
        value = await self.session.scalar(select(g.c.generation).where(g.c.status == ACTIVE))
        return int(value) if value is not None else None

    async def _lock(self) -> None:
        # Two workers starting at once on an empty database must not both create generation 1.
        if self.dialect == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('reporting-generations'))")
            )

    async def ensure_active(self) -> int:
        """The active generation, created (empty, on the current layout) when there is none."""
        active = await self.active()
        if active is not None:
            return active
        await self._lock()
        active = await self.active()
        if active is not None:
            return active
        generation = await self.create(source="live", status=ACTIVE)
        return generation

    async def create(self, *, source: str, status: str = BUILDING) -> int:
        """A fresh, empty generation's tables, registered with ``status``."""
        await self._lock()
        g = projection_generations
        latest = await self.session.scalar(select(func.max(g.c.generation)))
        generation = int(latest or 0) + 1
        now = datetime.now(UTC)
        await self.session.execute(
            g.insert().values(
                generation=generation,
                status=status,
                layout=LAYOUT,
                source=source,
                created_at=now,
                activated_at=now if status == ACTIVE else None,
            )
        )
        pt = self.tables(generation)
        if self.dialect == "postgresql":
            await self.session.execute(text(f'DROP SCHEMA IF EXISTS "{pt.schema}" CASCADE'))
            await self.session.execute(text(f'CREATE SCHEMA "{pt.schema}"'))
        else:
            await self._drop_sqlite_tables(pt)
        connection = await self.session.connection()
        await connection.run_sync(lambda sync: pt.metadata.create_all(sync))
        return generation

    async def activate(self, generation: int) -> int | None:
        """Switch readers to ``generation`` in one statement pair (one transaction); returns the
        generation it replaced."""
        g = projection_generations
        await self._lock()
        previous = await self.active()
        now = datetime.now(UTC)
        await self.session.execute(
            update(g).where(g.c.status == ACTIVE).values(status=RETIRED, retired_at=now)
        )
        result = await self.session.execute(
            update(g)
            .where(g.c.generation == generation, g.c.status != ACTIVE)
            .values(status=ACTIVE, activated_at=now, retired_at=None)
        )
        if getattr(result, "rowcount", 1) != 1:
            raise LookupError(f"no generation {generation} to activate")
        return previous

    async def drop(self, generation: int) -> None:
        """Remove a generation that is not active (its tables and its row)."""
        g = projection_generations
        if generation == await self.active():
            raise ValueError("the active generation cannot be dropped")
        pt = self.tables(generation)
        if self.dialect == "postgresql":
            await self.session.execute(
                text(f'DROP SCHEMA IF EXISTS "{generation_schema(generation)}" CASCADE')
            )
        else:
            await self._drop_sqlite_tables(pt)
        await self.session.execute(g.delete().where(g.c.generation == generation))

    async def _drop_sqlite_tables(self, pt: ProjectionTables) -> None:
        connection = await self.session.connection()
        await connection.run_sync(lambda sync: pt.metadata.drop_all(sync, checkfirst=True))


# --- set-based writes --------------------------------------------------------------------------


def _insert(session: AsyncSession, table: Table) -> Any:
    return postgresql.insert(table) if _dialect(session) == "postgresql" else sqlite.insert(table)


def qualified(table: Table) -> str:
    return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'


async def fresh_event_ids(session: AsyncSession, pt: ProjectionTables, ids: Sequence[str]) -> set[str]:
    """Record ``ids`` in the generation's ledger; the ones it did not hold yet."""
    if not ids:
        return set()
    driver = await asyncpg_connection(session)
    if driver is not None:
        rows = await driver.fetch(
            f"INSERT INTO {qualified(pt.applied)} (event_id) SELECT unnest($1::varchar[]) "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            list(dict.fromkeys(ids)),
        )
        return {r[0] for r in rows}
    stmt = sqlite.insert(pt.applied).on_conflict_do_nothing().returning(pt.applied.c.event_id)
    result = await session.execute(stmt, [{"event_id": i} for i in dict.fromkeys(ids)])
    return set(result.scalars().all())


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    *,
    increment: Iterable[str] = (),
) -> None:
    """Insert rows, or update the columns each row carries (``increment`` columns are added to).

    Every row of one call must carry the same columns. Rows are written in key order, so two
    transactions touching the same rows take their locks in the same order (no deadlock)."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))
    stmt = _insert(session, table)
    adds = set(increment)
    columns = [c for c in ordered[0] if c not in keys]
    set_: dict[str, Any] = {
        c: (table.c[c] + stmt.excluded[c]) if c in adds else stmt.excluded[c] for c in columns
    }
    stmt = stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys], set_=set_)
    await session.execute(stmt, ordered)


async def insert_ignore(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_insert(session, table).on_conflict_do_nothing(), list(rows))


async def add_to_attendance_enrolment(
    session: AsyncSession,
    pt: ProjectionTables,
    deltas: dict[tuple[str, str, str], list[int]],
    counters: Sequence[str],
) -> list[tuple[str, str, str, list[int]]]:
    """Add the batch's deltas to each (school, pupil, period) row; returns every touched row's new
    counters. PostgreSQL: one atomic upsert over arrays returning the new values; SQLite (one
    writer at a time): read, add, write."""
    keys = sorted(deltas)
    table = pt.attendance_enrolment
    driver = await asyncpg_connection(session)
    if driver is not None:
        columns = ", ".join(counters)
        arrays = ", ".join(f"${i + 4}::int[]" for i in range(len(counters)))
        sets = ", ".join(f"{c} = t.{c} + excluded.{c}" for c in counters)
        # Identifiers come from the table definitions, never from input; values are parameters.
        rows = await driver.fetch(
            f"INSERT INTO {qualified(table)} AS t (school_urn, upn, period, {columns}) "  # noqa: S608
            f"SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], {arrays}) "
            f"ON CONFLICT (school_urn, upn, period) DO UPDATE SET {sets} "
            f"RETURNING school_urn, upn, period, {columns}",
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            *[[deltas[k][i] for k in keys] for i in range(len(counters))],
        )
        return [(r[0], r[1], r[2], [r[3 + i] for i in range(len(counters))]) for r in rows]
    existing: dict[tuple[str, str, str], list[int]] = {}
    upns = sorted({k[1] for k in keys})
    for start in range(0, len(upns), 500):
        part = upns[start : start + 500]
        result = await session.execute(select(table).where(table.c.upn.in_(part)))
        for row in result:
            key = (row.school_urn, row.upn, row.period)
            if key in deltas:
                existing[key] = [getattr(row, c) for c in counters]
    out: list[tuple[str, str, str, list[int]]] = []
    values: list[dict[str, Any]] = []
    for key in keys:
        before = existing.get(key, [0] * len(counters))
        after = [b + d for b, d in zip(before, deltas[key], strict=True)]
        out.append((*key, after))
        values.append(
            {"school_urn": key[0], "upn": key[1], "period": key[2], **dict(zip(counters, after, strict=True))}
        )
    await upsert(session, table, values, ("school_urn", "upn", "period"))
    return out
