"""Prosecution cases: unpaid notices become cases; officers lay information and record outcomes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from enforcement import views
from enforcement.adapters import orm
from enforcement.adapters.repository import case_from_row
from enforcement.domain import commands
from enforcement.domain.model import CourtOutcome, ProsecutionCase
from enforcement.entrypoints.api.dependencies import Runtime, district_limit, in_scope, runtime
from enforcement.entrypoints.api.schemas import CaseOut, InformationIn, OutcomeIn, SweepOut
from enforcement.entrypoints.api.writes import audited_page, audited_read, audited_write
from enforcement.service_layer import handlers
from enforcement.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import Principal, Role, require_roles
from inclusion_kit.idempotency import IDEMPOTENCY_RESPONSES, idempotency_openapi
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/prosecutions", tags=["prosecutions"], responses=PROBLEM_RESPONSES)

OFFICERS = require_roles(Role.OFFICER, Role.ADMIN)
READERS = require_roles(Role.OFFICER, Role.MANAGER, Role.ADMIN)


def case_out(c: ProsecutionCase, today: date) -> CaseOut:
    return CaseOut(
        id=c.id,
        notice_id=c.notice_id,
        child_ref=c.child_ref,
        school_urn=c.school_urn,
        parent_ref=c.parent_ref,
        offence_section=c.offence_section.value,
        last_offence_date=c.last_offence_date,
        time_limit=c.time_limit,
        days_to_time_limit=c.days_left(today),
        started_on=c.started_on,
        status=c.status.value,
        laid_on=c.laid_on,
        hearing_on=c.hearing_on,
        outcome=c.outcome.value if c.outcome else None,
        concluded_on=c.concluded_on,
        fine_pence=c.fine_pence,
        costs_pence=c.costs_pence,
        orders=c.orders,
        updated_at=c.updated_at or c.created_at,
    )


async def _scoped(uow: UnitOfWork, principal: Principal, case_id: str) -> ProsecutionCase | None:
    case = await uow.cases.get(case_id)
    if case is None or not await in_scope(uow, principal, case.school_urn):
        return None
    return case


@router.post(
    "/sweep",
    response_model=SweepOut,
    summary="Move every notice unpaid past its last due date to prosecution (the worker also does this)",
)
async def sweep(
    principal: Annotated[Principal, Depends(OFFICERS)], rt: Annotated[Runtime, Depends(runtime)]
) -> SweepOut:
    async with rt.kernel.uow() as uow:
        opened = await handlers.sweep_unpaid(uow, rt.context)
    return SweepOut(cases_opened=len(opened))


@router.get("", response_model=Page[CaseOut], summary="List prosecution cases")
async def list_cases(
    paging: PageParams,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    status_filter: Annotated[Literal["open", "laid", "concluded"] | None, Query(alias="status")] = None,
) -> Page[CaseOut]:
    today = rt.context.today()
    districts = district_limit(principal)
    t = orm.prosecution_cases
    stmt = paging.apply(
        views.case_list_query(status=status_filter, districts=districts),
        t.c.updated_at,
        t.c.id,
        filters={"status": status_filter, "districts": districts},
    )
    return await audited_page(
        rt,
        principal,
        paging,
        stmt,
        lambda row: case_out(case_from_row(row), today),
        resource_type="prosecution_case",
        purpose="prosecutions",
    )


@router.get("/{case_id}", response_model=CaseOut, summary="Read one case and its time limit")
async def read(
    case_id: str, principal: Annotated[Principal, Depends(READERS)], rt: Annotated[Runtime, Depends(runtime)]
) -> CaseOut:
    async def load(uow: UnitOfWork) -> ProsecutionCase | None:
        return await _scoped(uow, principal, case_id)

    found = await audited_read(
        rt, principal, load, resource_type="prosecution_case", purpose="prosecution", missing="case"
    )
    return case_out(found, rt.context.today())


async def _write(
    request: Request,
    principal: Principal,
    rt: Runtime,
    case_id: str,
    use_case: Any,
    purpose: str,
) -> Response:
    today = rt.context.today()

    async def work(uow: UnitOfWork, before_commit: Any) -> ProsecutionCase | None:
        if await _scoped(uow, principal, case_id) is None:
            return None
        return await use_case(uow, before_commit)  # type: ignore[no-any-return]

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=200,
        out=lambda c: case_out(c, today),
        action="update",
        resource_type="prosecution_case",
        purpose=purpose,
        missing="case",
    )


@router.post(
    "/{case_id}/information",
    response_model=CaseOut,
    summary="Information laid before the court (within six months of the last offence date)",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def lay(
    case_id: str,
    body: InformationIn,
    request: Request,
    principal: Annotated[Principal, Depends(OFFICERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    command = commands.LayInformation(case_id=case_id, laid_on=body.laid_on, hearing_on=body.hearing_on)

    async def use_case(uow: UnitOfWork, before_commit: Any) -> ProsecutionCase | None:
        return await handlers.lay_information(command, uow, rt.context, before_commit=before_commit)

    return await _write(request, principal, rt, case_id, use_case, "prosecution-information")


@router.post(
    "/{case_id}/outcome",
    response_model=CaseOut,
    summary="The court outcome (or withdrawn / not pursued)",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def outcome(
    case_id: str,
    body: OutcomeIn,
    request: Request,
    principal: Annotated[Principal, Depends(OFFICERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    command = commands.RecordCourtOutcome(
        case_id=case_id,
        outcome=CourtOutcome(body.outcome),
        concluded_on=body.concluded_on,
        fine_pence=body.fine_pence,
        costs_pence=body.costs_pence,
        orders=list(body.orders),
    )

    async def use_case(uow: UnitOfWork, before_commit: Any) -> ProsecutionCase | None:
        return await handlers.record_outcome(command, uow, rt.context, before_commit=before_commit)

    return await _write(request, principal, rt, case_id, use_case, "prosecution-outcome")
