"""Read-side queries of referral-api (no aggregates loaded to answer a read)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select

from referral_api.adapters.orm import referrals, schools


def district_limit(principal_districts: Collection[str], admin: bool) -> list[str] | None:
    """The districts a principal is limited to (None: every district), case-folded."""
    if admin or not principal_districts:
        return None
    return sorted(d.casefold() for d in principal_districts)


def in_districts(school_urn_column: Any, districts: list[str]) -> Any:
    """Rows whose school is in one of ``districts`` (a record with no school has no district)."""
    return school_urn_column.in_(select(schools.c.urn).where(func.lower(schools.c.district).in_(districts)))


def referral_list_query(
    *,
    status: str | None = None,
    kind: str | None = None,
    school_urn: str | None = None,
    visible_urns: Collection[str] | None = None,
    overdue_on: date | None = None,
    districts: list[str] | None = None,
) -> Select[Any]:
    """Referrals matching the filters; ``visible_urns`` limits a school to its own schools'
    referrals; ``overdue_on`` keeps those still undecided after their due date."""
    t = referrals
    stmt = select(t)
    if status is not None:
        stmt = stmt.where(t.c.status == status)
    if kind is not None:
        stmt = stmt.where(t.c.kind == kind)
    if school_urn is not None:
        stmt = stmt.where(t.c.school_urn == school_urn)
    if visible_urns is not None:
        stmt = stmt.where(t.c.school_urn.in_(sorted(visible_urns)))
    if overdue_on is not None:
        stmt = stmt.where(t.c.status == "received", t.c.response_due < overdue_on)
    if districts is not None:
        stmt = stmt.where(in_districts(t.c.school_urn, districts))
    return stmt
