"""Suspensions and permanent exclusions: schools notify; officers record provision and reviews,
and work from lists by district, school, kind and deadline."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from exclusions import views
from exclusions.adapters import orm
from exclusions.adapters.repository import exclusion_from_row
from exclusions.domain import commands
from exclusions.domain.model import BoardOutcome, Exclusion, PanelOutcome, PupilFlags
from exclusions.domain.rules import Kind, Session
from exclusions.entrypoints.api.dependencies import Runtime, Scope, runtime
from exclusions.entrypoints.api.errors import domain_problems
from exclusions.entrypoints.api.schemas import (
    REVIEW_EXAMPLES,
    BoardDecisionIn,
    ExclusionIn,
    ExclusionOut,
    PanelDecisionIn,
    ProvisionIn,
    ReconsiderationIn,
    RepresentationsIn,
    ReviewIn,
    WithdrawalIn,
)
from exclusions.entrypoints.api.writes import audited_page, audited_read, audited_write
from exclusions.service_layer import handlers
from exclusions.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import Principal, Role, require_roles
from inclusion_kit.calendar import london_date
from inclusion_kit.idempotency import IDEMPOTENCY_RESPONSES, idempotency_openapi
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES, ProblemError

router = APIRouter(prefix="/exclusions", tags=["exclusions"], responses=PROBLEM_RESPONSES)

NOTIFIERS = require_roles(Role.SCHOOL, Role.OFFICER, Role.ADMIN)
READERS = require_roles(Role.SCHOOL, Role.OFFICER, Role.MANAGER, Role.ADMIN)


def to_out(e: Exclusion, today: date) -> ExclusionOut:
    nxt = e.next_deadline()
    r = e.reviews
    return ExclusionOut.model_validate(
        {
            "id": e.id,
            "child_ref": e.child_ref,
            "upn": e.upn,
            "school_urn": e.school_urn,
            "kind": e.kind.value,
            "start_date": e.start_date,
            "start_session": e.start_session.value,
            "end_date": e.end_date,
            "sessions": e.sessions,
            "days": e.days,
            "reason_codes": list(e.reason_codes),
            "academic_year": e.academic_year,
            "pupil": e.pupil.__dict__,
            "parents_notified_at": e.parents_notified_at,
            "notified_at": e.notified_at,
            "misses_public_exam": e.misses_public_exam,
            "school_reference": e.school_reference,
            "deadlines": {
                "board_review_due": e.board_review_due,
                "board_review_reasons": [x.value for x in e.board_review_reasons],
                "representations_review_due": e.representations_review_due,
                "sixth_day_provision_due": e.sixth_day_due,
                "provision_responsibility": (
                    e.provision_responsibility.value if e.provision_responsibility else None
                ),
                "irp_application_due": r.irp_application_due,
                "reconsideration_due": r.reconsideration_due,
                "next_deadline": nxt[0] if nxt else None,
                "next_deadline_kind": nxt[1].value if nxt else None,
                "next_deadline_missed": bool(nxt and nxt[0] < today),
            },
            "provision": e.provision.__dict__ if e.provision else None,
            "provision_missed_on": e.provision_missed_on,
            "withdrawn_on": e.withdrawn_on,
            "withdrawal_reason": e.withdrawal_reason,
            "reinstated_on": e.reinstated_on,
            "reviews": {
                k: (v.isoformat() if isinstance(v, date) else v.value if v is not None else None)
                for k, v in r.__dict__.items()
            },
            "updated_at": e.updated_at,
        }
    )


def _ensure_acts_for(principal: Principal, urn: str) -> None:
    if not principal.can_act_for_urn(urn):
        raise ProblemError(
            403, "You may notify only for the schools you act for.", slug="not-acting-for-school"
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ExclusionOut,
    summary="Notify a suspension, lunchtime suspension or permanent exclusion (school or MIS)",
    responses={**IDEMPOTENCY_RESPONSES, 409: {"description": "Already notified (duplicate-notification)."}},
    openapi_extra=idempotency_openapi(required=False),
)
async def notify(
    body: ExclusionIn,
    request: Request,
    principal: Annotated[Principal, Depends(NOTIFIERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    _ensure_acts_for(principal, body.school_urn)
    command = commands.NotifyExclusion(
        school_urn=body.school_urn,
        upn=body.upn,
        kind=Kind(body.kind),
        start_date=body.start_date,
        start_session=Session(body.start_session),
        sessions=body.sessions,
        lunchtimes=body.lunchtimes,
        end_date=body.end_date,
        reason_codes=tuple(body.reason_codes),
        pupil=PupilFlags(
            sen_provision=body.sen_provision,
            ehc_plan=body.ehc_plan,
            fsm_eligible=body.fsm_eligible,
            looked_after=body.looked_after,
            child_in_need=body.child_in_need,
            child_protection_plan=body.child_protection_plan,
        ),
        parents_notified_at=body.parents_notified_at,
        misses_public_exam=body.misses_public_exam,
        school_reference=body.school_reference,
        submitted_by=principal.subject,
    )
    today = london_date(rt.context.clock.now())

    async def work(uow: UnitOfWork, before_commit: Any) -> Exclusion:
        async with domain_problems():
            return await handlers.notify_exclusion(command, uow, rt.context, before_commit=before_commit)

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=201,
        out=lambda e: to_out(e, today),
        action="create",
        resource_type="exclusion",
        purpose=lambda e: f"{e.kind.value}-notified",
        location=lambda e: f"/exclusions/{e.id}",
    )


@router.get("", response_model=Page[ExclusionOut], summary="List exclusions (opaque cursor, updated_after)")
async def list_exclusions(
    paging: PageParams,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    school_urn: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    kind: Kind | None = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    academic_year: Annotated[str | None, Query(pattern=r"^[0-9]{4}/[0-9]{2}$")] = None,
    deadline: Annotated[
        views.DeadlineFilter | None,
        Query(description="due: an open deadline today or later; missed: one already passed"),
    ] = None,
) -> Page[ExclusionOut]:
    today = london_date(rt.context.clock.now())
    scope = Scope.of(principal)
    stmt = views.exclusion_list_query(
        today=today,
        school_urn=school_urn,
        kind=kind.value if kind else None,
        district=district,
        academic_year=academic_year,
        deadline=deadline,
        visible_urns=scope.visible_urns,
        districts=scope.districts,
    )
    t = orm.exclusions
    stmt = paging.apply(
        stmt,
        t.c.updated_at,
        t.c.id,
        filters={
            "school_urn": school_urn,
            "kind": kind.value if kind else None,
            "district": district,
            "academic_year": academic_year,
            "deadline": deadline,
            "today": today.isoformat() if deadline else None,
            "visible": scope.visible_urns,
            "districts": scope.districts,
        },
    )
    return await audited_page(
        rt,
        principal,
        paging,
        stmt,
        lambda row: to_out(exclusion_from_row(row), today),
        resource_type="exclusion",
        purpose="exclusion-list",
    )


async def _load_in_scope(uow: UnitOfWork, exclusion_id: str, principal: Principal) -> Exclusion | None:
    exclusion = await uow.exclusions.get(exclusion_id)
    if exclusion is None or not await Scope.of(principal).allows(uow, exclusion.school_urn):
        return None
    return exclusion


@router.get("/{exclusion_id}", response_model=ExclusionOut, summary="Read one exclusion and its deadlines")
async def read(
    exclusion_id: str,
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> ExclusionOut:
    exclusion = await audited_read(
        rt,
        principal,
        lambda uow: _load_in_scope(uow, exclusion_id, principal),
        lambda _e: True,
        resource_type="exclusion",
        purpose="exclusion-read",
        missing="exclusion",
    )
    return to_out(exclusion, london_date(rt.context.clock.now()))


async def _update(
    request: Request,
    principal: Principal,
    rt: Runtime,
    exclusion_id: str,
    run: Any,
    purpose: str,
) -> Response:
    today = london_date(rt.context.clock.now())

    async def work(uow: UnitOfWork, before_commit: Any) -> Exclusion | None:
        if await _load_in_scope(uow, exclusion_id, principal) is None:
            return None  # 404: absent, another school's, or outside the officer's districts
        async with domain_problems():
            result: Exclusion | None = await run(uow, before_commit)
            return result

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=200,
        out=lambda e: to_out(e, today),
        action="update",
        resource_type="exclusion",
        purpose=purpose,
        missing="exclusion",
    )


@router.post(
    "/{exclusion_id}/withdrawal",
    response_model=ExclusionOut,
    summary="The head teacher withdrew the suspension or exclusion",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def withdraw(
    exclusion_id: str,
    body: WithdrawalIn,
    request: Request,
    principal: Annotated[Principal, Depends(NOTIFIERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    cmd = commands.WithdrawExclusion(exclusion_id, body.withdrawn_on, body.reason)
    return await _update(
        request,
        principal,
        rt,
        exclusion_id,
        lambda uow, hook: handlers.withdraw_exclusion(cmd, uow, rt.context, before_commit=hook),
        "exclusion-withdrawn",
    )


@router.post(
    "/{exclusion_id}/provision",
    response_model=ExclusionOut,
    summary="Record full-time provision from the sixth school day (provider, start date)",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def provision(
    exclusion_id: str,
    body: ProvisionIn,
    request: Request,
    principal: Annotated[Principal, Depends(NOTIFIERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    cmd = commands.RecordProvision(exclusion_id, body.provider, body.provider_urn, body.starts_on)
    return await _update(
        request,
        principal,
        rt,
        exclusion_id,
        lambda uow, hook: handlers.record_provision(cmd, uow, rt.context, before_commit=hook),
        "sixth-day-provision",
    )


def _review_command(exclusion_id: str, body: Any) -> commands.ReviewCommand:
    if isinstance(body, RepresentationsIn):
        return commands.RecordRepresentations(exclusion_id, body.received_on)
    if isinstance(body, BoardDecisionIn):
        return commands.RecordBoardDecision(
            exclusion_id,
            BoardOutcome(body.outcome),
            body.decided_on,
            body.parents_notice_sent_on,
            body.notice_posted,
            body.reinstated_on,
        )
    if isinstance(body, PanelDecisionIn):
        return commands.RecordPanelDecision(
            exclusion_id, body.applied_on, PanelOutcome(body.outcome), body.decided_on, body.board_notified_on
        )
    assert isinstance(body, ReconsiderationIn)
    return commands.RecordReconsideration(exclusion_id, BoardOutcome(body.outcome), body.decided_on)


@router.post(
    "/{exclusion_id}/reviews",
    response_model=ExclusionOut,
    summary="Record representations, the board's decision, the review panel's or a reconsideration",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def review(
    exclusion_id: str,
    body: Annotated[ReviewIn, Body(openapi_examples=REVIEW_EXAMPLES)],
    request: Request,
    principal: Annotated[Principal, Depends(NOTIFIERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    cmd = _review_command(exclusion_id, body)
    return await _update(
        request,
        principal,
        rt,
        exclusion_id,
        lambda uow, hook: handlers.record_review(cmd, uow, rt.context, before_commit=hook),
        f"exclusion-review-{body.stage}",
    )
