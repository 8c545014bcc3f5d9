"""CME cases: officers list, read and work them; a school follows its own pupils' cases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from cme_tracker import views
from cme_tracker.adapters import orm
from cme_tracker.adapters.repository import case_from_row
from cme_tracker.domain import commands
from cme_tracker.domain.errors import DomainError, IllegalTransition, InvalidRequest
from cme_tracker.domain.model import ACTIVE, CmeCase, Rules, Status
from cme_tracker.entrypoints.api.dependencies import LA_READERS, READERS, WORKERS, Runtime, runtime, visible
from cme_tracker.entrypoints.api.schemas import (
    CaseHistoryOut,
    CaseOut,
    CloseIn,
    EnquiryIn,
    HistoryOut,
    LocateIn,
    PlacementIn,
    ReviewIn,
)
from cme_tracker.entrypoints.api.writes import audited_page, audited_read, audited_write
from cme_tracker.service_layer import handlers
from cme_tracker.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import Principal, Role
from inclusion_kit.calendar import london_date
from inclusion_kit.idempotency import IDEMPOTENCY_RESPONSES, idempotency_openapi
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES, Conflict, FieldProblem, ProblemError

router = APIRouter(prefix="/cases", tags=["cases"], responses=PROBLEM_RESPONSES)
WRITE_DOCS: dict[str, Any] = {
    "responses": IDEMPOTENCY_RESPONSES,
    "openapi_extra": idempotency_openapi(required=False),
}


def to_out(case: CmeCase, today: date, rules: Rules, *, detail: bool = False) -> CaseOut:
    active = case.status in ACTIVE
    return CaseOut(
        id=case.id,
        child_ref=case.child_ref,
        status=case.status.value,
        child=case.child,
        upn=case.upn,
        school=case.school,
        district=case.district,
        source=case.source,
        source_id=case.source_id,
        opened_on=case.opened_on,
        next_review_due=case.next_review_due if active else None,
        review_overdue=active and today > case.next_review_due,
        last_reviewed_on=case.last_reviewed_on,
        located_on=case.located_on,
        days_to_located=case.days_to_located,
        school_days_to_located=case.school_days_to_located,
        located_within_target=(
            case.days_to_located <= rules.located_target_days if case.days_to_located is not None else None
        ),
        placed_on=case.placed_on,
        placed_school=case.placed_school,
        days_to_placed=case.days_to_placed,
        school_days_to_placed=case.school_days_to_placed,
        placed_within_target=case.placed_within_target,
        closed_on=case.closed_on,
        outcome=case.outcome.value if case.outcome else None,
        other_la_code=case.other_la_code,
        duplicate_of=case.duplicate_of,
        updated_at=case.updated_at,
        enquiries=[
            {
                "id": e.id,
                "kind": e.kind.value,
                "made_on": e.made_on,
                "made_by": e.made_by,
                "result": e.result.value,
                "notes": e.notes,
                "recorded_at": e.recorded_at,
                "recorded_by": e.recorded_by,
            }
            for e in case.enquiries
        ]
        if detail
        else None,
        checklist_missing=[k.value for k in case.checklist_missing(rules)] if detail else None,
    )


def _scope(principal: Principal) -> Callable[[CmeCase], bool]:
    return lambda case: visible(principal, case.school, case.district)


def _today(rt: Runtime) -> date:
    return london_date(rt.context.clock.now())


@router.get("", response_model=Page[CaseOut], summary="List cases (filters; opaque cursor, updated_after)")
async def list_cases(
    paging: PageParams,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    status_filter: Annotated[Status | None, Query(alias="status")] = None,
    district: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    school_urn: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    overdue: Annotated[bool | None, Query(description="Open cases past their review date.")] = None,
    min_age: Annotated[int | None, Query(ge=0, le=25)] = None,
    max_age: Annotated[int | None, Query(ge=0, le=25)] = None,
) -> Page[CaseOut]:
    if min_age is not None and max_age is not None and min_age > max_age:
        raise ProblemError(
            422,
            "The request has invalid or missing fields.",
            errors=[FieldProblem(pointer="query/min_age", code="range", detail="min_age is at most max_age")],
        )
    today = _today(rt)
    visible_urns = sorted(principal.urns) if principal.is_school_only else None
    districts = views.district_limit(principal.districts, Role.ADMIN in principal.roles)
    filters = {
        "status": status_filter.value if status_filter else None,
        "district": district.casefold() if district else None,
        "school_urn": school_urn,
        "overdue": overdue,
        "overdue_on": today.isoformat() if overdue is not None else None,
        "min_age": min_age,
        "max_age": max_age,
        "age_on": today.isoformat() if (min_age, max_age) != (None, None) else None,
        "visible": visible_urns,
        "districts": districts,
    }
    stmt = views.case_list_query(
        today=today,
        status=status_filter.value if status_filter else None,
        district=district,
        school_urn=school_urn,
        overdue=overdue,
        min_age=min_age,
        max_age=max_age,
        visible_urns=visible_urns,
        districts=districts,
    )
    t = orm.cme_cases
    stmt = paging.apply(stmt, t.c.updated_at, t.c.id, filters=filters)
    rules = rt.context.rules
    return await audited_page(
        rt,
        principal,
        paging,
        stmt,
        lambda row: to_out(case_from_row(row), today, rules),
        resource_type="cme_case",
        purpose="cme-caseload",
    )


@router.get("/{case_id}", response_model=CaseOut, summary="Read one case with its enquiries")
async def read_case(
    case_id: str,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> CaseOut:
    async def load(uow: UnitOfWork) -> CmeCase | None:
        case = await uow.cases.get(case_id)
        return case if case is not None and _scope(principal)(case) else None

    case = await audited_read(
        rt, principal, load, resource_type="cme_case", purpose="cme-case", missing="case"
    )
    return to_out(case, _today(rt), rt.context.rules, detail=True)


@router.get("/{case_id}/history", response_model=CaseHistoryOut, summary="The case's history, oldest first")
async def case_history(
    case_id: str,
    principal: Annotated[Principal, Depends(LA_READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> CaseHistoryOut:
    async def load(uow: UnitOfWork) -> tuple[CmeCase, list[dict[str, Any]]] | None:
        case = await uow.cases.get(case_id)
        if case is None or not _scope(principal)(case):
            return None
        return case, await views.case_history(uow.session, case.id)

    case, entries = await audited_read(
        rt, principal, load, resource_type="cme_case", purpose="cme-case-history", missing="case"
    )
    return CaseHistoryOut(
        case_id=case.id,
        child_ref=case.child_ref,
        entries=[
            HistoryOut(at=e["at"], action=e["action"], actor=e["actor"], details=e["details"])
            for e in entries
        ],
    )


async def _write(
    request: Request,
    principal: Principal,
    rt: Runtime,
    run: Callable[[UnitOfWork, Any], Awaitable[CmeCase | None]],
    purpose: str,
    status_code: int = 200,
) -> Response:
    today = _today(rt)

    async def work(uow: UnitOfWork, before_commit: Any) -> CmeCase | None:
        try:
            return await run(uow, before_commit)
        except InvalidRequest as exc:
            raise ProblemError(
                422,
                "The request has invalid or missing fields.",
                errors=[FieldProblem(pointer=f"/{exc.field}", code="invalid", detail=exc.message)],
            ) from exc
        except IllegalTransition as exc:
            raise Conflict(str(exc), slug=exc.code) from exc
        except DomainError as exc:  # pragma: no cover - every domain error is one of the above
            raise Conflict(str(exc), slug=exc.code) from exc

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=status_code,
        out=lambda c: to_out(c, today, rt.context.rules, detail=True),
        resource_type="cme_case",
        purpose=purpose,
        missing="case",
    )


@router.post("/{case_id}/enquiries", response_model=CaseOut, summary="Record an enquiry", **WRITE_DOCS)
async def record_enquiry(
    case_id: str,
    body: EnquiryIn,
    request: Request,
    principal: Annotated[Principal, Depends(WORKERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    cmd = commands.RecordEnquiry(
        case_id=case_id,
        kind=body.kind,
        made_on=body.made_on,
        made_by=body.made_by,
        result=body.result,
        notes=body.notes,
        recorded_by=principal.subject,
    )
    return await _write(
        request,
        principal,
        rt,
        lambda uow, bc: handlers.record_enquiry(cmd, uow, rt.context, bc, _scope(principal)),
        "cme-enquiry",
    )


@router.post(
    "/{case_id}/locate", response_model=CaseOut, summary="Record that the child is found", **WRITE_DOCS
)
async def locate(
    case_id: str,
    body: LocateIn,
    request: Request,
    principal: Annotated[Principal, Depends(WORKERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    cmd = commands.LocateChild(case_id, body.located_on, body.notes, principal.subject)
    return await _write(
        request,
        principal,
        rt,
        lambda uow, bc: handlers.locate_child(cmd, uow, rt.context, bc, _scope(principal)),
        "cme-located",
    )


@router.post("/{case_id}/reviews", response_model=CaseOut, summary="Record the case's review", **WRITE_DOCS)
async def review(
    case_id: str,
    body: ReviewIn,
    request: Request,
    principal: Annotated[Principal, Depends(WORKERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    cmd = commands.ReviewCase(case_id, body.reviewed_on, body.notes, principal.subject)
    return await _write(
        request,
        principal,
        rt,
        lambda uow, bc: handlers.review_case(cmd, uow, rt.context, bc, _scope(principal)),
        "cme-review",
    )


@router.post(
    "/{case_id}/placement",
    response_model=CaseOut,
    summary="Record a placement on a roll before the school's new-pupil return arrives",
    **WRITE_DOCS,
)
async def placement(
    case_id: str,
    body: PlacementIn,
    request: Request,
    principal: Annotated[Principal, Depends(WORKERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    school = {
        "urn": body.school_urn,
        "name": body.school_name,
        "la_code": body.la_code,
        "district": body.district,
    }
    cmd = commands.RecordPlacement(case_id, school, body.placed_on, principal.subject)
    return await _write(
        request,
        principal,
        rt,
        lambda uow, bc: handlers.record_placement(cmd, uow, rt.context, bc, _scope(principal)),
        "cme-placement",
    )


@router.post(
    "/{case_id}/close", response_model=CaseOut, summary="Close the case with an outcome", **WRITE_DOCS
)
async def close(
    case_id: str,
    body: CloseIn,
    request: Request,
    principal: Annotated[Principal, Depends(WORKERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    cmd = commands.CloseCase(
        case_id=case_id,
        outcome=body.outcome_value,
        closed_on=body.closed_on,
        other_la_code=body.other_la_code,
        duplicate_of=body.duplicate_of,
        notes=body.notes,
        recorded_by=principal.subject,
    )
    return await _write(
        request,
        principal,
        rt,
        lambda uow, bc: handlers.close_case(cmd, uow, rt.context, bc, _scope(principal)),
        "cme-close",
    )
