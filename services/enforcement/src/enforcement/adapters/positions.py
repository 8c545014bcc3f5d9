"""Attendance positions in the database: marks in, counts by week, term and year out.

Two stores with one behaviour (``tests/integration/test_positions.py`` runs every case on both):

- :class:`PgPositionStore` (PostgreSQL, the production path): a batch of marks (a
  :class:`MarkBatch`) is applied with at most two statements over column arrays, whatever its
  size. The first writes the marks (a mark only replaces one set by an older event), derives each
  written mark's change of counts from the mark it replaced, and adds those changes to the week,
  term and year rows. The second judges the touched year positions that can cross or be cleared
  (those with the minimum of possible sessions, or already flagged) against the persistent- and
  severe-absence levels and returns the crossings to raise; when there are none it is not sent. A
  county day (480,000 marks) is 120 such batches of 2,000 events.
- :class:`SqlPositionStore` (SQLite: embedded mode and unit tests): the same steps in Python over
  SQLAlchemy Core, row by row.

A correction replaces the stored mark, so the old code's counts are taken back exactly once, even
when the event's ``previous_code`` disagrees with what was counted; the same event delivered twice
is stopped earlier, by the inbox.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from enforcement.adapters.orm import (
    attendance_marks,
    attendance_positions,
    attendance_terms,
    attendance_weeks,
    schools,
)
from enforcement.domain.positions import COUNT_FIELDS, AbsenceRules, Flags, Raised, assess, contribution
from inclusion_kit.db.engine import asyncpg_connection


class IncomingMark(NamedTuple):
    """A mark placed in the calendar; its fields are APPLY_SQL's columns, in order."""

    school_urn: str
    child_ref: str
    upn: str | None
    day: date
    session: str
    code: str
    regime: str
    category: str
    threshold: bool
    version: int
    academic_year: str
    term: str
    week: date
    remaining: int


@dataclass(slots=True)
class MarkBatch:
    """A batch's marks in columns, as the PostgreSQL store sends them. Category and threshold are
    looked up once per distinct code and regime, the place in the calendar once per distinct day
    (a county day holds a handful of each); each mark refers to them by position, so the statement
    takes ten values a mark rather than fourteen."""

    urns: list[str] = field(default_factory=list)  # one entry per mark
    child_refs: list[str] = field(default_factory=list)
    upns: list[str | None] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)  # as the code table spells them
    regimes: list[str] = field(default_factory=list)
    kind_of: list[int] = field(default_factory=list)  # position in ``kinds``, from 1
    place_of: list[int] = field(default_factory=list)  # position in ``places``, from 1
    kinds: list[tuple[str, bool]] = field(default_factory=list)  # (category, threshold)
    places: list[tuple[str, str, date, int]] = field(default_factory=list)  # year, term, week, left

    def __len__(self) -> int:
        return len(self.days)

    def marks(self) -> list[IncomingMark]:
        """One row per mark (the portable store's input)."""
        found = []
        for u, c, upn, day, s, code, regime, v, k, p in zip(
            self.urns,
            self.child_refs,
            self.upns,
            self.days,
            self.sessions,
            self.codes,
            self.regimes,
            self.versions,
            self.kind_of,
            self.place_of,
            strict=True,
        ):
            category, threshold = self.kinds[k - 1]
            year, term, week, remaining = self.places[p - 1]
            found.append(
                IncomingMark(
                    u, c, upn, day, s, code, regime, category, threshold, v, year, term, week, remaining
                )
            )
        return found


@dataclass(frozen=True, slots=True)
class Crossing:
    """A position that crossed a level (or is projected to): the facts its event carries."""

    school_urn: str
    child_ref: str
    academic_year: str
    upn: str | None
    possible: int
    authorised: int
    unauthorised: int
    as_at: date
    term: str
    version: int
    raised: list[Raised] = field(default_factory=list)


