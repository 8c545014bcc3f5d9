"""Bulk register marks from a school's MIS.

The body is read as a stream of lines (NDJSON, one mark per line) and applied in chunks inside
one transaction, so a request of 100,000 marks is never held whole as text or JSON: memory holds
one chunk, the school's roll and, as compact tuples, the marks this submission changed. Each mark
is checked on its own; invalid marks are rejected one by one with a reason while the valid ones are
kept. A mark sent again unchanged does nothing; a changed code replaces the old one and is evented
as a correction. After the last chunk, one ``AttendanceRecorded`` per pupil is built from what this
submission changed. Submissions for one school are serialised (PostgreSQL: an advisory lock held
to commit), so two at once cannot both take the same mark for new.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from inclusion_kit.calendar import CalendarRangeError, london_date
from inclusion_kit.codes import Regime, UnknownAttendanceCode, lookup, regime_for
from inclusion_kit.contracts.events import attendance as contracts
from inclusion_kit.db.engine import asyncpg_connection
from inclusion_kit.pupils import is_valid_upn
from referral_api.adapters.orm import attendance_marks, attendance_versions, roll
from referral_api.domain.errors import UnknownSchool
from referral_api.service_layer import publishing
from referral_api.service_layer.handlers import Context
from referral_api.service_layer.unit_of_work import UnitOfWork

CHUNK = 2000
MAX_MARKS = 100_000
MAX_REJECTIONS_LISTED = 1000


@dataclass
class IngestResult:
    submission_id: str
    accepted: int = 0
    unchanged: int = 0
    corrected: int = 0
    rejected: int = 0
    pupils_evented: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)
    child_refs: list[str] = field(default_factory=list, repr=False)  # the pupils with changes

    def reject(self, line: int, reason: str, upn: str | None = None) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_LISTED:
            self.rejections.append({"line": line, "reason": reason, **({"upn": upn} if upn else {})})


class TooManyMarks(Exception):
    pass


@dataclass(frozen=True)
class _Mark:
    upn: str
    child_ref: str
    day: date
    session: str
    code: str
    regime: str
    minutes_late: int | None


async def lines_of(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Split a byte stream into lines without holding more than one line and one chunk."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line
    if pending:
        yield pending


async def ingest_marks(
    school_urn: str, lines: AsyncIterator[bytes], uow: UnitOfWork, ctx: Context, now: datetime
) -> IngestResult:
    school_row = await uow.schools.get(school_urn)
    if school_row is None:
        raise UnknownSchool(f"no school with URN {school_urn} in the reference list")
    today = london_date(now)
    result = IngestResult(submission_id="s-" + uuid.uuid4().hex[:16])
    session = uow.session
    on_roll: dict[str, tuple[str, date, date | None]] = {
        r.upn: (r.child_ref, r.on_roll_from, r.left_on)
        for r in (
            await session.execute(
                select(roll.c.upn, roll.c.child_ref, roll.c.on_roll_from, roll.c.left_on).where(
                    roll.c.school_urn == school_urn, roll.c.upn.is_not(None)
                )
            )
        ).all()
    }
    driver = await asyncpg_connection(session)
    store = _MarkStore(session) if driver is None else _PgMarkStore(session, driver)
    await store.lock_school(school_urn)
    changes = _Changes()
    seen: set[tuple[str, date, str]] = set()
    cache = _Lookups(ctx)
    chunk: list[_Mark] = []
    count = 0
    line_no = 0
    async for raw in lines:
        line_no += 1
        if not raw.strip():
            continue
        count += 1
        if count > MAX_MARKS:
            raise TooManyMarks(f"a request carries at most {MAX_MARKS} marks")
        mark = _check(raw, line_no, result, on_roll, seen, cache, today)
        if mark is not None:
            chunk.append(mark)
            if len(chunk) >= CHUNK:
                await _apply(chunk, school_urn, result, store, changes, now)
                chunk = []
    if chunk:
        await _apply(chunk, school_urn, result, store, changes, now)
    await _emit(school_urn, school_row, result, store, changes, uow, now)
    result.child_refs = list(changes.by_child)
    return result


class _Lookups:
    """Answers that repeat across a submission's lines (most marks share a date and a few codes)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.days: dict[str, tuple[date, str, str | None] | str] = {}
        self.codes: dict[tuple[str, str], str | None] = {}
        self.upns: dict[str, bool] = {}

    def day(self, text: str) -> tuple[date, str, str | None] | str:
        """(date, regime, why the school is closed or None), or a rejection reason."""
        known = self.days.get(text)
        if known is None:
            try:
                day = date.fromisoformat(text)
            except ValueError:
                known = "date must be YYYY-MM-DD"
            else:
                try:
                    closed = self.ctx.calendar.non_school_day_reason(day)
                except CalendarRangeError:
                    known = "the date is outside the LA's configured school calendar"
                else:
                    known = (day, regime_for(day).value, closed)
            self.days[text] = known
        return known

    def code(self, code: str, regime: str) -> str | None:
        key = (code, regime)
        if key not in self.codes:
            try:
                self.codes[key] = lookup(code, Regime(regime)).code
            except UnknownAttendanceCode:
                self.codes[key] = None
        return self.codes[key]

    def valid_upn(self, upn: str) -> bool:
        known = self.upns.get(upn)
        if known is None:
            known = self.upns[upn] = is_valid_upn(upn)
        return known


