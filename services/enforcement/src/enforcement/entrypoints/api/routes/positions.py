"""Attendance positions: a pupil's counts by year, term and school week; lists by level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from enforcement import views
from enforcement.adapters import orm
from enforcement.entrypoints.api.dependencies import Runtime, district_limit, in_scope, runtime
from enforcement.entrypoints.api.schemas import CountsOut, PositionOut, TermOut, WeekOut
from enforcement.entrypoints.api.writes import audited_page, audited_read
from enforcement.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import Principal, Role, require_roles
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES
from inclusion_kit.pupils import UPN, URN

router = APIRouter(prefix="/positions", tags=["attendance positions"], responses=PROBLEM_RESPONSES)

READERS = require_roles(Role.SCHOOL, Role.OFFICER, Role.EARLY_HELP, Role.MANAGER, Role.ADMIN)
YEAR = Annotated[str, Query(pattern=r"^[0-9]{4}/[0-9]{2}$", description="e.g. 2025/26")]


def counts(row: dict[str, Any]) -> dict[str, Any]:
    possible = row["possible"]
    absent = row["authorised"] + row["unauthorised"]
    attended = row["present"] + row["aea"]
    return {
        "possible": possible,
        "present": row["present"],
        "approved_activity": row["aea"],
        "authorised": row["authorised"],
        "unauthorised": row["unauthorised"],
        "penalty_threshold_sessions": row["threshold"],
        "attendance_percent": round(100.0 * attended / possible, 2) if possible else None,
        "absence_percent": round(100.0 * absent / possible, 2) if possible else None,
    }


def position_out(
    row: dict[str, Any], terms: list[dict[str, Any]] | None = None, weeks: list[dict[str, Any]] | None = None
) -> PositionOut:
    return PositionOut(
        id=row["id"],
        child_ref=row["child_ref"],
        school_urn=row["school_urn"],
        upn=row["upn"],
        academic_year=row["academic_year"],
        as_at=row["as_at"],
        year=CountsOut(**counts(row)),
        persistent_absence=row["pa_reached"],
        severe_absence=row["sa_reached"],
        terms=[TermOut(term=t["term"], **counts(t)) for t in terms or []],
        weeks=[WeekOut(week_start=w["week_start"], term=w["term"], **counts(w)) for w in weeks or []],
        updated_at=row["updated_at"],
    )


@dataclass(frozen=True)
class _Found:
    id: str
    child_ref: str
    out: PositionOut


@router.get(
    "/schools/{school_urn}/pupils/{upn}",
    response_model=PositionOut,
    summary="A pupil's position at a school for an academic year, by term and school week",
)
async def read(
    school_urn: URN,
    upn: UPN,
    academic_year: YEAR,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> PositionOut:
    async def load(uow: UnitOfWork) -> _Found | None:
        if not await in_scope(uow, principal, school_urn):
            return None
        found = await views.position_detail(uow.session, school_urn, upn, academic_year)
        if found is None:
            return None
        row, terms, weeks = found
        return _Found(row["id"], row["child_ref"], position_out(row, terms, weeks))

    record = await audited_read(
        rt,
        principal,
        load,
        resource_type="attendance_position",
        purpose="attendance-position",
        missing="position",
    )
    return record.out  # type: ignore[no-any-return]


@router.get(
    "", response_model=Page[PositionOut], summary="Positions of a year, e.g. every persistently absent pupil"
)
async def list_positions(
    paging: PageParams,
    academic_year: YEAR,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    school_urn: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    level: Literal["persistent", "severe"] | None = None,
) -> Page[PositionOut]:
    visible = sorted(principal.urns) if principal.is_school_only else None
    districts = district_limit(principal)
    t = orm.attendance_positions
    stmt = paging.apply(
        views.position_list_query(
            academic_year=academic_year,
            school_urn=school_urn,
            level=level,
            visible_urns=visible,
            districts=districts,
        ),
        t.c.updated_at,
        t.c.id,
        filters={
            "year": academic_year,
            "school_urn": school_urn,
            "level": level,
            "visible": visible,
            "districts": districts,
        },
    )
    return await audited_page(
        rt,
        principal,
        paging,
        stmt,
        lambda row: position_out(dict(row)),
        resource_type="attendance_position",
        purpose="attendance-positions",
    )
