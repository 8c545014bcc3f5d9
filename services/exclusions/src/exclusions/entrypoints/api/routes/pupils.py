"""A pupil's history (exclusions and part-time timetables, all years), and the officers' alerts
and reference data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from exclusions import views
from exclusions.adapters import orm
from exclusions.adapters.repository import exclusion_from_row, timetable_from_row
from exclusions.entrypoints.api.dependencies import Runtime, Scope, runtime
from exclusions.entrypoints.api.routes import exclusions as exclusion_routes
from exclusions.entrypoints.api.routes import part_time as part_time_routes
from exclusions.entrypoints.api.schemas import AlertOut, PupilHistoryOut
from exclusions.entrypoints.api.writes import audited_page
from inclusion_kit.audit import record_access
from inclusion_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from inclusion_kit.calendar import AcademicYear, london_date
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES, FieldProblem, NotFound, ProblemError

router = APIRouter(tags=["pupils and alerts"], responses=PROBLEM_RESPONSES)

READERS = require_roles(Role.SCHOOL, Role.OFFICER, Role.MANAGER, Role.ADMIN)
OFFICERS = require_roles(Role.OFFICER, Role.MANAGER, Role.ADMIN)


@router.get(
    "/pupils/{child_ref}/history",
    response_model=PupilHistoryOut,
    summary="A pupil's suspensions, exclusions and part-time timetables (a school: its own only)",
)
async def history(
    child_ref: str,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> PupilHistoryOut:
    today = london_date(rt.context.clock.now())
    scope = Scope.of(principal)
    async with rt.kernel.uow() as uow:
        excl_rows = (
            (
                await uow.session.execute(
                    views.exclusion_list_query(
                        today=today,
                        child_ref=child_ref,
                        visible_urns=scope.visible_urns,
                        districts=scope.districts,
                    ).order_by(orm.exclusions.c.start_date, orm.exclusions.c.id)
                )
            )
            .mappings()
            .all()
        )
        tt_rows = (
            (
                await uow.session.execute(
                    views.timetable_list_query(
                        today=today,
                        child_ref=child_ref,
                        visible_urns=scope.visible_urns,
                        districts=scope.districts,
                    ).order_by(orm.part_time_timetables.c.starts_on, orm.part_time_timetables.c.id)
                )
            )
            .mappings()
            .all()
        )
        if not excl_rows and not tt_rows:
            raise NotFound("pupil history")
        items = [exclusion_from_row(r) for r in excl_rows]
        timetables = [timetable_from_row(r) for r in tt_rows]
        audited = [("exclusion", e.id) for e in items] + [("part_time_timetable", t.id) for t in timetables]
        for resource_type, resource_id in audited:
            await record_access(
                uow.session,
                uow.tables,
                principal,
                action="read",
                resource_type=resource_type,
                resource_id=resource_id,
                child_ref=child_ref,
                purpose="pupil-history",
            )
        await uow.commit()
    by_year: dict[str, float] = {}
    for e in items:
        if e.withdrawn_on is None and e.kind.value != "permanent":
            by_year[e.academic_year] = by_year.get(e.academic_year, 0.0) + e.days
    return PupilHistoryOut(
        child_ref=child_ref,
        exclusions=[exclusion_routes.to_out(e, today) for e in items],
        part_time_timetables=[part_time_routes.to_out(t, today) for t in timetables],
        suspension_days_by_year=by_year,
    )


@router.get("/alerts", response_model=Page[AlertOut], summary="Overdue reviews and timetables (officers)")
async def list_alerts(
    paging: PageParams,
    principal: Annotated[Principal, Depends(OFFICERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    kind: Annotated[str | None, Query(max_length=40)] = None,
    school_urn: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
) -> Page[AlertOut]:
    scope = Scope.of(principal)
    t = orm.alerts
    stmt = views.alert_list_query(kind=kind, school_urn=school_urn, districts=scope.districts)
    stmt = paging.apply(
        stmt,
        t.c.updated_at,
        t.c.id,
        filters={"kind": kind, "school_urn": school_urn, "districts": scope.districts},
    )
    return await audited_page(
        rt, principal, paging, stmt, AlertOut.model_validate, resource_type="alert", purpose="alert-list"
    )


@router.get("/reason-codes", summary="The exclusion reason codes valid in an academic year")
async def reason_codes(
    _principal: CurrentPrincipal,
    rt: Annotated[Runtime, Depends(runtime)],
    academic_year: Annotated[str, Query(pattern=r"^[0-9]{4}/[0-9]{2}$")],
) -> list[dict[str, str | bool]]:
    try:
        year = AcademicYear.from_label(academic_year)
    except ValueError as exc:  # the pattern admits e.g. "2025/30": the years must follow on
        raise ProblemError(
            422,
            "The request has invalid or missing fields.",
            errors=[
                FieldProblem(
                    pointer="query/academic_year",
                    code="invalid_academic_year",
                    detail="An academic year such as '2025/26': the second year follows the first.",
                )
            ],
        ) from exc
    return [
        {"code": c.code, "label": c.label, "verified": c.verified}
        for c in rt.context.reason_codes.for_year(year)
    ]