def _check(
    raw: bytes,
    line: int,
    result: IngestResult,
    on_roll: dict[str, tuple[str, date, date | None]],
    seen: set[tuple[str, date, str]],
    cache: _Lookups,
    today: date,
) -> _Mark | None:
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        result.reject(line, "not a JSON object")
        return None
    if not isinstance(item, dict):
        result.reject(line, "not a JSON object")
        return None
    upn = item.get("upn")
    if not isinstance(upn, str):
        result.reject(line, "invalid UPN (format or check letter)")
        return None
    pupil = on_roll.get(upn)
    if pupil is None:  # the roll holds valid UPNs only: check the others to say which is wrong
        if not cache.valid_upn(upn):
            result.reject(line, "invalid UPN (format or check letter)")
            return None
        upn = upn.strip().upper()
        pupil = on_roll.get(upn)
    when = cache.day(str(item.get("date")))
    if isinstance(when, str):
        result.reject(line, when, upn)
        return None
    day, regime, closed_because = when
    session_name = item.get("session")
    if session_name not in ("AM", "PM"):
        result.reject(line, "session must be AM or PM", upn)
        return None
    minutes_late = item.get("minutes_late")
    if minutes_late is not None and (not isinstance(minutes_late, int) or minutes_late < 0):
        result.reject(line, "minutes_late must be a whole number of minutes", upn)
        return None
    code = cache.code(str(item.get("code", "")), regime)
    if code is None:
        result.reject(line, f"unknown code for the {regime} register", upn)
        return None
    if day > today:
        result.reject(line, "a mark cannot be for a future date", upn)
        return None
    if closed_because is not None:
        result.reject(line, f"the school is closed on {day.isoformat()} ({closed_because})", upn)
        return None
    if pupil is None or day < pupil[1] or (pupil[2] is not None and day > pupil[2]):
        result.reject(line, "the pupil is not on this school's roll on that date", upn)
        return None
    key = (upn, day, session_name)
    if key in seen:
        result.reject(line, "the same pupil, date and session appears twice in this request", upn)
        return None
    seen.add(key)
    return _Mark(upn, pupil[0], day, session_name, code, regime, minutes_late)


class _Changes:
    """What this submission changed, by pupil: the marks its AttendanceRecorded events carry.

    Held until the events are written (they are queued for the outbox until commit in any case),
    as compact tuples: bounded by MAX_MARKS per request.
    """

    def __init__(self) -> None:
        self.by_child: dict[str, tuple[str, list[_Changed]]] = {}

    def add(self, mark: _Mark, previous_code: str | None) -> None:
        entry = self.by_child.get(mark.child_ref)
        if entry is None:
            entry = self.by_child[mark.child_ref] = (mark.upn, [])
        entry[1].append((mark.day, mark.session, mark.code, mark.regime, mark.minutes_late, previous_code))


