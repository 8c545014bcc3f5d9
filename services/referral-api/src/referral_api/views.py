"""Read-side queries of referral-api (no aggregates loaded to answer a read)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import Select, select

from referral_api.adapters.orm import referrals


def referral_list_query(
    *,
    status: str | None = None,
    kind: str | None = None,
    school_urn: str | None = None,
    visible_urns: Collection[str] | None = None,
    overdue_on: date | None = None,
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
    return stmt
