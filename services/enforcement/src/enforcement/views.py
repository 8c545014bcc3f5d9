"""Read-side queries of enforcement (no aggregates loaded to answer a read)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from enforcement.adapters.orm import (
    attendance_positions,
    attendance_terms,
    attendance_weeks,
    penalty_notices,
    penalty_requests,
    prosecution_cases,
    schools,
)


def in_districts(school_urn_column: Any, districts: list[str]) -> Any:
    """Rows whose school is in one of ``districts`` (case-folded)."""
    return school_urn_column.in_(select(schools.c.urn).where(func.lower(schools.c.district).in_(districts)))


def _scoped(
    stmt: Select[Any], column: Any, visible_urns: Collection[str] | None, districts: list[str] | None
) -> Any:
    if visible_urns is not None:
        stmt = stmt.where(column.in_(sorted(visible_urns)))
    if districts is not None:
        stmt = stmt.where(in_districts(column, districts))
    return stmt


def request_list_query(
    *,
    status: str | None,
    school_urn: str | None,
    visible_urns: Collection[str] | None,
    districts: list[str] | None,
) -> Select[Any]:
    t = penalty_requests
    stmt = select(t)
    if status is not None:
        stmt = stmt.where(t.c.status == status)
    if school_urn is not None:
        stmt = stmt.where(t.c.school_urn == school_urn)
    return _scoped(stmt, t.c.school_urn, visible_urns, districts)  # type: ignore[no-any-return]


def notice_list_query(
    *, status: str | None, overdue_on: date | None, districts: list[str] | None, request_id: str | None
) -> Select[Any]:
    t = penalty_notices
    stmt = select(t)
    if status is not None:
        stmt = stmt.where(t.c.status == status)
    if overdue_on is not None:
        stmt = stmt.where(t.c.status == "issued", t.c.full_due_by < overdue_on)
    if request_id is not None:
        stmt = stmt.where(t.c.request_id == request_id)
    return _scoped(stmt, t.c.school_urn, None, districts)  # type: ignore[no-any-return]


def case_list_query(*, status: str | None, districts: list[str] | None) -> Select[Any]:
    t = prosecution_cases
    stmt = select(t)
    if status is not None:
        stmt = stmt.where(t.c.status == status)
    return _scoped(stmt, t.c.school_urn, None, districts)  # type: ignore[no-any-return]


def position_list_query(
    *,
    academic_year: str,
    school_urn: str | None,
    level: str | None,
    visible_urns: Collection[str] | None,
    districts: list[str] | None,
) -> Select[Any]:
    """Positions of a year; ``level`` 'persistent' or 'severe' keeps the pupils at that level now."""
    t = attendance_positions
    stmt = select(t).where(t.c.academic_year == academic_year)
    if school_urn is not None:
        stmt = stmt.where(t.c.school_urn == school_urn)
    if level == "persistent":
        stmt = stmt.where(t.c.pa_reached.is_(True))
    elif level == "severe":
        stmt = stmt.where(t.c.sa_reached.is_(True))
    return _scoped(stmt, t.c.school_urn, visible_urns, districts)  # type: ignore[no-any-return]


async def position_detail(
    session: AsyncSession, school_urn: str, upn: str, academic_year: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]] | None:
    """A pupil's position at a school for a year, with its terms and school weeks."""
    p = attendance_positions
    row = (
        (
            await session.execute(
                select(p).where(
                    p.c.school_urn == school_urn, p.c.upn == upn, p.c.academic_year == academic_year
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    t, w = attendance_terms, attendance_weeks
    terms = (
        (
            await session.execute(
                select(t).where(
                    t.c.school_urn == school_urn,
                    t.c.child_ref == row["child_ref"],
                    t.c.academic_year == academic_year,
                )
            )
        )
        .mappings()
        .all()
    )
    weeks = (
        (
            await session.execute(
                select(w)
                .where(
                    w.c.school_urn == school_urn,
                    w.c.child_ref == row["child_ref"],
                    w.c.academic_year == academic_year,
                )
                .order_by(w.c.week_start)
            )
        )
        .mappings()
        .all()
    )
    order = {"autumn": 0, "spring": 1, "summer": 2}
    return (
        dict(row),
        sorted((dict(x) for x in terms), key=lambda x: order.get(x["term"], 3)),
        [dict(x) for x in weeks],
    )