_Changed = tuple[date, str, str, str, int | None, str | None]
_MARK_COLUMNS = (
    "school_urn",
    "upn",
    "date",
    "session",
    "child_ref",
    "code",
    "regime",
    "minutes_late",
    "previous_code",
    "submission_id",
    "updated_at",
)


class _MarkStore:
    """The four statements the ingest needs, portable (SQLAlchemy Core: SQLite and PostgreSQL)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_school(self, school_urn: str) -> None:
        """Serialise submissions for one school (SQLite writers are serialised already)."""

    async def existing(
        self, school_urn: str, upns: list[str], first: date, last: date
    ) -> dict[tuple[str, date, str], tuple[str, int | None]]:
        t = attendance_marks
        rows = await self.session.execute(
            select(t.c.upn, t.c.date, t.c.session, t.c.code, t.c.minutes_late).where(
                t.c.school_urn == school_urn, t.c.upn.in_(upns), t.c.date.between(first, last)
            )
        )
        return {(r.upn, r.date, r.session): (r.code, r.minutes_late) for r in rows.all()}

    async def insert(self, rows: list[tuple[Any, ...]]) -> None:
        await self.session.execute(
            insert(attendance_marks), [dict(zip(_MARK_COLUMNS, row, strict=True)) for row in rows]
        )

    async def update(self, rows: list[tuple[Any, ...]]) -> None:
        t = attendance_marks
        keys, values = _MARK_COLUMNS[:4], _MARK_COLUMNS[4:]
        # Bind names must differ from the column names in an UPDATE's SET clause.
        stmt = (
            update(t)
            .where(and_(*(t.c[k] == bindparam(f"k_{k}") for k in keys)))
            .values({c: bindparam(f"v_{c}") for c in values})
        )
        await self.session.execute(
            stmt,
            [
                {
                    **{f"k_{k}": row[i] for i, k in enumerate(keys)},
                    **{f"v_{c}": row[4 + i] for i, c in enumerate(values)},
                }
                for row in rows
            ],
        )

    async def next_versions(self, school_urn: str, refs: list[str]) -> dict[str, int]:
        """Bump each pupil's AttendanceRecorded version at this school; the new versions."""
        v = attendance_versions
        known = {
            r.child_ref: r.version
            for r in (
                await self.session.execute(
                    select(v.c.child_ref, v.c.version).where(
                        v.c.school_urn == school_urn, v.c.child_ref.in_(refs)
                    )
                )
            ).all()
        }
        fresh = [
            {"school_urn": school_urn, "child_ref": ref, "version": 1} for ref in refs if ref not in known
        ]
        bumped = [
            {"k_urn": school_urn, "k_ref": ref, "v_version": known[ref] + 1} for ref in refs if ref in known
        ]
        if fresh:
            await self.session.execute(insert(v), fresh)
        if bumped:
            await self.session.execute(
                update(v)
                .where(v.c.school_urn == bindparam("k_urn"), v.c.child_ref == bindparam("k_ref"))
                .values(version=bindparam("v_version")),
                bumped,
            )
        return {ref: known.get(ref, 0) + 1 for ref in refs}


