"""Penalty-notice requests: schools request and see their own; officers assess, decide and issue."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from enforcement import views
from enforcement.adapters import orm
from enforcement.adapters.repository import request_from_row
from enforcement.domain import commands
from enforcement.domain.model import OffenceSection, OffenceType, PenaltyNotice, PenaltyRequest, ServiceMethod
from enforcement.domain.policy import RuleResult
from enforcement.entrypoints.api.dependencies import Runtime, district_limit, in_scope, runtime
from enforcement.entrypoints.api.routes.notices import notice_out
from enforcement.entrypoints.api.schemas import (
    AssessmentOut,
    DecisionIn,
    IssueIn,
    NoticeOut,
    ParentTermsOut,
    PenaltyRequestIn,
    PenaltyRequestOut,
)
from enforcement.entrypoints.api.writes import audited_page, audited_read, audited_write
from enforcement.service_layer import handlers
from enforcement.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from inclusion_kit.idempotency import IDEMPOTENCY_RESPONSES, idempotency_openapi
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES, ProblemError

router = APIRouter(prefix="/penalty-requests", tags=["penalty-notice requests"], responses=PROBLEM_RESPONSES)

REQUESTERS = require_roles(Role.SCHOOL, Role.OFFICER, Role.ADMIN)
READERS = require_roles(Role.SCHOOL, Role.OFFICER, Role.MANAGER, Role.ADMIN)
OFFICERS = require_roles(Role.OFFICER, Role.ADMIN)


def request_out(r: PenaltyRequest) -> PenaltyRequestOut:
    d = r.decision
    return PenaltyRequestOut.model_validate(
        {
            "id": r.id,
            "child_ref": r.child_ref,
            "school_urn": r.school_urn,
            "upn": r.upn,
            "offence_type": r.offence_type.value,
            "period_start": r.period_start,
            "period_end": r.period_end,
            "parents": [
                {
                    "parent_ref": p.parent_ref,
                    "forename": p.forename,
                    "surname": p.surname,
                    "relationship": p.relationship,
                    "address": p.address,
                    "outcome": p.outcome.value,
                    "rule": p.rule,
                    "reason": p.reason,
                    "sequence": p.sequence,
                    "issue_due_by": p.issue_due_by,
                    "notice_id": p.notice_id,
                }
                for p in r.parents
            ],
            "notice_to_improve_issued_on": r.notice_to_improve_issued_on,
            "aggravating_factors": r.aggravating_factors,
            "evidence": r.evidence,
            "status": r.status.value,
            "decision": None
            if d is None
            else {
                "decided_at": d.decided_at,
                "eligible": d.eligible,
                "code_of_conduct": d.code_of_conduct,
                "rule": d.rule,
                "reason": d.reason,
                "segments": d.segments,
                "last_offence_date": d.last_offence_date,
                "offence_section": d.offence_section,
            },
            "requested_at": r.requested_at,
            "updated_at": r.updated_at or r.requested_at,
        }
    )


async def _scoped_request(uow: UnitOfWork, principal: Principal, request_id: str) -> PenaltyRequest | None:
    request = await uow.requests.get(request_id)
    if request is None or not await in_scope(uow, principal, request.school_urn):
        return None
    return request


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PenaltyRequestOut,
    summary="A school requests penalty notices for a pupil's liable parents",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def submit(
    body: PenaltyRequestIn,
    request: Request,
    principal: Annotated[Principal, Depends(REQUESTERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    if not principal.can_act_for_urn(body.school_urn):
        raise ProblemError(
            403, "You may request only for the schools you act for.", slug="not-acting-for-school"
        )
    command = commands.RequestPenaltyNotice(
        school_urn=body.school_urn,
        upn=body.upn,
        offence_type=OffenceType(body.offence_type),
        period_start=body.period_start,
        period_end=body.period_end,
        parents=[
            commands.ParentDetails(
                forename=p.forename,
                surname=p.surname,
                relationship=p.relationship,
                address=p.address.model_dump(),
            )
            for p in body.parents
        ],
        requested_by=principal.subject,
        notice_to_improve_issued_on=body.notice_to_improve_issued_on,
        aggravating_factors=list(body.aggravating_factors),
        evidence=body.evidence.model_dump(),
    )

    async def work(uow: UnitOfWork, before_commit: Any) -> PenaltyRequest | None:
        if not await in_scope(uow, principal, body.school_urn) and await uow.schools.get(body.school_urn):
            raise ProblemError(403, "The school is outside your districts.", slug="not-acting-for-school")
        return await handlers.submit_request(command, uow, rt.context, before_commit=before_commit)

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=201,
        out=request_out,
        action="create",
        resource_type="penalty_request",
        purpose="penalty-notice-request",
        location=lambda r: f"/penalty-requests/{r.id}",
    )


@router.get("", response_model=Page[PenaltyRequestOut], summary="List requests and their decisions")
async def list_requests(
    paging: PageParams,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    status_filter: Annotated[
        Literal["submitted", "eligible", "issued", "declined"] | None, Query(alias="status")
    ] = None,
    school_urn: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
) -> Page[PenaltyRequestOut]:
    visible = sorted(principal.urns) if principal.is_school_only else None
    districts = district_limit(principal)
    stmt = views.request_list_query(
        status=status_filter, school_urn=school_urn, visible_urns=visible, districts=districts
    )
    t = orm.penalty_requests
    stmt = paging.apply(
        stmt,
        t.c.updated_at,
        t.c.id,
        filters={
            "status": status_filter,
            "school_urn": school_urn,
            "visible": visible,
            "districts": districts,
        },
    )
    return await audited_page(
        rt,
        principal,
        paging,
        stmt,
        lambda row: request_out(request_from_row(row)),
        resource_type="penalty_request",
        purpose="penalty-notice-requests",
    )


@router.get("/{request_id}", response_model=PenaltyRequestOut, summary="Read one request and its decision")
async def read(request_id: str, principal: CurrentPrincipal, rt: Annotated[Runtime, Depends(runtime)]) -> Any:
    async def load(uow: UnitOfWork) -> PenaltyRequest | None:
        return await _scoped_request(uow, principal, request_id)

    found = await audited_read(
        rt,
        principal,
        load,
        resource_type="penalty_request",
        purpose="penalty-notice-request",
        missing="request",
    )
    return request_out(found)


@router.get(
    "/{request_id}/assessment",
    response_model=AssessmentOut,
    summary="Officers: how the code of conduct judges the request today (nothing is decided)",
)
async def assessment(
    request_id: str,
    principal: Annotated[Principal, Depends(OFFICERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> AssessmentOut:
    result: list[handlers.Assessment] = []

    async def load(uow: UnitOfWork) -> PenaltyRequest | None:
        request = await _scoped_request(uow, principal, request_id)
        if request is not None:
            result.append(await handlers.assess(request, uow, rt.context, rt.context.today()))
        return request

    await audited_read(
        rt,
        principal,
        load,
        resource_type="penalty_request",
        purpose="penalty-notice-assessment",
        missing="request",
    )
    found = result[0]
    parents = []
    for ref, terms in found.terms.items():
        if isinstance(terms, RuleResult):
            parents.append(
                ParentTermsOut(parent_ref=ref, eligible=False, rule=terms.rule.value, detail=terms.detail)
            )
        else:
            parents.append(
                ParentTermsOut(
                    parent_ref=ref,
                    eligible=True,
                    sequence=terms.sequence,
                    full_amount_pence=terms.amounts.full_pence,
                    reduced_amount_pence=terms.amounts.reduced_pence,
                )
            )
    return AssessmentOut(
        request_id=request_id,
        eligible=found.judgement.eligible,
        segments=[
            {
                "code_of_conduct": s.code_of_conduct,
                "start": s.start,
                "end": s.end,
                "met": s.met,
                "rules": [{"rule": r.rule.value, "met": r.met, "detail": r.detail} for r in s.results],
            }
            for s in found.judgement.segments
        ],
        code_of_conduct_at_issue=found.code_at_issue,
        parents=parents,
    )


@router.post(
    "/{request_id}/decision",
    response_model=PenaltyRequestOut,
    summary="Officers: decide (eligible, or declined naming the rule that failed); once",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def decide(
    request_id: str,
    body: DecisionIn,
    request: Request,
    principal: Annotated[Principal, Depends(OFFICERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    command = commands.DecideRequest(
        request_id=request_id,
        decided_by=principal.subject,
        decline_reason=body.reason if body.decline else None,
        offence_section=OffenceSection(body.offence_section),
    )

    async def work(uow: UnitOfWork, before_commit: Any) -> PenaltyRequest | None:
        if await _scoped_request(uow, principal, request_id) is None:
            return None
        return await handlers.decide_request(command, uow, rt.context, before_commit=before_commit)

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=200,
        out=request_out,
        action="update",
        resource_type="penalty_request",
        purpose="penalty-notice-decision",
        missing="request",
    )


@router.post(
    "/{request_id}/notices",
    status_code=status.HTTP_201_CREATED,
    response_model=NoticeOut,
    summary="Officers: issue the notice to one eligible parent (within 7 days of the decision)",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def issue(
    request_id: str,
    body: IssueIn,
    request: Request,
    principal: Annotated[Principal, Depends(OFFICERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    command = commands.IssueNotice(
        request_id=request_id,
        parent_ref=body.parent_ref,
        issued_by=principal.subject,
        service_method=ServiceMethod(body.service_method),
        served_on=body.served_on,
    )
    today = rt.context.today()

    async def work(uow: UnitOfWork, before_commit: Any) -> PenaltyNotice | None:
        if await _scoped_request(uow, principal, request_id) is None:
            return None
        return await handlers.issue_notice(command, uow, rt.context, before_commit=before_commit)

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=201,
        out=lambda n: notice_out(n, today),
        action="create",
        resource_type="penalty_notice",
        purpose="penalty-notice-issue",
        location=lambda n: f"/penalty-notices/{n.id}",
        missing="request or parent",
    )
