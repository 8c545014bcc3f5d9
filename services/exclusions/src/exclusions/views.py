"""Read-side queries of exclusions (no aggregates loaded to answer a read)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any, Literal

from sqlalchemy import Select, func, select

from exclusions.adapters.orm import alerts, exclusions, part_time_timetables, schools

DeadlineFilter = Literal["due", "missed"]


def district_limit(principal_districts: Collection[str], admin: bool) -> list[str] | None:
    """The districts a principal is limited to (None: every district), case-folded."""
    if admin or not principal_districts:
        return None
    return sorted(d.casefold() for d in principal_districts)


def in_districts(school_urn_column: Any, districts: list[str]) -> Any:
    return school_urn_column.in_(select(schools.c.urn).where(func.lower(schools.c.district).in_(districts)))


def _scoped(
    stmt: Select[Any], column: Any, visible_urns: Collection[str] | None, districts: list[str] | None
) -> Select[Any]:
    if visible_urns is not None:
        stmt = stmt.where(column.in_(sorted(visible_urns)))
    if districts is not None:
        stmt = stmt.where(in_districts(column, districts))
    return stmt


def exclusion_list_query(
    *,
    today: date,
    school_urn: str | None = None,
    kind: str | None = None,
    district: str | None = None,
    academic_year: str | None = None,
    child_ref: str | None = None,
    deadline: DeadlineFilter | None = None,
    include_withdrawn: bool = True,
    visible_urns: Collection[str] | None = None,
    districts: list[str] | None = None,
) -> Select[Any]:
    """Exclusions matching the filters. ``deadline="due"``: an open deadline today or later;
    ``"missed"``: an open deadline already passed. ``visible_urns`` limits a school to its own,
    ``districts`` an officer to theirs."""
    t = exclusions
    stmt = select(t)
    if school_urn is not None:
        stmt = stmt.where(t.c.school_urn == school_urn)
    if kind is not None:
        stmt = stmt.where(t.c.kind == kind)
    if district is not None:
        stmt = stmt.where(in_districts(t.c.school_urn, [district.casefold()]))
    if academic_year is not None:
        stmt = stmt.where(t.c.academic_year == academic_year)
    if child_ref is not None:
        stmt = stmt.where(t.c.child_ref == child_ref)
    if deadline == "due":
        stmt = stmt.where(t.c.next_deadline >= today)
    elif deadline == "missed":
        stmt = stmt.where(t.c.next_deadline < today)
    if not include_withdrawn:
        stmt = stmt.where(t.c.withdrawn_on.is_(None))
    return _scoped(stmt, t.c.school_urn, visible_urns, districts)


def timetable_list_query(
    *,
    today: date,
    school_urn: str | None = None,
    district: str | None = None,
    running: bool | None = None,
    overdue: bool = False,
    child_ref: str | None = None,
    visible_urns: Collection[str] | None = None,
    districts: list[str] | None = None,
) -> Select[Any]:
    """Part-time timetables; ``overdue`` keeps running ones past their planned end or review."""
    t = part_time_timetables
    stmt = select(t)
    if school_urn is not None:
        stmt = stmt.where(t.c.school_urn == school_urn)
    if district is not None:
        stmt = stmt.where(in_districts(t.c.school_urn, [district.casefold()]))
    if running is True:
        stmt = stmt.where(t.c.ended_on.is_(None))
    elif running is False:
        stmt = stmt.where(t.c.ended_on.is_not(None))
    if overdue:
        stmt = stmt.where(t.c.ended_on.is_(None), (t.c.planned_end_on < today) | (t.c.review_due < today))
    if child_ref is not None:
        stmt = stmt.where(t.c.child_ref == child_ref)
    return _scoped(stmt, t.c.school_urn, visible_urns, districts)


def alert_list_query(
    *,
    kind: str | None = None,
    school_urn: str | None = None,
    visible_urns: Collection[str] | None = None,
    districts: list[str] | None = None,
) -> Select[Any]:
    t = alerts
    stmt = select(t)
    if kind is not None:
        stmt = stmt.where(t.c.kind == kind)
    if school_urn is not None:
        stmt = stmt.where(t.c.school_urn == school_urn)
    return _scoped(stmt, t.c.school_urn, visible_urns, districts)


async def school_district(session: Any, urn: str) -> str | None:
    return await session.scalar(select(schools.c.district).where(schools.c.urn == urn))  # type: ignore[no-any-return]