class _PgMarkStore(_MarkStore):
    """The same on PostgreSQL through asyncpg in the session's transaction: prepared statements
    over arrays, COPY for new marks, one upsert for the versions. A county day of registers is
    hundreds of thousands of rows; compiling SQL per chunk cost more than the database's work."""

    def __init__(self, session: AsyncSession, driver: Any) -> None:
        super().__init__(session)
        self.driver = driver

    async def lock_school(self, school_urn: str) -> None:
        # Two submissions for one school at once would both miss each other's new marks and the
        # second's COPY would fail on the key: the second waits for the first to commit instead.
        await self.driver.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('attendance:' || $1::text, 0))", school_urn
        )

    async def existing(
        self, school_urn: str, upns: list[str], first: date, last: date
    ) -> dict[tuple[str, date, str], tuple[str, int | None]]:
        rows = await self.driver.fetch(
            "SELECT upn, date, session, code, minutes_late FROM attendance_marks "
            "WHERE school_urn = $1 AND upn = ANY($2::varchar[]) AND date BETWEEN $3 AND $4",
            school_urn,
            upns,
            first,
            last,
        )
        return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}

    async def insert(self, rows: list[tuple[Any, ...]]) -> None:
        await self.driver.copy_records_to_table(
            attendance_marks.name, records=rows, columns=list(_MARK_COLUMNS)
        )

    async def update(self, rows: list[tuple[Any, ...]]) -> None:
        await self.driver.executemany(
            "UPDATE attendance_marks SET child_ref = $5, code = $6, regime = $7, "
            "minutes_late = $8, previous_code = $9, submission_id = $10, updated_at = $11 "
            "WHERE school_urn = $1 AND upn = $2 AND date = $3 AND session = $4",
            rows,
        )

    async def next_versions(self, school_urn: str, refs: list[str]) -> dict[str, int]:
        rows = await self.driver.fetch(
            "INSERT INTO attendance_versions (school_urn, child_ref, version) "
            "SELECT $1, r, 1 FROM unnest($2::varchar[]) AS r "
            "ON CONFLICT (school_urn, child_ref) DO UPDATE SET version = attendance_versions.version + 1 "
            "RETURNING child_ref, version",
            school_urn,
            refs,
        )
        return {r[0]: r[1] for r in rows}


async def _apply(
    chunk: list[_Mark],
    school_urn: str,
    result: IngestResult,
    store: _MarkStore,
    changes: _Changes,
    now: datetime,
) -> None:
    upns = sorted({m.upn for m in chunk})
    first, last = min(m.day for m in chunk), max(m.day for m in chunk)
    existing = await store.existing(school_urn, upns, first, last)
    new: list[tuple[Any, ...]] = []
    changed: list[tuple[Any, ...]] = []
    for m in chunk:
        before = existing.get((m.upn, m.day, m.session))
        if before == (m.code, m.minutes_late):
            result.unchanged += 1
            continue
        result.accepted += 1
        previous = None if before is None else before[0]
        row = (
            school_urn,
            m.upn,
            m.day,
            m.session,
            m.child_ref,
            m.code,
            m.regime,
            m.minutes_late,
            previous,
            result.submission_id,
            now,
        )
        if before is None:
            new.append(row)
        else:
            result.corrected += 1
            changed.append(row)
        changes.add(m, previous)
    if new:
        await store.insert(new)
    if changed:
        await store.update(changed)


EMIT_GROUP = 500  # pupils whose versions are bumped with one statement


async def _emit(
    school_urn: str,
    school_row: dict[str, Any],
    result: IngestResult,
    store: _MarkStore,
    changes: _Changes,
    uow: UnitOfWork,
    now: datetime,
) -> None:
    """One AttendanceRecorded per pupil with changes, built from what this submission changed."""
    school = publishing.school_ref(school_row)
    assert school is not None
    refs = list(changes.by_child)
    for start in range(0, len(refs), EMIT_GROUP):
        group = refs[start : start + EMIT_GROUP]
        versions = await store.next_versions(school_urn, group)
        for child_ref in group:
            upn, marks = changes.by_child[child_ref]
            marks.sort(key=lambda m: (m[0], m[1]))
            uow.emit(
                contracts.AttendanceRecorded(
                    child_ref=child_ref,
                    aggregate_id=f"{school_urn}/{child_ref}",
                    aggregate_version=versions[child_ref],
                    occurred_at=now,
                    submission_id=result.submission_id,
                    school=school,
                    upn=upn,
                    marks=[
                        contracts.Mark(
                            date=day,
                            session=contracts.Session(session),
                            code=code,
                            regime=regime,
                            minutes_late=minutes_late,
                            previous_code=previous_code,
                        )
                        for day, session, code, regime, minutes_late, previous_code in marks
                    ],
                )
            )
            result.pupils_evented += 1
