"""The elective home education register: registrations, their contacts, visits and reviews."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from cme_tracker import views
from cme_tracker.adapters import orm
from cme_tracker.adapters.repository import ehe_from_row
from cme_tracker.domain import commands
from cme_tracker.domain.errors import IllegalTransition, InvalidRequest
from cme_tracker.domain.model import EheRegistration, EheStatus
from cme_tracker.entrypoints.api.dependencies import LA_READERS, WORKERS, Runtime, runtime
from cme_tracker.entrypoints.api.schemas import EheActionIn, EheEndIn, EheOut
from cme_tracker.entrypoints.api.writes import audited_page, audited_read, audited_write
from cme_tracker.service_layer import handlers
from cme_tracker.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import Principal, Role
from inclusion_kit.calendar import london_date
from inclusion_kit.idempotency import IDEMPOTENCY_RESPONSES, idempotency_openapi
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES, Conflict, FieldProblem, ProblemError

router = APIRouter(prefix="/ehe", tags=["elective home education"], responses=PROBLEM_RESPONSES)
WRITE_DOCS: dict[str, Any] = {
    "responses": IDEMPOTENCY_RESPONSES,
    "openapi_extra": idempotency_openapi(required=False),
}


def to_out(reg: EheRegistration, today: date) -> EheOut:
    return EheOut(
        id=reg.id,
        child_ref=reg.child_ref,
        status=reg.status.value,
        child=reg.child,
        upn=reg.upn,
        source=reg.source,
        source_id=reg.source_id,
        registered_on=reg.registered_on,
        parent_notice_received_on=reg.parent_notice_received_on,
        school=reg.school,
        district=reg.district,
        first_contact_due=reg.first_contact_due,
        first_contact_on=reg.first_contact_on,
        visit_offer_due=reg.visit_offer_due,
        visit_offered_on=reg.visit_offered_on,
        next_review_due=reg.next_review_due,
        last_reviewed_on=reg.last_reviewed_on,
        ended_on=reg.ended_on,
        end_reason=reg.end_reason,
        overdue=reg.overdue(today),
        updated_at=reg.updated_at,
    )


def _scope(principal: Principal) -> Callable[[EheRegistration], bool]:
    # The register is the LA's: schools do not read it; officers see their districts.
    return lambda reg: principal.in_district(reg.district)


@router.get("", response_model=Page[EheOut], summary="The EHE register (filters; opaque cursor)")
async def list_registrations(
    paging: PageParams,
    principal: Annotated[Principal, Depends(LA_READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    status_filter: Annotated[EheStatus | None, Query(alias="status")] = None,
    district: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    overdue: Annotated[bool | None, Query(description="First contact, visit offer or review late.")] = None,
) -> Page[EheOut]:
    today = london_date(rt.context.clock.now())
    districts = views.district_limit(principal.districts, Role.ADMIN in principal.roles)
    stmt = views.ehe_list_query(
        today=today,
        status=status_filter.value if status_filter else None,
        district=district,
        overdue=overdue,
        districts=districts,
    )
    t = orm.ehe_registrations
    stmt = paging.apply(
        stmt,
        t.c.updated_at,
        t.c.id,
        filters={
            "status": status_filter.value if status_filter else None,
            "district": district.casefold() if district else None,
            "overdue": overdue,
            "overdue_on": today.isoformat() if overdue is not None else None,
            "districts": districts,
        },
    )
    return await audited_page(
        rt,
        principal,
        paging,
        stmt,
        lambda row: to_out(ehe_from_row(row), today),
        resource_type="ehe_registration",
        purpose="ehe-register",
    )


@router.get("/{registration_id}", response_model=EheOut, summary="Read one registration")
async def read_registration(
    registration_id: str,
    principal: Annotated[Principal, Depends(LA_READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> EheOut:
    async def load(uow: UnitOfWork) -> EheRegistration | None:
        reg = await uow.ehe.get(registration_id)
        return reg if reg is not None and _scope(principal)(reg) else None

    reg = await audited_read(
        rt,
        principal,
        load,
        resource_type="ehe_registration",
        purpose="ehe-registration",
        missing="registration",
    )
    return to_out(reg, london_date(rt.context.clock.now()))


async def _act(
    registration_id: str,
    action: str,
    on: date,
    reason: str | None,
    request: Request,
    principal: Principal,
    rt: Runtime,
) -> Response:
    cmd = commands.EheAction(registration_id, action, on, None, principal.subject, reason)
    today = london_date(rt.context.clock.now())

    async def work(uow: UnitOfWork, before_commit: Any) -> EheRegistration | None:
        try:
            return await handlers.ehe_act(cmd, uow, rt.context, before_commit, _scope(principal))
        except InvalidRequest as exc:
            raise ProblemError(
                422,
                "The request has invalid or missing fields.",
                errors=[FieldProblem(pointer=f"/{exc.field}", code="invalid", detail=exc.message)],
            ) from exc
        except IllegalTransition as exc:
            raise Conflict(str(exc), slug=exc.code) from exc

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=200,
        out=lambda r: to_out(r, today),
        resource_type="ehe_registration",
        purpose=f"ehe-{action.replace('_', '-')}",
        missing="registration",
    )


@router.post(
    "/{registration_id}/first-contact", response_model=EheOut, summary="Record first contact", **WRITE_DOCS
)
async def first_contact(
    registration_id: str,
    body: EheActionIn,
    request: Request,
    principal: Annotated[Principal, Depends(WORKERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    return await _act(registration_id, "first_contact", body.on, None, request, principal, rt)


@router.post(
    "/{registration_id}/visit-offer", response_model=EheOut, summary="Record the visit offered", **WRITE_DOCS
)
async def visit_offer(
    registration_id: str,
    body: EheActionIn,
    request: Request,
    principal: Annotated[Principal, Depends(WORKERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    return await _act(registration_id, "visit_offered", body.on, None, request, principal, rt)


@router.post(
    "/{registration_id}/reviews", response_model=EheOut, summary="Record the yearly review", **WRITE_DOCS
)
async def review(
    registration_id: str,
    body: EheActionIn,
    request: Request,
    principal: Annotated[Principal, Depends(WORKERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    return await _act(registration_id, "review", body.on, None, request, principal, rt)


@router.post("/{registration_id}/end", response_model=EheOut, summary="End the registration", **WRITE_DOCS)
async def end(
    registration_id: str,
    body: EheEndIn,
    request: Request,
    principal: Annotated[Principal, Depends(WORKERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    return await _act(registration_id, "end", body.on, body.reason, request, principal, rt)
