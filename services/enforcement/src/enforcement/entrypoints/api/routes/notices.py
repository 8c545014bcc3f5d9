"""Penalty notices: officers record payments and withdrawals and see what is unpaid."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from enforcement import views
from enforcement.adapters import orm
from enforcement.adapters.repository import notice_from_row
from enforcement.domain import commands
from enforcement.domain.model import PenaltyNotice, WithdrawalGround
from enforcement.domain.policy import amount_due_on
from enforcement.entrypoints.api.dependencies import Runtime, district_limit, in_scope, runtime
from enforcement.entrypoints.api.schemas import NoticeOut, PaymentIn, WithdrawalIn
from enforcement.entrypoints.api.writes import audited_page, audited_read, audited_write
from enforcement.service_layer import handlers
from enforcement.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import Principal, Role, require_roles
from inclusion_kit.idempotency import IDEMPOTENCY_RESPONSES, idempotency_openapi
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/penalty-notices", tags=["penalty notices"], responses=PROBLEM_RESPONSES)

OFFICERS = require_roles(Role.OFFICER, Role.ADMIN)
READERS = require_roles(Role.OFFICER, Role.MANAGER, Role.ADMIN)


def notice_out(n: PenaltyNotice, today: date) -> NoticeOut:
    due = (
        amount_due_on(n.amounts, n.received_on, max(today, n.received_on))
        if n.status.value == "issued"
        else None
    )
    return NoticeOut(
        id=n.id,
        number=n.number,
        request_id=n.request_id,
        child_ref=n.child_ref,
        school_urn=n.school_urn,
        parent_ref=n.parent_ref,
        code_of_conduct=n.code_of_conduct,
        sequence=n.sequence,
        offence_type=n.offence_type.value,
        issued_on=n.issued_on,
        issue_due_by=n.issue_due_by,
        issued_within_target=n.issued_within_target,
        service_method=n.service_method.value,
        served_on=n.served_on,
        received_on=n.received_on,
        reduced_amount_pence=n.amounts.reduced_pence,
        reduced_due_by=n.reduced_due_by,
        full_amount_pence=n.amounts.full_pence,
        full_due_by=n.full_due_by,
        amount_due_today_pence=due.pence if due else None,
        status=n.status.value,
        paid_on=n.paid_on,
        paid_pence=n.paid_pence,
        payment_rate=n.payment_rate,
        withdrawn_on=n.withdrawn_on,
        withdrawal_ground=n.withdrawal_ground.value if n.withdrawal_ground else None,
        prosecution_case_id=n.prosecution_case_id,
        updated_at=n.updated_at or n.created_at,
    )


async def _scoped(uow: UnitOfWork, principal: Principal, notice_id: str) -> PenaltyNotice | None:
    notice = await uow.notices.get(notice_id)
    if notice is None or not await in_scope(uow, principal, notice.school_urn):
        return None
    return notice


@router.get(
    "", response_model=Page[NoticeOut], summary="List notices (officers); overdue=true: unpaid past due"
)
async def list_notices(
    paging: PageParams,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    status_filter: Annotated[
        Literal["issued", "paid", "unpaid", "withdrawn"] | None, Query(alias="status")
    ] = None,
    overdue: bool = False,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[NoticeOut]:
    today = rt.context.today()
    districts = district_limit(principal)
    stmt = views.notice_list_query(
        status=status_filter,
        overdue_on=today if overdue else None,
        districts=districts,
        request_id=request_id,
    )
    t = orm.penalty_notices
    stmt = paging.apply(
        stmt,
        t.c.updated_at,
        t.c.id,
        filters={
            "status": status_filter,
            "overdue": today.isoformat() if overdue else None,
            "districts": districts,
            "request_id": request_id,
        },
    )
    return await audited_page(
        rt,
        principal,
        paging,
        stmt,
        lambda row: notice_out(notice_from_row(row), today),
        resource_type="penalty_notice",
        purpose="penalty-notices",
    )


@router.get("/{notice_id}", response_model=NoticeOut, summary="Read one notice")
async def read(
    notice_id: str,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> NoticeOut:
    async def load(uow: UnitOfWork) -> PenaltyNotice | None:
        return await _scoped(uow, principal, notice_id)

    found = await audited_read(
        rt, principal, load, resource_type="penalty_notice", purpose="penalty-notice", missing="notice"
    )
    return notice_out(found, rt.context.today())


@router.post(
    "/{notice_id}/payments",
    response_model=NoticeOut,
    summary="Record a payment: it must be the amount due on its date",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def pay(
    notice_id: str,
    body: PaymentIn,
    request: Request,
    principal: Annotated[Principal, Depends(OFFICERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    command = commands.RecordPayment(
        notice_id=notice_id, paid_on=body.paid_on, amount_pence=body.amount_pence
    )
    today = rt.context.today()

    async def work(uow: UnitOfWork, before_commit: Any) -> PenaltyNotice | None:
        if await _scoped(uow, principal, notice_id) is None:
            return None
        return await handlers.record_payment(command, uow, rt.context, before_commit=before_commit)

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=200,
        out=lambda n: notice_out(n, today),
        action="update",
        resource_type="penalty_notice",
        purpose="penalty-notice-payment",
        missing="notice",
    )


@router.post(
    "/{notice_id}/withdrawal",
    response_model=NoticeOut,
    summary="Withdraw a notice on a ground (an open prosecution case for it is not pursued)",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def withdraw(
    notice_id: str,
    body: WithdrawalIn,
    request: Request,
    principal: Annotated[Principal, Depends(OFFICERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    command = commands.WithdrawNotice(
        notice_id=notice_id,
        ground=WithdrawalGround(body.ground),
        note=body.note,
        withdrawn_on=body.withdrawn_on,
    )
    today = rt.context.today()

    async def work(uow: UnitOfWork, before_commit: Any) -> PenaltyNotice | None:
        if await _scoped(uow, principal, notice_id) is None:
            return None
        return await handlers.withdraw_notice(command, uow, rt.context, before_commit=before_commit)

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=200,
        out=lambda n: notice_out(n, today),
        action="update",
        resource_type="penalty_notice",
        purpose="penalty-notice-withdrawal",
        missing="notice",
    )
