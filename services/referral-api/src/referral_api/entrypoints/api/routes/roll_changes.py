"""Roll changes: deletion returns (with their regulation 9(1) ground) and new-pupil returns, and
the feeds officers and Early Help systems read them from."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy import select

from inclusion_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from inclusion_kit.idempotency import IDEMPOTENCY_RESPONSES, idempotency_openapi
from inclusion_kit.pagination import Page, PageParams
from inclusion_kit.problems import PROBLEM_RESPONSES, FieldProblem, ProblemError
from referral_api import views
from referral_api.adapters import orm
from referral_api.domain import roll
from referral_api.domain.errors import UnknownSchool
from referral_api.domain.model import Child
from referral_api.entrypoints.api.dependencies import Runtime, runtime
from referral_api.entrypoints.api.roll_schemas import AdmissionReturnIn, DeletionReturnIn, RollChangeOut
from referral_api.entrypoints.api.schemas import ChildIn
from referral_api.entrypoints.api.writes import audited_page, audited_read, audited_write
from referral_api.service_layer import handlers
from referral_api.service_layer.unit_of_work import UnitOfWork

router = APIRouter(prefix="/roll-changes", tags=["roll changes"], responses=PROBLEM_RESPONSES)

SENDERS = require_roles(Role.SCHOOL, Role.OFFICER, Role.ADMIN)


def _child(body: ChildIn) -> Child:
    return Child(
        forename=body.forename,
        surname=body.surname,
        date_of_birth=body.date_of_birth,
        upn=body.upn,
        sex=body.sex,
        address=body.address.model_dump() if body.address else None,
    )


def _ensure_acts_for(principal: Principal, urn: str) -> None:
    if not principal.can_act_for_urn(urn):
        raise ProblemError(
            403, "You may send returns only for the schools you act for.", slug="not-acting-for-school"
        )


def _rejected(exc: roll.RollChangeRejected) -> ProblemError:
    return ProblemError(
        422,
        "The return does not meet the rules for its ground.",
        slug="roll-change-rejected",
        errors=[FieldProblem(pointer="/" + f, code="rule", detail=m) for f, m in exc.errors],
    )


def out(change: roll.RollChange) -> RollChangeOut:
    return RollChangeOut.model_validate(
        {
            "id": change.id,
            "kind": change.kind,
            "school_urn": change.school_urn,
            "child_ref": change.child_ref,
            "child": {
                "upn": change.child.upn,
                "forename": change.child.forename,
                "surname": change.child.surname,
                "date_of_birth": change.child.date_of_birth,
                "sex": change.child.sex,
                "address": change.child.address,
            },
            "details": change.details,
            "received_at": change.received_at,
        }
    )


async def _record(request: Request, principal: Principal, rt: Runtime, record: Any) -> Response:
    async def work(uow: UnitOfWork, before_commit: Any) -> roll.RollChange:
        try:
            result: roll.RollChange = await record(uow, before_commit)
            return result
        except UnknownSchool as exc:
            raise ProblemError(422, str(exc), slug="unknown-school") from exc
        except roll.RollChangeRejected as exc:
            raise _rejected(exc) from exc

    return await audited_write(
        request,
        principal,
        rt,
        work,
        status_code=201,
        out=out,
        action="create",
        resource_type="roll_change",
        purpose=lambda change: f"{change.kind}-return",
        location=lambda change: f"/roll-changes/{change.id}",
    )


@router.post(
    "/deletions",
    status_code=status.HTTP_201_CREATED,
    response_model=RollChangeOut,
    summary="A deletion return: a pupil leaves the roll on a regulation 9(1) ground",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def post_deletion(
    body: DeletionReturnIn,
    request: Request,
    principal: Annotated[Principal, Depends(SENDERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    _ensure_acts_for(principal, body.school_urn)
    ret = roll.DeletionReturn(
        school_urn=body.school_urn,
        child=_child(body.child),
        ground=roll.Ground(body.ground),
        ground_met_on=body.ground_met_on,
        deleted_on=body.deleted_on,
        parents=[p.model_dump(mode="json") for p in body.parents],
        destination=body.destination.model_dump(mode="json") if body.destination else None,
        parent_notice_received_on=body.parent_notice_received_on,
        leave_ended_on=body.leave_ended_on,
        absence_from=body.absence_from,
        absence_to=body.absence_to,
        absence_codes=frozenset(body.absence_codes),
        excluded_on=body.excluded_on,
        enquiries=tuple(
            roll.Enquiry(made_on=e.made_on, by=roll.EnquiryBy(e.by), method=e.method, outcome=e.outcome)
            for e in body.enquiries
        ),
    )
    return await _record(
        request,
        principal,
        rt,
        lambda uow, hook: handlers.record_deletion(
            ret, uow, rt.context, principal.subject, before_commit=hook
        ),
    )


@router.post(
    "/admissions",
    status_code=status.HTTP_201_CREATED,
    response_model=RollChangeOut,
    summary="A new-pupil return: a pupil was entered on the admission register",
    responses=IDEMPOTENCY_RESPONSES,
    openapi_extra=idempotency_openapi(required=False),
)
async def post_admission(
    body: AdmissionReturnIn,
    request: Request,
    principal: Annotated[Principal, Depends(SENDERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Response:
    _ensure_acts_for(principal, body.school_urn)
    return await _record(
        request,
        principal,
        rt,
        lambda uow, hook: handlers.record_admission(
            body.school_urn,
            _child(body.child),
            body.starting_day,
            body.entered_on,
            body.year_group,
            body.previous_school_urn,
            uow,
            rt.context,
            principal.subject,
            before_commit=hook,
        ),
    )


@router.get(
    "",
    response_model=Page[RollChangeOut],
    summary="Roll changes since a point (kind=deletion is the deletions feed)",
)
async def list_roll_changes(
    paging: PageParams,
    principal: CurrentPrincipal,
    rt: Annotated[Runtime, Depends(runtime)],
    kind: Literal["deletion", "admission"] | None = None,
) -> Page[RollChangeOut]:
    t = orm.roll_changes
    stmt = select(t)
    if kind is not None:
        stmt = stmt.where(t.c.kind == kind)
    visible = sorted(principal.urns) if principal.is_school_only else None
    if visible is not None:
        stmt = stmt.where(t.c.school_urn.in_(visible))
    districts = views.district_limit(principal.districts, Role.ADMIN in principal.roles)
    if districts is not None:
        stmt = stmt.where(views.in_districts(t.c.school_urn, districts))
    stmt = paging.apply(
        stmt, t.c.updated_at, t.c.id, filters={"kind": kind, "visible": visible, "districts": districts}
    )
    return await audited_page(
        rt, principal, paging, stmt, _row_out, resource_type="roll_change", purpose="roll-change-list"
    )


@router.get("/{change_id}", response_model=RollChangeOut, summary="Read one roll change")
async def read_roll_change(
    change_id: str,
    principal: CurrentPrincipal,
    rt: Annotated[Runtime, Depends(runtime)],
) -> RollChangeOut:
    async def load(uow: UnitOfWork) -> roll.RollChange | None:
        change = await uow.roll_changes.get(change_id)
        if change is None or (principal.is_school_only and not principal.can_act_for_urn(change.school_urn)):
            return None
        districts = views.district_limit(principal.districts, Role.ADMIN in principal.roles)
        if districts is not None:
            school = await uow.schools.get(change.school_urn)
            if school is None or (school["district"] or "").casefold() not in districts:
                return None
        return change

    change = await audited_read(
        rt,
        principal,
        load,
        lambda _c: True,
        resource_type="roll_change",
        purpose="roll-change-read",
        missing="roll change",
    )
    return out(change)


def _row_out(row: Any) -> RollChangeOut:
    return RollChangeOut.model_validate(
        {
            "id": row["id"],
            "kind": row["kind"],
            "school_urn": row["school_urn"],
            "child_ref": row["child_ref"],
            "child": {**row["child"], "date_of_birth": date.fromisoformat(row["child"]["date_of_birth"])},
            "details": row["details"],
            # SQLite hands back naive datetimes; the API always answers in UTC with an offset.
            "received_at": _utc(row["received_at"]),
        }
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
