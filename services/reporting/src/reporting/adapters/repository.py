"""Repositories of reporting: the generations of the read models, and the set-based statements
the projector writes them with (one statement per table per batch, never one per event).

PostgreSQL's heavy paths go through asyncpg in the session's transaction (arrays and ``unnest``),
the rest through SQLAlchemy Core, which also serves SQLite (embedded mode).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, or_, select, text, update
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
from reporting.domain.model import PERSISTENT_PERCENT, SEVERE_PERCENT, status_moves

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
    """Record ``ids`` in the generation's ledger; the ones it did not hold yet.

    In id order: the live consumer and a rebuild may record overlapping ids at once (around a
    switch), and a transaction waits on an id the other inserted; taken in the same order, neither
    can wait on the other both ways (a deadlock, which would send the batch to one-by-one)."""
    if not ids:
        return set()
    driver = await asyncpg_connection(session)
    if driver is not None:
        rows = await driver.fetch(
            f"INSERT INTO {qualified(pt.applied)} (event_id) SELECT unnest($1::varchar[]) "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            sorted(set(ids)),
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
    only_changed: bool = False,
) -> None:
    """Insert rows, or update the columns each row carries (``increment`` columns are added to).

    Every row of one call must carry the same columns. Rows are written in key order, so two
    transactions touching the same rows take their locks in the same order (no deadlock).
    ``only_changed`` leaves a stored row alone when it already holds the values (no new row
    version, no write: for a dimension every event repeats, like the schools)."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))
    stmt = _insert(session, table)
    adds = set(increment)
    columns = [c for c in ordered[0] if c not in keys]
    set_: dict[str, Any] = {
        c: (table.c[c] + stmt.excluded[c]) if c in adds else stmt.excluded[c] for c in columns
    }
    where = None
    if only_changed and columns:
        where = or_(*[table.c[c].is_distinct_from(stmt.excluded[c]) for c in columns])
    stmt = stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys], set_=set_, where=where)
    await session.execute(stmt, ordered)


async def insert_ignore(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_insert(session, table).on_conflict_do_nothing(), list(rows))


def _attendance_sql(pt: ProjectionTables, counters: Sequence[str]) -> str:
    """One statement for a batch of attendance deltas on PostgreSQL (see :func:`add_attendance`).

    ``d``: the deltas, one row per (school, pupil, period), from column arrays. ``u``: each added
    to its enrolment row (created at zero), returning the new counters. ``m``: each row's possible
    and absent sessions after the batch and before it (after minus delta). Then per school and
    period, the deltas summed and how many rows became (or stopped being) counted, persistent and
    severe are added to ``attendance_school``. The rules are :func:`reporting.domain.model.is_persistent`
    and ``is_severe`` in integers: possible > 0 and absent * 100 >= percent * possible."""
    n = len(counters)
    columns = ", ".join(counters)
    arrays = ", ".join(f"${i + 4}::int[]" for i in range(n))
    add = ", ".join(f"{c} = t.{c} + excluded.{c}" for c in counters)
    possible = ("present", "aea", "authorised", "unauthorised")
    absent = ("authorised", "unauthorised")

    def total(names: Sequence[str], before: bool) -> str:
        return " + ".join(f"(u.{c} - d.{c})" if before else f"u.{c}" for c in names)

    def status(which: str, percent: int | None) -> str:
        p, a = f"p{which}", f"a{which}"
        return f"({p} > 0)" if percent is None else f"({p} > 0 AND {a} * 100 >= {percent} * {p})"

    def moved(percent: int | None) -> str:
        return f"sum({status('1', percent)}::int - {status('0', percent)}::int)"

    statuses = ("enrolments", "persistent", "severe")
    school_add = ", ".join(f"{c} = s.{c} + excluded.{c}" for c in (*counters, *statuses))
    # Identifiers come from the table definitions, never from input; values are parameters.
    return (
        f"WITH d (school_urn, upn, period, {columns}) AS ("  # noqa: S608
        f" SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], {arrays})"
        f"), u AS ("
        f" INSERT INTO {qualified(pt.attendance_enrolment)} AS t (school_urn, upn, period, {columns})"
        f" SELECT * FROM d"
        f" ON CONFLICT (school_urn, upn, period) DO UPDATE SET {add}"
        f" RETURNING t.school_urn, t.upn, t.period, {', '.join(f't.{c}' for c in possible)}"
        f"), m AS ("
        f" SELECT d.*, {total(possible, False)} AS p1, {total(absent, False)} AS a1,"
        f" {total(possible, True)} AS p0, {total(absent, True)} AS a0"
        f" FROM u JOIN d USING (school_urn, upn, period)"
        f") INSERT INTO {qualified(pt.attendance_school)} AS s"
        f" (school_urn, period, {columns}, {', '.join(statuses)})"
        f" SELECT school_urn, period, {', '.join(f'sum({c})' for c in counters)},"
        f" {moved(None)}, {moved(PERSISTENT_PERCENT)}, {moved(SEVERE_PERCENT)}"
        f" FROM m GROUP BY school_urn, period ORDER BY school_urn, period"
        f" ON CONFLICT (school_urn, period) DO UPDATE SET {school_add}"
    )


async def add_attendance(
    session: AsyncSession,
    pt: ProjectionTables,
    deltas: Mapping[tuple[str, str, str], Sequence[int]],
    counters: Sequence[str],
) -> None:
    """Add a batch's deltas to each (school, pupil, period) row of ``attendance_enrolment``, and
    to ``attendance_school`` the same summed per school with how each row's status moved (counted,
    persistent, severe) from its counters before the batch to after it.

    PostgreSQL: one statement over column arrays (one round trip, nothing read back). SQLite (one
    writer at a time): read, add, write, then the schools' sums worked out here. Rows are written
    in key order, so two transactions touching the same rows take their locks in the same order."""
    if not deltas:
        return
    keys = sorted(deltas)
    driver = await asyncpg_connection(session)
    if driver is not None:
        values = [deltas[k] for k in keys]
        await driver.execute(
            _attendance_sql(pt, counters),
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            *[list(column) for column in zip(*values, strict=True)],
        )
        return
    touched = await _add_to_attendance_enrolment(session, pt, keys, deltas, counters)
    n = len(counters)
    school: dict[tuple[str, str], list[int]] = {}
    for urn, _upn, period, after in touched:
        delta = deltas[(urn, _upn, period)]
        row = school.setdefault((urn, period), [0] * (n + 3))
        for i in range(n):
            row[i] += delta[i]
        moves = status_moves([a - d for a, d in zip(after, delta, strict=True)], after)
        for i in range(3):
            row[n + i] += moves[i]
    names = (*counters, "enrolments", "persistent", "severe")
    await upsert(
        session,
        pt.attendance_school,
        [
            {"school_urn": urn, "period": period, **dict(zip(names, values, strict=True))}
            for (urn, period), values in school.items()
        ],
        ("school_urn", "period"),
        increment=names,
    )


async def _add_to_attendance_enrolment(
    session: AsyncSession,
    pt: ProjectionTables,
    keys: Sequence[tuple[str, str, str]],
    deltas: Mapping[tuple[str, str, str], Sequence[int]],
    counters: Sequence[str],
) -> list[tuple[str, str, str, list[int]]]:
    """SQLite: add the deltas to each row (read, add, write); every touched row's new counters."""
    table = pt.attendance_enrolment
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
