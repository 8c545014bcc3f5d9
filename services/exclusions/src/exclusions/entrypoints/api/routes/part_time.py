"""Part-time timetables: schools notify, review and end them; officers watch the overdue ones."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from exclusions import views
from exclusions.adapters import orm
from exclusions.adapters.repository import timetable_from_row
from exclusions.domain import commands
from exclusions.domain.model import PartTimeTimetable, TimetableOutcome
from exclusions.entrypoints.api.dependencies import Runtime, Scope, runtime
from exclusions.entrypoints.api.errors import domain_problems
from exclusions.entrypoints.api.schemas import TimetableEndIn, TimetableIn, TimetableOut, TimetableReviewIn
from exclusions.entrypoints.api.writes import audited_page, audited_read, audited_write
from exclusions.service_layer import handlers
from exclusions.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import Principal, Role, require_roles
from inclusion_kit.calendar import london_date
from inclusion_kit.idempotency import IDEMPOTENCY_RESPONSES, idempotency_openapi
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES, ProblemError

router = APIRouter(prefix="/part-time-timetables", tags=["part-time timetables"], responses=PROBLEM_RESPONSES)

WRITERS = require_roles(Role.SCHOOL, Role.OFFICER, Role.ADMIN)
READERS = require_roles(Role.SCHOOL, Role.OFFICER, Role.MANAGER, Role.ADMIN)


def to_out(t: PartTimeTimetable, today: date) -> TimetableOut:
    running = t.ended_on is None
    return TimetableOut.model_validate(
        {
            "id": t.id,
            "child_ref": t.child_ref,
            "upn": t.upn,
            "school_urn": t.school_urn,
            "starts_on": t.starts_on,
            "planned_end_on": t.planned_end_on,
            "hours_per_week": t.hours_per_week,
            "reason": t.reason,
            "parent_agreed_on": t.parent_agreed_on,
            "review_dates": list(t.review_dates),
            "reviews": t.reviews,
            "review_due": t.review_due,
            "past_planned_end": running and today > t.planned_end_on,
            "review_overdue": running and today > t.review_due,
            "ended_on": t.ended_on,
            "outcome": t.outcome.value if t.outcome else None,
            "notified_at": t.notified_at,
            "updated_at": t.updated_at,
        }
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TimetableOut,
    summary="Notify a part-time timetable (planned end and review dates required)",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def notify(
    body: TimetableIn,
    request: Request,
    principal: Annotated[Principal, Depends(WRITERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    if not principal.can_act_for_urn(body.school_urn):
        raise ProblemError(
            403, "You may notify only for the schools you act for.", slug="not-acting-for-school"
        )
    cmd = commands.NotifyPartTimeTimetable(
        school_urn=body.school_urn,
        upn=body.upn,
        starts_on=body.starts_on,
        planned_end_on=body.planned_end_on,
        hours_per_week=body.hours_per_week,
        reason=body.reason,
        parent_agreed_on=body.parent_agreed_on,
        review_dates=tuple(body.review_dates),
        submitted_by=principal.subject,
    )
    today = london_date(rt.context.clock.now())

    async def work(uow: UnitOfWork, before_commit: Any) -> PartTimeTimetable:
        async with domain_problems():
            return await handlers.notify_part_time_timetable(
                cmd, uow, rt.context, before_commit=before_commit
            )

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=201,
        out=lambda t: to_out(t, today),
        action="create",
        resource_type="part_time_timetable",
        purpose="part-time-timetable-notified",
        location=lambda t: f"/part-time-timetables/{t.id}",
    )


@router.get("", response_model=Page[TimetableOut], summary="List part-time timetables")
async def list_timetables(
    paging: PageParams,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    school_urn: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    running: bool | None = None,
    overdue: Annotated[bool, Query(description="running past the planned end or the review")] = False,
) -> Page[TimetableOut]:
    today = london_date(rt.context.clock.now())
    scope = Scope.of(principal)
    stmt = views.timetable_list_query(
        today=today,
        school_urn=school_urn,
        district=district,
        running=running,
        overdue=overdue,
        visible_urns=scope.visible_urns,
        districts=scope.districts,
    )
    t = orm.part_time_timetables
    stmt = paging.apply(
        stmt,
        t.c.updated_at,
        t.c.id,
        filters={
            "school_urn": school_urn,
            "district": district,
            "running": running,
            "overdue": today.isoformat() if overdue else None,
            "visible": scope.visible_urns,
            "districts": scope.districts,
        },
    )
    return await audited_page(
        rt,
        principal,
        paging,
        stmt,
        lambda row: to_out(timetable_from_row(row), today),
        resource_type="part_time_timetable",
        purpose="part-time-timetable-list",
    )


async def _load_in_scope(
    uow: UnitOfWork, timetable_id: str, principal: Principal
) -> PartTimeTimetable | None:
    timetable = await uow.timetables.get(timetable_id)
    if timetable is None or not await Scope.of(principal).allows(uow, timetable.school_urn):
        return None
    return timetable


@router.get("/{timetable_id}", response_model=TimetableOut, summary="Read one part-time timetable")
async def read(
    timetable_id: str,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> TimetableOut:
    timetable = await audited_read(
        rt,
        principal,
        lambda uow: _load_in_scope(uow, timetable_id, principal),
        lambda _t: True,
        resource_type="part_time_timetable",
        purpose="part-time-timetable-read",
        missing="part-time timetable",
    )
    return to_out(timetable, london_date(rt.context.clock.now()))


async def _update(
    request: Request, principal: Principal, rt: Runtime, timetable_id: str, run: Any, purpose: str
) -> Response:
    today = london_date(rt.context.clock.now())

    async def work(uow: UnitOfWork, before_commit: Any) -> PartTimeTimetable | None:
        if await _load_in_scope(uow, timetable_id, principal) is None:
            return None
        async with domain_problems():
            result: PartTimeTimetable | None = await run(uow, before_commit)
            return result

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=200,
        out=lambda t: to_out(t, today),
        action="update",
        resource_type="part_time_timetable",
        purpose=purpose,
        missing="part-time timetable",
    )


@router.post(
    "/{timetable_id}/reviews",
    response_model=TimetableOut,
    summary="Record a review (optionally a new planned end)",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def review(
    timetable_id: str,
    body: TimetableReviewIn,
    request: Request,
    principal: Annotated[Principal, Depends(WRITERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    cmd = commands.ReviewPartTimeTimetable(
        timetable_id, body.reviewed_on, body.notes, body.new_planned_end_on
    )
    return await _update(
        request,
        principal,
        rt,
        timetable_id,
        lambda uow, hook: handlers.review_part_time_timetable(cmd, uow, rt.context, before_commit=hook),
        "part-time-timetable-review",
    )


@router.post(
    "/{timetable_id}/end",
    response_model=TimetableOut,
    summary="Record the end of the timetable and its outcome",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def end(
    timetable_id: str,
    body: TimetableEndIn,
    request: Request,
    principal: Annotated[Principal, Depends(WRITERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    cmd = commands.EndPartTimeTimetable(timetable_id, body.ended_on, TimetableOutcome(body.outcome))
    return await _update(
        request,
        principal,
        rt,
        timetable_id,
        lambda uow, hook: handlers.end_part_time_timetable(cmd, uow, rt.context, before_commit=hook),
        "part-time-timetable-ended",
    )
