"""Read-side queries of cme-tracker (no aggregates loaded to answer a read)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cme_tracker.adapters.orm import (
    cme_case_history,
    cme_cases,
    ehe_registrations,
    enrolments,
    roll_deletions,
)
from cme_tracker.domain import watch
from cme_tracker.domain.model import ACTIVE, EheStatus, add_months
from inclusion_kit.calendar import AcademicYear


def district_limit(principal_districts: Collection[str], admin: bool) -> list[str] | None:
    """The districts a principal is limited to (None: every district), case-folded."""
    if admin or not principal_districts:
        return None
    return sorted(d.casefold() for d in principal_districts)


def _in_districts(column: Any, districts: list[str]) -> Any:
    # A record with no district is only for principals with no district limit.
    return func.lower(column).in_(districts)


def birth_dates_for_ages(
    today: date, min_age: int | None, max_age: int | None
) -> tuple[date | None, date | None]:
    """(born on or after, born on or before) for children aged min_age..max_age today."""
    latest = add_months(today, -12 * min_age) if min_age is not None else None
    earliest = add_months(today, -12 * (max_age + 1)) if max_age is not None else None
    if earliest is not None:
        earliest = date.fromordinal(earliest.toordinal() + 1)
    return earliest, latest


def case_list_query(
    *,
    today: date,
    status: str | None = None,
    district: str | None = None,
    school_urn: str | None = None,
    overdue: bool | None = None,
    min_age: int | None = None,
    max_age: int | None = None,
    visible_urns: Collection[str] | None = None,
    districts: list[str] | None = None,
) -> Select[Any]:
    t = cme_cases
    stmt = select(t)
    if status is not None:
        stmt = stmt.where(t.c.status == status)
    if district is not None:
        stmt = stmt.where(func.lower(t.c.district) == district.casefold())
    if school_urn is not None:
        stmt = stmt.where(t.c.school_urn == school_urn)
    active = t.c.status.in_([s.value for s in ACTIVE])
    if overdue is True:
        stmt = stmt.where(active, t.c.next_review_due < today)
    elif overdue is False:
        stmt = stmt.where(or_(~active, t.c.next_review_due >= today))
    earliest, latest = birth_dates_for_ages(today, min_age, max_age)
    if earliest is not None:
        stmt = stmt.where(t.c.date_of_birth >= earliest)
    if latest is not None:
        stmt = stmt.where(t.c.date_of_birth <= latest)
    if visible_urns is not None:
        stmt = stmt.where(t.c.school_urn.in_(sorted(visible_urns)))
    if districts is not None:
        stmt = stmt.where(_in_districts(t.c.district, districts))
    return stmt


def ehe_list_query(
    *,
    today: date,
    status: str | None = None,
    district: str | None = None,
    overdue: bool | None = None,
    districts: list[str] | None = None,
) -> Select[Any]:
    t = ehe_registrations
    stmt = select(t)
    if status is not None:
        stmt = stmt.where(t.c.status == status)
    if district is not None:
        stmt = stmt.where(func.lower(t.c.district) == district.casefold())
    late = and_(
        t.c.status == EheStatus.ACTIVE.value,
        or_(
            and_(t.c.first_contact_on.is_(None), t.c.first_contact_due < today),
            and_(t.c.visit_offered_on.is_(None), t.c.visit_offer_due < today),
            t.c.next_review_due < today,
        ),
    )
    if overdue is True:
        stmt = stmt.where(late)
    elif overdue is False:
        stmt = stmt.where(~late)
    if districts is not None:
        stmt = stmt.where(_in_districts(t.c.district, districts))
    return stmt


def flagged_deletions_query(
    *,
    school_urn: str | None = None,
    district: str | None = None,
    academic_year: str | None = None,
    districts: list[str] | None = None,
) -> Select[Any]:
    t = roll_deletions
    stmt = select(t).where(t.c.flagged.is_(True))
    if school_urn is not None:
        stmt = stmt.where(t.c.school_urn == school_urn)
    if district is not None:
        stmt = stmt.where(func.lower(t.c.district) == district.casefold())
    if academic_year is not None:
        stmt = stmt.where(t.c.academic_year == academic_year)
    if districts is not None:
        stmt = stmt.where(_in_districts(t.c.district, districts))
    return stmt


async def case_history(session: AsyncSession, case_id: str) -> list[dict[str, Any]]:
    t = cme_case_history
    rows = await session.execute(select(t).where(t.c.case_id == case_id).order_by(t.c.seq))
    return [dict(r) for r in rows.mappings().all()]


async def school_removals(
    session: AsyncSession, year: AcademicYear, not_counted: Collection[str]
) -> tuple[date, list[watch.SchoolRemovals]]:
    """Per school: Year 10-11 removals from the start of ``year`` to its January census, and the
    Year 10-11 pupils known on its roll in that year. Every school seen with a deletion or an
    enrolment that year is listed (with 0 removals where it has none)."""
    census = watch.january_census_day(year)
    d = roll_deletions
    removal_rows = await session.execute(
        select(d.c.school_urn, func.count())
        .where(
            d.c.academic_year == year.label,
            d.c.year_group.in_(sorted(watch.WATCHED_YEAR_GROUPS)),
            func.coalesce(d.c.deleted_on, d.c.ground_met_on) <= census,
            d.c.ground.not_in(sorted(not_counted)),
        )
        .group_by(d.c.school_urn)
    )
    removals = {urn: int(n) for urn, n in removal_rows.all()}
    e = enrolments
    watched = [str(y) for y in sorted(watch.WATCHED_YEAR_GROUPS)]
    cohort_rows = await session.execute(
        select(e.c.school_urn, func.count())
        .where(
            e.c.year_group.in_(watched),
            e.c.on_roll_from <= census,
            or_(e.c.on_roll_until.is_(None), e.c.on_roll_until >= year.start),
        )
        .group_by(e.c.school_urn)
    )
    cohorts = {urn: int(n) for urn, n in cohort_rows.all()}
    schools: dict[str, dict[str, Any]] = {}
    for urn, school in (
        await session.execute(select(d.c.school_urn, d.c.school).where(d.c.academic_year == year.label))
    ).all():
        schools.setdefault(urn, school)
    for urn, school in (await session.execute(select(e.c.school_urn, e.c.school))).all():
        if urn in cohorts:
            schools.setdefault(urn, school)
    result = [
        watch.SchoolRemovals(
            school_urn=urn,
            school_name=(school or {}).get("name"),
            district=(school or {}).get("district"),
            removals=removals.get(urn, 0),
            cohort=cohorts.get(urn),
        )
        for urn, school in sorted(schools.items())
    ]
    return census, result
