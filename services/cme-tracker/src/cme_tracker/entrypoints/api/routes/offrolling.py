"""The off-rolling watch: flagged deletion returns and schools with unusual removals (officers)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from cme_tracker import views
from cme_tracker.adapters import orm
from cme_tracker.adapters.repository import utc
from cme_tracker.domain import watch
from cme_tracker.entrypoints.api.dependencies import LA_READERS, Runtime, runtime
from cme_tracker.entrypoints.api.schemas import FlaggedDeletionOut, SchoolFlagOut, UnusualSchoolsOut
from cme_tracker.entrypoints.api.writes import audited_page
from inclusion_kit.audit import record_access
from inclusion_kit.auth import Principal, Role
from inclusion_kit.calendar import AcademicYear, london_date
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES, FieldProblem, ProblemError

router = APIRouter(prefix="/off-rolling", tags=["off-rolling watch"], responses=PROBLEM_RESPONSES)
YEAR_PATTERN = r"^[0-9]{4}/[0-9]{2}$"


def _year(label: str | None, today: date) -> AcademicYear:
    if label is None:
        return AcademicYear.containing(today)
    try:
        return AcademicYear.from_label(label)
    except ValueError as exc:
        raise ProblemError(
            422,
            "The request has invalid or missing fields.",
            errors=[FieldProblem(pointer="query/academic_year", code="invalid", detail=str(exc))],
        ) from exc


def _deletion_out(row: Any) -> FlaggedDeletionOut:
    return FlaggedDeletionOut(
        id=row["id"],
        child_ref=row["child_ref"],
        school=row["school"],
        district=row["district"],
        ground=row["ground"],
        ground_met_on=row["ground_met_on"],
        deleted_on=row["deleted_on"],
        received_on=row["received_on"],
        academic_year=row["academic_year"],
        year_group=row["year_group"],
        evidence_gaps=row["evidence_gaps"],
        updated_at=utc(row["updated_at"]) or row["updated_at"],
    )


@router.get(
    "/deletions",
    response_model=Page[FlaggedDeletionOut],
    summary="Deletion returns lacking the evidence their ground requires",
)
async def flagged_deletions(
    paging: PageParams,
    principal: Annotated[Principal, Depends(LA_READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    school_urn: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    district: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    academic_year: Annotated[str | None, Query(pattern=YEAR_PATTERN, examples=["2025/26"])] = None,
) -> Page[FlaggedDeletionOut]:
    if academic_year is not None:
        _year(academic_year, london_date(rt.context.clock.now()))
    districts = views.district_limit(principal.districts, Role.ADMIN in principal.roles)
    stmt = views.flagged_deletions_query(
        school_urn=school_urn, district=district, academic_year=academic_year, districts=districts
    )
    t = orm.roll_deletions
    stmt = paging.apply(
        stmt,
        t.c.updated_at,
        t.c.id,
        filters={
            "school_urn": school_urn,
            "district": district.casefold() if district else None,
            "academic_year": academic_year,
            "districts": districts,
        },
    )
    return await audited_page(
        rt, principal, paging, stmt, _deletion_out, resource_type="roll_deletion", purpose="off-rolling-watch"
    )


@router.get(
    "/schools",
    response_model=UnusualSchoolsOut,
    summary="Schools with unusual Year 10-11 removals before the January census, against the county",
)
async def unusual_schools(
    principal: Annotated[Principal, Depends(LA_READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    academic_year: Annotated[str | None, Query(pattern=YEAR_PATTERN, examples=["2025/26"])] = None,
) -> UnusualSchoolsOut:
    ctx = rt.context
    year = _year(academic_year, london_date(ctx.clock.now()))
    async with rt.kernel.uow() as uow:
        census, schools = await views.school_removals(uow.session, year, ctx.offrolling_not_counted)
        county_rate, mean, flags = watch.unusual_schools(
            schools, ratio=ctx.offrolling_ratio, min_removals=ctx.offrolling_min_removals
        )
        # Figures per school, not about a child: no child's record is read, but the query is
        # still the LA's business and leaves a trace.
        await record_access(
            uow.session,
            uow.tables,
            principal,
            action="read",
            resource_type="off_rolling_schools",
            resource_id=year.label.replace("/", "-"),
            purpose="off-rolling-watch",
        )
        await uow.commit()
    visible = [f for f in flags if principal.in_district(f.district)]
    return UnusualSchoolsOut(
        academic_year=year.label,
        census_day=census,
        county_rate=county_rate,
        county_mean_removals=mean,
        ratio_flagged=ctx.offrolling_ratio,
        min_removals=ctx.offrolling_min_removals,
        schools=[
            SchoolFlagOut(
                school_urn=f.school_urn,
                school_name=f.school_name,
                district=f.district,
                removals=f.removals,
                cohort=f.cohort,
                rate=f.rate,
                times_county=round(f.times_county, 2),
                basis=f.basis,
            )
            for f in visible
        ],
    )
