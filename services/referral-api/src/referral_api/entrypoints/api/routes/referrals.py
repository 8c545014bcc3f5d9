"""Referrals: schools and agencies submit; officers triage; schools see their own."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from inclusion_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from inclusion_kit.calendar import london_date
from inclusion_kit.idempotency import IDEMPOTENCY_RESPONSES, idempotency_openapi
from inclusion_kit.pagination import Page, PageParams, PageRequest
from inclusion_kit.problems import PROBLEM_RESPONSES, Conflict, ProblemError
from referral_api import views
from referral_api.adapters import orm
from referral_api.adapters.repository import to_domain
from referral_api.domain import commands
from referral_api.domain.errors import IllegalTransition, UnknownSchool
from referral_api.domain.model import Child, Decision, Referral, ReferralKind, ReferralStatus, Referrer
from referral_api.entrypoints.api.dependencies import Runtime, runtime
from referral_api.entrypoints.api.schemas import REFERRAL_EXAMPLES, ReferralIn, ReferralOut, TriageIn
from referral_api.entrypoints.api.writes import audited_page, audited_read, audited_write
from referral_api.service_layer import handlers
from referral_api.service_layer.unit_of_work import UnitOfWork

router = APIRouter(prefix="/referrals", tags=["referrals"], responses=PROBLEM_RESPONSES)

SUBMITTERS = require_roles(Role.SCHOOL, Role.OFFICER, Role.EARLY_HELP, Role.ADMIN)
TRIAGERS = require_roles(Role.OFFICER, Role.ADMIN)

_DETAIL_FIELD = {
    "attendance_concern": "attendance_concern",
    "child_missing_education": "missing_education",
    "elective_home_education": "home_education",
}


def _command(body: Any, principal: Principal) -> commands.SubmitReferral:
    if body.referrer.school_urn is not None and not principal.can_act_for_urn(body.referrer.school_urn):
        # A school acts only for its own URNs; say so without revealing anything about the other.
        raise ProblemError(
            403, "You may refer only for the schools you act for.", slug="not-acting-for-school"
        )
    if principal.is_school_only and body.referrer.school_urn is None:
        raise ProblemError(
            403, "A school refers as itself: give referrer.school_urn.", slug="not-acting-for-school"
        )
    detail_field = _DETAIL_FIELD.get(body.kind)
    details = getattr(body, detail_field).model_dump(mode="json") if detail_field else {}
    child = body.child
    return commands.SubmitReferral(
        kind=ReferralKind(body.kind),
        child=Child(
            forename=child.forename,
            surname=child.surname,
            date_of_birth=child.date_of_birth,
            upn=child.upn,
            sex=child.sex,
            address=child.address.model_dump() if child.address else None,
        ),
        referrer=Referrer(
            kind="school" if body.referrer.school_urn else "agency",
            school_urn=body.referrer.school_urn,
            agency_type=body.referrer.agency_type.value if body.referrer.agency_type else None,
            agency_name=body.referrer.agency_name,
        ),
        school_urn=body.school_urn or body.referrer.school_urn,
        summary=body.summary,
        details=details,
        submitted_by=principal.subject,
    )


def to_out(referral: Referral, today: date) -> ReferralOut:
    return ReferralOut.model_validate(
        {
            "id": referral.id,
            "child_ref": referral.child_ref,
            "kind": referral.kind.value,
            "status": referral.status.value,
            "child": {
                "upn": referral.child.upn,
                "forename": referral.child.forename,
                "surname": referral.child.surname,
                "date_of_birth": referral.child.date_of_birth,
                "sex": referral.child.sex,
                "address": referral.child.address,
            },
            "referrer": {
                "school_urn": referral.referrer.school_urn,
                "agency_type": referral.referrer.agency_type,
                "agency_name": referral.referrer.agency_name,
            },
            "school_urn": referral.school_urn,
            "summary": referral.summary,
            "details": referral.details,
            "received_at": referral.received_at,
            "response_due": referral.response_due,
            "overdue": referral.decided_at is None and today > referral.response_due,
            "decision_reason": referral.decision_reason,
            "redirected_to": referral.redirected_to,
            "decided_at": referral.decided_at,
            "updated_at": referral.updated_at,
        }
    )


def _visible(referral: Referral, principal: Principal) -> bool:
    urns = {referral.school_urn, referral.referrer.school_urn} - {None}
    return any(principal.can_act_for_urn(urn) for urn in urns) if principal.is_school_only else True


async def _in_scope(uow: UnitOfWork, referral: Referral | None, principal: Principal) -> bool:
    """A school sees its own schools' referrals; an officer limited to districts sees those of
    schools in them (a referral with no school has no district: unrestricted officers only)."""
    if referral is None or not _visible(referral, principal):
        return False
    districts = views.district_limit(principal.districts, Role.ADMIN in principal.roles)
    if districts is None:
        return True
    school = await uow.schools.get(referral.school_urn) if referral.school_urn else None
    return school is not None and (school["district"] or "").casefold() in districts


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralOut,
    summary="Submit a referral (school, MIS or agency)",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def submit(
    body: Annotated[ReferralIn, Body(openapi_examples=REFERRAL_EXAMPLES)],
    request: Request,
    principal: Annotated[Principal, Depends(SUBMITTERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    command = _command(body, principal)
    today = london_date(rt.context.clock.now())

    async def work(uow: UnitOfWork, before_commit: Any) -> Referral:
        try:
            return await handlers.submit_referral(command, uow, rt.context, before_commit=before_commit)
        except UnknownSchool as exc:
            raise ProblemError(422, str(exc), slug="unknown-school") from exc

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=201,
        out=lambda r: to_out(r, today),
        action="create",
        resource_type="referral",
        purpose="referral-submitted",
        location=lambda r: f"/referrals/{r.id}",
    )


@router.get("", response_model=Page[ReferralOut], summary="List referrals (opaque cursor, updated_after)")
async def list_referrals(
    paging: PageParams,
    principal: CurrentPrincipal,
    rt: Annotated[Runtime, Depends(runtime)],
    status_filter: Annotated[ReferralStatus | None, Query(alias="status")] = None,
    kind: ReferralKind | None = None,
    school_urn: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
) -> Page[ReferralOut]:
    return await _list(paging, principal, rt, status=status_filter, kind=kind, school_urn=school_urn)


@router.get(
    "/overdue",
    response_model=Page[ReferralOut],
    summary="Referrals still undecided after their response-due date (officers)",
)
async def list_overdue(
    paging: PageParams,
    principal: Annotated[Principal, Depends(TRIAGERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Page[ReferralOut]:
    return await _list(paging, principal, rt, overdue=True)


async def _list(
    paging: PageRequest,
    principal: Principal,
    rt: Runtime,
    *,
    status: ReferralStatus | None = None,
    kind: ReferralKind | None = None,
    school_urn: str | None = None,
    overdue: bool = False,
) -> Page[ReferralOut]:
    today = london_date(rt.context.clock.now())
    visible = sorted(principal.urns) if principal.is_school_only else None
    districts = views.district_limit(principal.districts, Role.ADMIN in principal.roles)
    stmt = views.referral_list_query(
        status=status.value if status else None,
        kind=kind.value if kind else None,
        school_urn=school_urn,
        visible_urns=visible,
        overdue_on=today if overdue else None,
        districts=districts,
    )
    t = orm.referrals
    # Everything that narrows the rows binds the cursor, the caller's scope included.
    stmt = paging.apply(
        stmt,
        t.c.updated_at,
        t.c.id,
        filters={
            "status": status.value if status else None,
            "kind": kind.value if kind else None,
            "school_urn": school_urn,
            "visible": visible,
            "districts": districts,
            "overdue": today.isoformat() if overdue else None,
        },
    )
    return await audited_page(
        rt,
        principal,
        paging,
        stmt,
        lambda row: to_out(to_domain(row), today),
        resource_type="referral",
        purpose="referral-list",
    )


@router.get("/{referral_id}", response_model=ReferralOut, summary="Read one referral and its status")
async def read(
    referral_id: str,
    principal: CurrentPrincipal,
    rt: Annotated[Runtime, Depends(runtime)],
) -> ReferralOut:
    async def load(uow: UnitOfWork) -> Referral | None:
        referral = await uow.referrals.get(referral_id)
        return referral if await _in_scope(uow, referral, principal) else None

    referral = await audited_read(
        rt,
        principal,
        load,
        lambda _r: True,
        resource_type="referral",
        purpose="referral-status",
        missing="referral",
    )
    return to_out(referral, london_date(rt.context.clock.now()))


@router.post(
    "/{referral_id}/triage",
    response_model=ReferralOut,
    summary="Triage: accept, redirect to a named service, or close with a reason",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def triage(
    referral_id: str,
    body: TriageIn,
    request: Request,
    principal: Annotated[Principal, Depends(TRIAGERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    command = commands.TriageReferral(
        referral_id=referral_id,
        decision=Decision(body.decision),
        decided_by=principal.subject,
        reason=body.reason,
        redirected_to=body.redirected_to,
    )
    today = london_date(rt.context.clock.now())

    async def work(uow: UnitOfWork, before_commit: Any) -> Referral | None:
        if not await _in_scope(uow, await uow.referrals.get(referral_id), principal):
            return None  # 404: absent, or outside the officer's districts
        try:
            return await handlers.triage_referral(command, uow, rt.context, before_commit=before_commit)
        except IllegalTransition as exc:
            raise Conflict(str(exc), slug="illegal-transition") from exc

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=200,
        out=lambda r: to_out(r, today),
        action="update",
        resource_type="referral",
        purpose="referral-triage",
        missing="referral",
    )