def latest_per_session(marks: Iterable[IncomingMark]) -> list[IncomingMark]:
    """One mark per enrolment and session: the one from the newest event."""
    best: dict[tuple[str, str, date, str], IncomingMark] = {}
    for m in marks:
        key = (m.school_urn, m.child_ref, m.day, m.session)
        held = best.get(key)
        if held is None or m.version > held.version:
            best[key] = m
    return list(best.values())


# PostgreSQL: only schools that are new or described differently are written. An unchanged row is
# neither updated nor locked, so worker replicas consuming other partitions of the same schools'
# registers at the same moment do not queue behind each other's transactions.
SCHOOLS_SQL = """
INSERT INTO schools AS s (urn, laestab, la_code, name, phase, district, updated_at)
SELECT i.urn, i.laestab, i.la_code, i.name, i.phase, i.district, $7::timestamptz
FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[])
     AS i(urn, laestab, la_code, name, phase, district)
WHERE NOT EXISTS (
  SELECT 1 FROM schools o
  WHERE o.urn = i.urn
    AND (o.laestab, o.la_code, o.name, o.phase, o.district)
        IS NOT DISTINCT FROM (i.laestab, i.la_code, i.name, i.phase, i.district)
)
ORDER BY i.urn
ON CONFLICT (urn) DO UPDATE SET
  laestab = EXCLUDED.laestab, la_code = EXCLUDED.la_code, name = EXCLUDED.name,
  phase = EXCLUDED.phase, district = EXCLUDED.district, updated_at = EXCLUDED.updated_at
"""

_SCHOOL_COLUMNS = ("urn", "laestab", "la_code", "name", "phase", "district")


