"""Bulk register marks from a school's MIS.

The body is read as a stream of lines (NDJSON, one mark per line) and applied in chunks inside
one transaction, so a request of 100,000 marks is never held whole: memory holds one chunk and the
school's roll. Each mark is checked on its own; invalid marks are rejected one by one with a reason
while the valid ones are kept. A mark sent again unchanged does nothing; a changed code replaces
the old one and is evented as a correction. After the last chunk, one ``AttendanceRecorded`` per
pupil is built from what this submission changed (read back from the database, pupil by pupil).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update

from inclusion_kit.calendar import CalendarRangeError, london_date
from inclusion_kit.codes import Regime, UnknownAttendanceCode, lookup, regime_for
from inclusion_kit.contracts.events import attendance as contracts
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
                await _apply(chunk, school_urn, result, uow, now)
                chunk = []
    if chunk:
        await _apply(chunk, school_urn, result, uow, now)
    await _emit(school_urn, school_row, result, uow, now)
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
        item = json.loads(raw)
    except ValueError:
        result.reject(line, "not a JSON object")
        return None
    if not isinstance(item, dict):
        result.reject(line, "not a JSON object")
        return None
    upn = item.get("upn")
    if not isinstance(upn, str) or not cache.valid_upn(upn):
        result.reject(line, "invalid UPN (format or check letter)")
        return None
    upn = upn.strip().upper()
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
    pupil = on_roll.get(upn)
    if pupil is None or day < pupil[1] or (pupil[2] is not None and day > pupil[2]):
        result.reject(line, "the pupil is not on this school's roll on that date", upn)
        return None
    key = (upn, day, session_name)
    if key in seen:
        result.reject(line, "the same pupil, date and session appears twice in this request", upn)
        return None
    seen.add(key)
    return _Mark(upn, pupil[0], day, session_name, code, regime, minutes_late)


async def _apply(
    chunk: list[_Mark], school_urn: str, result: IngestResult, uow: UnitOfWork, now: datetime
) -> None:
    t = attendance_marks
    upns = sorted({m.upn for m in chunk})
    first, last = min(m.day for m in chunk), max(m.day for m in chunk)
    existing = {
        (r.upn, r.date, r.session): (r.code, r.minutes_late)
        for r in (
            await uow.session.execute(
                select(t.c.upn, t.c.date, t.c.session, t.c.code, t.c.minutes_late).where(
                    t.c.school_urn == school_urn, t.c.upn.in_(upns), t.c.date.between(first, last)
                )
            )
        ).all()
    }
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for m in chunk:
        before = existing.get((m.upn, m.day, m.session))
        if before == (m.code, m.minutes_late):
            result.unchanged += 1
            continue
        result.accepted += 1
        values = {
            "s_urn": school_urn,
            "s_upn": m.upn,
            "s_date": m.day,
            "s_session": m.session,
            "child_ref": m.child_ref,
            "code": m.code,
            "regime": m.regime,
            "minutes_late": m.minutes_late,
            "submission_id": result.submission_id,
            "updated_at": now,
        }
        if before is None:
            new.append({**values, "previous_code": None})
        else:
            result.corrected += 1
            changed.append({**values, "previous_code": before[0]})
    if new:
        await uow.session.execute(
            insert(t),
            [
                {
                    "school_urn": v["s_urn"],
                    "upn": v["s_upn"],
                    "date": v["s_date"],
                    "session": v["s_session"],
                    **{
                        k: v[k]
                        for k in (
                            "child_ref",
                            "code",
                            "regime",
                            "minutes_late",
                            "previous_code",
                            "submission_id",
                            "updated_at",
                        )
                    },
                }
                for v in new
            ],
        )
    if changed:
        # Bind names must differ from the column names in an UPDATE's SET clause.
        stmt = update(t).where(
            and_(
                t.c.school_urn == bindparam("s_urn"),
                t.c.upn == bindparam("s_upn"),
                t.c.date == bindparam("s_date"),
                t.c.session == bindparam("s_session"),
            )
        )
        columns = (
            "child_ref",
            "code",
            "regime",
            "minutes_late",
            "previous_code",
            "submission_id",
            "updated_at",
        )
        await uow.session.execute(
            stmt.values({c: bindparam(f"v_{c}") for c in columns}),
            [
                {
                    **{k: v[k] for k in ("s_urn", "s_upn", "s_date", "s_session")},
                    **{f"v_{c}": v[c] for c in columns},
                }
                for v in changed
            ],
        )


EMIT_GROUP = 500  # pupils whose versions are resolved and events written together


async def _emit(
    school_urn: str, school_row: dict[str, Any], result: IngestResult, uow: UnitOfWork, now: datetime
) -> None:
    """One AttendanceRecorded per pupil, from this submission's rows, a group of pupils at a time
    (memory holds one group; versions are read and written with one statement each per group)."""
    t = attendance_marks
    school = publishing.school_ref(school_row)
    assert school is not None
    rows = await uow.session.stream(
        select(
            t.c.child_ref,
            t.c.upn,
            t.c.date,
            t.c.session,
            t.c.code,
            t.c.regime,
            t.c.minutes_late,
            t.c.previous_code,
        )
        .where(t.c.submission_id == result.submission_id)
        .order_by(t.c.child_ref, t.c.date, t.c.session)
    )
    group: list[tuple[str, str, list[contracts.Mark]]] = []
    async for row in rows:
        if not group or group[-1][0] != row.child_ref:
            if len(group) >= EMIT_GROUP:
                await _emit_group(school_urn, school, group, result, uow, now)
                group = []
            group.append((row.child_ref, row.upn, []))
        group[-1][2].append(
            contracts.Mark(
                date=row.date,
                session=contracts.Session(row.session),
                code=row.code,
                regime=row.regime,
                minutes_late=row.minutes_late,
                previous_code=row.previous_code,
            )
        )
    if group:
        await _emit_group(school_urn, school, group, result, uow, now)


async def _emit_group(
    school_urn: str,
    school: Any,
    group: list[tuple[str, str, list[contracts.Mark]]],
    result: IngestResult,
    uow: UnitOfWork,
    now: datetime,
) -> None:
    v = attendance_versions
    refs = [child_ref for child_ref, _, _ in group]
    known = {
        r.child_ref: r.version
        for r in (
            await uow.session.execute(
                select(v.c.child_ref, v.c.version).where(
                    v.c.school_urn == school_urn, v.c.child_ref.in_(refs)
                )
            )
        ).all()
    }
    fresh = [{"school_urn": school_urn, "child_ref": ref, "version": 1} for ref in refs if ref not in known]
    bumped = [
        {"k_urn": school_urn, "k_ref": ref, "v_version": known[ref] + 1} for ref in refs if ref in known
    ]
    if fresh:
        await uow.session.execute(insert(v), fresh)
    if bumped:
        await uow.session.execute(
            update(v)
            .where(v.c.school_urn == bindparam("k_urn"), v.c.child_ref == bindparam("k_ref"))
            .values(version=bindparam("v_version")),
            bumped,
        )
    for child_ref, upn, marks in group:
        uow.emit(
            contracts.AttendanceRecorded(
                child_ref=child_ref,
                aggregate_id=f"{school_urn}/{child_ref}",
                aggregate_version=known.get(child_ref, 0) + 1,
                occurred_at=now,
                submission_id=result.submission_id,
                school=school,
                upn=upn,
                marks=marks,
            )
        )
        result.pupils_evented += 1