async def upsert_schools(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Schools as the latest events describe them (a handful per batch; one row per URN).

    ``updated_at`` is when the description last changed."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: r["urn"])  # one lock order for every transaction
    driver = await asyncpg_connection(session)
    if driver is not None:
        columns = [[r[c] for r in ordered] for c in _SCHOOL_COLUMNS]
        await driver.execute(SCHOOLS_SQL, *columns, ordered[0]["updated_at"])
        return
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":  # another PostgreSQL driver than asyncpg
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(schools)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(schools)
    stmt = stmt.on_conflict_do_update(
        index_elements=[schools.c.urn],
        set_={c: stmt.excluded[c] for c in (*_SCHOOL_COLUMNS[1:], "updated_at")},
        where=or_(*(schools.c[c].is_not(stmt.excluded[c]) for c in _SCHOOL_COLUMNS[1:])),
    )
    await session.execute(stmt, list(ordered))


# --- PostgreSQL ---------------------------------------------------------------------------------

_COUNTS = ", ".join(COUNT_FIELDS)
_SUMS = ", ".join(f"sum({f})" for f in COUNT_FIELDS)
_ADD = ", ".join(f"{f} = t.{f} + EXCLUDED.{f}" for f in COUNT_FIELDS)


def _delta(field_: str, test: str) -> str:
    new, old = test.format(cat="i.cat", thr="i.thr"), test.format(cat="w.ocat", thr="w.othr")
    return f"({new})::int - coalesce(({old})::int, 0) AS {field_}"


_DELTAS = ",\n    ".join(
    _delta(name, test)
    for name, test in (
        ("possible", "{cat} <> 'NC'"),
        ("present", "{cat} = 'PRESENT'"),
        ("aea", "{cat} = 'AEA'"),
        ("authorised", "{cat} = 'AUTH'"),
        ("unauthorised", "{cat} = 'UNAUTH'"),
        ("threshold", "{cat} = 'UNAUTH' AND {thr}"),
    )
)

# Built from constant column names only; every value is a bound parameter.
APPLY_SQL = f"""
WITH incoming AS (
  SELECT DISTINCT ON (u, c, d, s) u, c, upn, d, s, code, reg,
         ($11::varchar[])[k] AS cat, ($12::boolean[])[k] AS thr, v,
         ($13::varchar[])[p] AS yr, ($14::varchar[])[p] AS tm, ($15::date[])[p] AS wk,
         ($16::integer[])[p] AS rem
  FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::date[], $5::varchar[], $6::varchar[],
              $7::varchar[], $8::integer[], $9::integer[], $10::integer[])
       AS x(u, c, upn, d, s, code, reg, v, k, p)
  ORDER BY u, c, d, s, v DESC
),
written AS (
  INSERT INTO attendance_marks AS m
    (school_urn, child_ref, date, session, code, regime, category, threshold, version)
  SELECT u, c, d, s, code, reg, cat, thr, v FROM incoming
  ON CONFLICT (school_urn, child_ref, date, session) DO UPDATE
    SET code = EXCLUDED.code, regime = EXCLUDED.regime, category = EXCLUDED.category,
        threshold = EXCLUDED.threshold, version = EXCLUDED.version,
        replaced_category = m.category, replaced_threshold = m.threshold
    WHERE m.version < EXCLUDED.version
  -- What the mark replaced comes back with it (NULL for a new mark): no join to the marks table,
  -- whose statistics may be stale in the middle of a county day.
  RETURNING m.school_urn AS u, m.child_ref AS c, m.date AS d, m.session AS s,
            m.replaced_category AS ocat, m.replaced_threshold AS othr
),
delta AS (
  SELECT i.u, i.c, i.upn, i.d, i.yr, i.tm, i.wk, i.rem,
    {_DELTAS}
  FROM written w
  JOIN incoming i USING (u, c, d, s)
),
weeks AS (
  INSERT INTO attendance_weeks AS t
    (school_urn, child_ref, week_start, academic_year, term, {_COUNTS})
  SELECT u, c, wk, max(yr), max(tm), {_SUMS} FROM delta GROUP BY u, c, wk
  ON CONFLICT (school_urn, child_ref, week_start) DO UPDATE SET {_ADD}
  RETURNING 1
),
terms AS (
  INSERT INTO attendance_terms AS t (school_urn, child_ref, academic_year, term, {_COUNTS})
  SELECT u, c, yr, tm, {_SUMS} FROM delta GROUP BY u, c, yr, tm
  ON CONFLICT (school_urn, child_ref, academic_year, term) DO UPDATE SET {_ADD}
  RETURNING 1
),
years AS (
  INSERT INTO attendance_positions AS t
    (school_urn, child_ref, academic_year, id, upn, {_COUNTS}, as_at, as_at_term, remaining_in_term,
     pa_reached, sa_reached, version, updated_at)
  SELECT u, c, yr, u || '/' || c || '/' || yr, max(upn), {_SUMS}, max(d),
         (array_agg(tm ORDER BY d DESC))[1], (array_agg(rem ORDER BY d DESC))[1],
         false, false, 1, $17::timestamptz
  FROM delta GROUP BY u, c, yr
  ON CONFLICT (school_urn, child_ref, academic_year) DO UPDATE SET
    {_ADD},
    upn = coalesce(EXCLUDED.upn, t.upn),
    as_at_term = CASE WHEN EXCLUDED.as_at >= t.as_at THEN EXCLUDED.as_at_term ELSE t.as_at_term END,
    remaining_in_term = CASE WHEN EXCLUDED.as_at >= t.as_at THEN EXCLUDED.remaining_in_term
                             ELSE t.remaining_in_term END,
    as_at = greatest(t.as_at, EXCLUDED.as_at),
    version = t.version + 1,
    updated_at = EXCLUDED.updated_at
  RETURNING t.school_urn, t.child_ref, t.academic_year,
            -- Below the minimum of possible sessions nothing is reached, projected or reset:
            -- such a position (every one in the first weeks of a year) needs no judging.
            t.possible >= $18 OR t.pa_reached OR t.sa_reached AS judge
)
SELECT array_agg(school_urn) FILTER (WHERE judge), array_agg(child_ref) FILTER (WHERE judge),
       array_agg(academic_year) FILTER (WHERE judge),
       (SELECT count(*) FROM weeks), (SELECT count(*) FROM terms)
FROM years
"""  # noqa: S608

# Mirrors enforcement.domain.positions.assess, set-based.
JUDGE_SQL = """
WITH keys AS (
  SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[]) AS k(u, c, yr)
),
cur AS (
  SELECT p.school_urn, p.child_ref, p.academic_year, p.possible,
         p.authorised + p.unauthorised AS absent, p.as_at_term AS term,
         coalesce(t.authorised + t.unauthorised, 0) AS term_absent, coalesce(t.possible, 0) AS term_possible,
         p.remaining_in_term AS remaining, p.pa_reached, p.sa_reached,
         p.pa_event_term, p.sa_event_term, p.warn_event_term
  FROM keys k
  JOIN attendance_positions p
    ON p.school_urn = k.u AND p.child_ref = k.c AND p.academic_year = k.yr
  LEFT JOIN attendance_terms t
    ON t.school_urn = p.school_urn AND t.child_ref = p.child_ref
   AND t.academic_year = p.academic_year AND t.term = p.as_at_term
),
judged AS (
  SELECT cur.*,
    (possible > 0 AND possible >= $4 AND absent * 100.0 >= $5 * possible) AS pa_now,
    (possible > 0 AND possible >= $4 AND absent * 100.0 >= $6 * possible) AS sa_now,
    CASE WHEN term_possible > 0 AND possible + remaining > 0
         THEN 100.0 * (absent + (term_absent::float8 / term_possible) * remaining) / (possible + remaining)
    END AS projected
  FROM cur
),
emits AS (
  SELECT judged.*,
    (pa_now AND NOT pa_reached AND pa_event_term IS DISTINCT FROM term) AS pa_emit,
    (sa_now AND NOT sa_reached AND sa_event_term IS DISTINCT FROM term) AS sa_emit
  FROM judged
),
final AS (
  SELECT emits.*,
    coalesce(NOT pa_now AND possible >= $4 AND term_possible >= $7
      AND warn_event_term IS DISTINCT FROM term
      AND (CASE WHEN pa_emit THEN term ELSE pa_event_term END) IS DISTINCT FROM term
      AND projected >= $5, false) AS warn_emit
  FROM emits
)
UPDATE attendance_positions p SET
  pa_reached = f.pa_now,
  sa_reached = f.sa_now,
  pa_event_term = CASE WHEN f.pa_emit THEN f.term ELSE p.pa_event_term END,
  sa_event_term = CASE WHEN f.sa_emit THEN f.term ELSE p.sa_event_term END,
  warn_event_term = CASE WHEN f.warn_emit THEN f.term ELSE p.warn_event_term END
FROM final f
WHERE p.school_urn = f.school_urn AND p.child_ref = f.child_ref AND p.academic_year = f.academic_year
  AND (p.pa_reached <> f.pa_now OR p.sa_reached <> f.sa_now OR f.warn_emit)
RETURNING p.school_urn, p.child_ref, p.academic_year, p.upn, p.possible, p.authorised, p.unauthorised,
          p.as_at, p.as_at_term, p.version, f.pa_emit, f.sa_emit, f.warn_emit, f.projected
"""


class PgPositionStore:
    def __init__(self, driver: Any, rules: AbsenceRules) -> None:
        self.driver = driver
        self.rules = rules

    async def apply(self, batch: MarkBatch, now: datetime) -> list[Crossing]:
        if not batch:
            return []
        row = await self.driver.fetchrow(
            APPLY_SQL,
            batch.urns,
            batch.child_refs,
            batch.upns,
            batch.days,
            batch.sessions,
            batch.codes,
            batch.regimes,
            batch.versions,
            batch.kind_of,
            batch.place_of,
            [category for category, _ in batch.kinds],
            [threshold for _, threshold in batch.kinds],
            [place[0] for place in batch.places],
            [place[1] for place in batch.places],
            [place[2] for place in batch.places],
            [place[3] for place in batch.places],
            now,
            self.rules.min_possible_sessions,
        )
        if row is None or row[0] is None:
            return []
        r = self.rules
        found = await self.driver.fetch(
            JUDGE_SQL,
            row[0],
            row[1],
            row[2],
            r.min_possible_sessions,
            r.persistent_percent,
            r.severe_percent,
            r.early_warning_min_term_sessions,
        )
        crossings = []
        for f in found:
            raised = []
            if f["pa_emit"]:
                raised.append(Raised("persistent", "reached"))
            if f["sa_emit"]:
                raised.append(Raised("severe", "reached"))
            if f["warn_emit"]:
                raised.append(Raised("persistent", "projected", round(float(f["projected"]), 2)))
            if raised:
                crossings.append(
                    Crossing(
                        f["school_urn"],
                        f["child_ref"],
                        f["academic_year"],
                        f["upn"],
                        f["possible"],
                        f["authorised"],
                        f["unauthorised"],
                        f["as_at"],
                        f["as_at_term"],
                        f["version"],
                        raised,
                    )
                )
        return crossings


# --- portable (SQLite) --------------------------------------------------------------------------


def _add(target: dict[str, int], delta: Sequence[int]) -> None:
    for name, value in zip(COUNT_FIELDS, delta, strict=True):
        target[name] = target.get(name, 0) + value


class SqlPositionStore:
    """The same behaviour through SQLAlchemy Core, one row at a time (small volumes only)."""

    def __init__(self, session: AsyncSession, rules: AbsenceRules) -> None:
        self.session = session
        self.rules = rules

    async def apply(self, batch: MarkBatch, now: datetime) -> list[Crossing]:
        marks = batch.marks()
        s = self.session
        m_t = attendance_marks
        weeks: dict[tuple[str, str, date], dict[str, Any]] = defaultdict(dict)
        terms: dict[tuple[str, str, str, str], dict[str, int]] = defaultdict(dict)
        years: dict[tuple[str, str, str], dict[str, Any]] = {}
        for m in sorted(
            latest_per_session(marks), key=lambda x: (x.school_urn, x.child_ref, x.day, x.session)
        ):
            key = and_(
                m_t.c.school_urn == m.school_urn,
                m_t.c.child_ref == m.child_ref,
                m_t.c.date == m.day,
                m_t.c.session == m.session,
            )
            old = (await s.execute(select(m_t.c.category, m_t.c.threshold, m_t.c.version).where(key))).first()
            values = {
                "code": m.code,
                "regime": m.regime,
                "category": m.category,
                "threshold": m.threshold,
                "version": m.version,
            }
            new: tuple[int, ...] = contribution(m.category, m.threshold)
            if old is None:
                await s.execute(
                    insert(m_t).values(
                        school_urn=m.school_urn,
                        child_ref=m.child_ref,
                        date=m.day,
                        session=m.session,
                        **values,
                    )
                )
                delta = new
            elif old.version < m.version:
                await s.execute(update(m_t).where(key).values(**values))
                before = contribution(old.category, old.threshold)
                delta = tuple(a - b for a, b in zip(new, before, strict=True))
            else:
                continue  # a newer event already set this session
            week = weeks[(m.school_urn, m.child_ref, m.week)]
            week.setdefault("academic_year", m.academic_year)
            week.setdefault("term", m.term)
            _add(week, delta)
            _add(terms[(m.school_urn, m.child_ref, m.academic_year, m.term)], delta)
            year = years.setdefault(
                (m.school_urn, m.child_ref, m.academic_year),
                {"upn": m.upn, "as_at": m.day, "as_at_term": m.term, "remaining": m.remaining},
            )
            year["upn"] = m.upn or year["upn"]
            if m.day >= year["as_at"]:
                year.update(as_at=m.day, as_at_term=m.term, remaining=m.remaining)
            _add(year, delta)
        for (u, c, wk), counts in weeks.items():
            await self._add_counts(
                attendance_weeks,
                {"school_urn": u, "child_ref": c, "week_start": wk},
                counts,
                {"academic_year": counts["academic_year"], "term": counts["term"]},
            )
        for (u, c, yr, tm), counts in terms.items():
            await self._add_counts(
                attendance_terms,
                {"school_urn": u, "child_ref": c, "academic_year": yr, "term": tm},
                counts,
                {},
            )
        crossings = []
        for (u, c, yr), data in years.items():
            crossing = await self._year(u, c, yr, data, now)
            if crossing.raised:
                crossings.append(crossing)
        return crossings

    async def _add_counts(
        self, table: Any, key: dict[str, Any], counts: dict[str, Any], extra: dict[str, Any]
    ) -> None:
        where = and_(*(table.c[k] == v for k, v in key.items()))
        row = (await self.session.execute(select(*(table.c[f] for f in COUNT_FIELDS)).where(where))).first()
        if row is None:
            await self.session.execute(
                insert(table).values(**key, **extra, **{f: counts.get(f, 0) for f in COUNT_FIELDS})
            )
        else:
            await self.session.execute(
                update(table)
                .where(where)
                .values(**{f: getattr(row, f) + counts.get(f, 0) for f in COUNT_FIELDS})
            )

    async def _year(self, u: str, c: str, yr: str, data: dict[str, Any], now: datetime) -> Crossing:
        p = attendance_positions
        where = and_(p.c.school_urn == u, p.c.child_ref == c, p.c.academic_year == yr)
        row = (await self.session.execute(select(p).where(where))).mappings().first()
        if row is None:
            counts = {f: data.get(f, 0) for f in COUNT_FIELDS}
            state = {
                "upn": data["upn"],
                "as_at": data["as_at"],
                "as_at_term": data["as_at_term"],
                "remaining_in_term": data["remaining"],
                "version": 1,
            }
            flags = Flags()
        else:
            counts = {f: row[f] + data.get(f, 0) for f in COUNT_FIELDS}
            later = data["as_at"] >= row["as_at"]
            state = {
                "upn": data["upn"] or row["upn"],
                "as_at": max(row["as_at"], data["as_at"]),
                "as_at_term": data["as_at_term"] if later else row["as_at_term"],
                "remaining_in_term": data["remaining"] if later else row["remaining_in_term"],
                "version": row["version"] + 1,
            }
            flags = Flags(
                row["pa_reached"],
                row["sa_reached"],
                row["pa_event_term"],
                row["sa_event_term"],
                row["warn_event_term"],
            )
        t = attendance_terms
        term_row = (
            await self.session.execute(
                select(t.c.possible, t.c.authorised, t.c.unauthorised).where(
                    t.c.school_urn == u,
                    t.c.child_ref == c,
                    t.c.academic_year == yr,
                    t.c.term == state["as_at_term"],
                )
            )
        ).first()
        absent = counts["authorised"] + counts["unauthorised"]
        new_flags, raised = assess(
            flags,
            absent=absent,
            possible=counts["possible"],
            term=state["as_at_term"],
            term_absent=(term_row.authorised + term_row.unauthorised) if term_row else 0,
            term_possible=term_row.possible if term_row else 0,
            remaining=state["remaining_in_term"],
            rules=self.rules,
        )
        values = {
            **counts,
            **state,
            "pa_reached": new_flags.pa_reached,
            "sa_reached": new_flags.sa_reached,
            "pa_event_term": new_flags.pa_event_term,
            "sa_event_term": new_flags.sa_event_term,
            "warn_event_term": new_flags.warn_event_term,
            "updated_at": now,
        }
        if row is None:
            await self.session.execute(
                insert(p).values(school_urn=u, child_ref=c, academic_year=yr, id=f"{u}/{c}/{yr}", **values)
            )
        else:
            await self.session.execute(update(p).where(where).values(**values))
        return Crossing(
            u,
            c,
            yr,
            state["upn"],
            counts["possible"],
            counts["authorised"],
            counts["unauthorised"],
            state["as_at"],
            state["as_at_term"],
            state["version"],
            raised,
        )
