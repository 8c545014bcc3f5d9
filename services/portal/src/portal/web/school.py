"""Schools' pages (officers may use them too): referrals of every kind, roll-change returns,
exclusion and part-time-timetable notifications, penalty-notice requests, and their records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from inclusion_kit.auth import Role
from inclusion_kit.calendar import AcademicYear, london_today
from portal import catalogue
from portal.api import ApiError
from portal.forms import FormSpec
from portal.web import formpage
from portal.web.deps import (
    LA_ROLES,
    REFERRER_ROLES,
    SUBMIT_ROLES,
    Api,
    PageError,
    User,
    render,
    require,
)

router = APIRouter()

School = Annotated[User, Depends(require(Role.SCHOOL))]
Referrer = Annotated[User, Depends(require(*REFERRER_ROLES))]
Submitter = Annotated[User, Depends(require(*SUBMIT_ROLES))]
AnyRecordReader = Annotated[User, Depends(require(Role.SCHOOL, *LA_ROLES))]


async def fetch(api: Api, service: str, path: str, user: User, params: dict[str, Any] | None = None) -> Any:
    """GET from a service; its 403/404 become the portal's 403/404 pages (a school asking for
    another school's record gets the same 404 as for one that does not exist)."""
    try:
        return await api.get(service, path, user.token, params)
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise PageError(exc.status) from None
        raise PageError(409 if exc.status == 409 else 404, exc.detail) from None


def _urns(user: User) -> list[str]:
    return list(user.urns) if Role.SCHOOL in user.roles else []


@router.get("/school")
async def school_home(request: Request, user: School, api: Api) -> Response:
    referrals = await fetch(api, "referral", "/referrals", user, {"limit": 10})
    return render(
        request, "school_home.html", {"referrals": referrals["items"], "kinds": catalogue.REFERRAL_KINDS}
    )


# Referrals ---------------------------------------------------------------------------------


@router.get("/referrals")
async def referrals(
    request: Request,
    user: AnyRecordReader,
    api: Api,
    status: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
) -> Response:
    page = await fetch(
        api,
        "referral",
        "/referrals",
        user,
        {"status": status, "kind": kind, "cursor": cursor, "limit": request.app.state.settings.page_size},
    )
    return render(
        request,
        "referrals.html",
        {
            "page": page,
            "status": status,
            "kind": kind,
            "kinds": catalogue.REFERRAL_KINDS,
            "can_refer": user.has(REFERRER_ROLES),
        },
    )


@router.get("/referrals/new")
async def choose_referral_kind(request: Request, user: Referrer, kind: str | None = None) -> Response:
    if kind in catalogue.REFERRAL_KINDS:
        return RedirectResponse(f"/referrals/new/{kind}", status_code=303)
    errors = [{"id": "kind", "message": "Select what you are referring"}] if kind is not None else []
    return render(
        request,
        "referral_kind.html",
        {"kinds": catalogue.REFERRAL_KINDS, "errors": errors},
        status=422 if errors else 200,
    )


def _referral_spec(kind: str, user: User) -> FormSpec:
    if kind not in catalogue.REFERRAL_KINDS:
        raise PageError(404)
    return catalogue.referral_form(kind, _urns(user))


@router.get("/referrals/new/{kind}")
async def referral_form(request: Request, kind: str, user: Referrer) -> Response:
    spec = _referral_spec(kind, user)
    return formpage.show(request, spec, action=f"/referrals/new/{kind}", back="/referrals/new")


@router.post("/referrals/new/{kind}")
async def submit_referral(request: Request, kind: str, user: Referrer, api: Api) -> Response:
    spec = _referral_spec(kind, user)
    return await formpage.submit(
        request,
        api,
        user,
        spec,
        service="referral",
        path="/referrals",
        action=f"/referrals/new/{kind}",
        back="/referrals/new",
        done=lambda r: f"/referrals/{r['id']}",
        message=lambda r: (
            f"Referral sent. Your reference is {r['id']}. "
            f"The local authority will respond by {r['response_due']}."
        ),
    )


@router.get("/referrals/{referral_id}")
async def referral(request: Request, referral_id: str, user: AnyRecordReader, api: Api) -> Response:
    record = await fetch(api, "referral", f"/referrals/{referral_id}", user)
    can_triage = user.has(frozenset({Role.OFFICER, Role.ADMIN})) and record["status"] == "received"
    return formpage.show(
        request,
        catalogue.TRIAGE_FORM,
        action=f"/referrals/{referral_id}/triage",
        back="/referrals",
        template="referral.html",
        extra={"r": record, "kinds": catalogue.REFERRAL_KINDS, "can_triage": can_triage},
    )


# Roll-change returns --------------------------------------------------------------------------


@router.get("/returns")
async def returns(
    request: Request, user: AnyRecordReader, api: Api, kind: str | None = None, cursor: str | None = None
) -> Response:
    page = await fetch(
        api,
        "referral",
        "/roll-changes",
        user,
        {"kind": kind, "cursor": cursor, "limit": request.app.state.settings.page_size},
    )
    return render(request, "returns.html", {"page": page, "kind": kind, "can_submit": user.has(SUBMIT_ROLES)})


def _return_spec(kind: str, user: User) -> FormSpec:
    if kind == "deletions":
        return catalogue.deletion_form(_urns(user))
    if kind == "admissions":
        return catalogue.admission_form(_urns(user))
    raise PageError(404)


@router.get("/returns/new/{kind}")
async def return_form(request: Request, kind: str, user: Submitter) -> Response:
    return formpage.show(request, _return_spec(kind, user), action=f"/returns/new/{kind}", back="/returns")


@router.post("/returns/new/{kind}")
async def submit_return(request: Request, kind: str, user: Submitter, api: Api) -> Response:
    return await formpage.submit(
        request,
        api,
        user,
        _return_spec(kind, user),
        service="referral",
        path=f"/roll-changes/{kind}",
        action=f"/returns/new/{kind}",
        back="/returns",
        done=lambda r: f"/returns/{r['id']}",
        message=lambda r: f"Return sent. Your reference is {r['id']}.",
    )


@router.get("/returns/{change_id}")
async def roll_change(request: Request, change_id: str, user: AnyRecordReader, api: Api) -> Response:
    record = await fetch(api, "referral", f"/roll-changes/{change_id}", user)
    return render(
        request,
        "record.html",
        {"title": f"Roll change {record.get('id', change_id)}", "record": record, "back": "/returns"},
    )


# Exclusions and part-time timetables -----------------------------------------------------------


@router.get("/exclusions")
async def exclusions(
    request: Request, user: AnyRecordReader, api: Api, cursor: str | None = None
) -> Response:
    page = await fetch(
        api,
        "exclusions",
        "/exclusions",
        user,
        {"cursor": cursor, "limit": request.app.state.settings.page_size},
    )
    timetables = await fetch(
        api, "exclusions", "/part-time-timetables", user, {"limit": request.app.state.settings.page_size}
    )
    return render(
        request,
        "exclusions.html",
        {"page": page, "timetables": timetables["items"], "can_submit": user.has(SUBMIT_ROLES)},
    )


async def _reason_codes(api: Api, user: User) -> list[tuple[str, str]]:
    year = AcademicYear.containing(london_today()).label
    codes = await fetch(api, "exclusions", "/reason-codes", user, {"academic_year": year})
    return [(str(c["code"]), f"{c['label']} ({c['code']})") for c in codes]


@router.get("/exclusions/new")
async def exclusion_form(request: Request, user: Submitter, api: Api) -> Response:
    spec = catalogue.exclusion_form(_urns(user), await _reason_codes(api, user))
    return formpage.show(request, spec, action="/exclusions/new", back="/exclusions")


@router.post("/exclusions/new")
async def submit_exclusion(request: Request, user: Submitter, api: Api) -> Response:
    spec = catalogue.exclusion_form(_urns(user), await _reason_codes(api, user))
    return await formpage.submit(
        request,
        api,
        user,
        spec,
        service="exclusions",
        path="/exclusions",
        action="/exclusions/new",
        back="/exclusions",
        done=lambda r: f"/exclusions/{r['id']}",
        message=lambda r: f"Notification sent. Reference {r['id']}.",
    )


@router.get("/part-time-timetables/new")
async def part_time_form(request: Request, user: Submitter) -> Response:
    return formpage.show(
        request, catalogue.part_time_form(_urns(user)), action="/part-time-timetables/new", back="/exclusions"
    )


@router.post("/part-time-timetables/new")
async def submit_part_time(request: Request, user: Submitter, api: Api) -> Response:
    return await formpage.submit(
        request,
        api,
        user,
        catalogue.part_time_form(_urns(user)),
        service="exclusions",
        path="/part-time-timetables",
        action="/part-time-timetables/new",
        back="/exclusions",
        done=lambda r: f"/part-time-timetables/{r['id']}",
        message=lambda r: f"Notification sent. Reference {r['id']}.",
    )


# Penalty-notice requests -------------------------------------------------------------------------


@router.get("/penalty-requests")
async def penalty_requests(
    request: Request, user: AnyRecordReader, api: Api, status: str | None = None, cursor: str | None = None
) -> Response:
    page = await fetch(
        api,
        "enforcement",
        "/penalty-requests",
        user,
        {"status": status, "cursor": cursor, "limit": request.app.state.settings.page_size},
    )
    return render(
        request,
        "penalty_requests.html",
        {"page": page, "status": status, "can_submit": user.has(SUBMIT_ROLES)},
    )


@router.get("/penalty-requests/new")
async def penalty_form(request: Request, user: Submitter) -> Response:
    return formpage.show(
        request,
        catalogue.penalty_request_form(_urns(user)),
        action="/penalty-requests/new",
        back="/penalty-requests",
    )


@router.post("/penalty-requests/new")
async def submit_penalty(request: Request, user: Submitter, api: Api) -> Response:
    return await formpage.submit(
        request,
        api,
        user,
        catalogue.penalty_request_form(_urns(user)),
        service="enforcement",
        path="/penalty-requests",
        action="/penalty-requests/new",
        back="/penalty-requests",
        done=lambda r: f"/penalty-requests/{r['id']}",
        message=lambda r: f"Request sent. Reference {r['id']}.",
    )


@router.get("/penalty-requests/{request_id}")
async def penalty_request(request: Request, request_id: str, user: AnyRecordReader, api: Api) -> Response:
    record = await fetch(api, "enforcement", f"/penalty-requests/{request_id}", user)
    can_decide = user.has(frozenset({Role.OFFICER, Role.ADMIN})) and record["status"] == "submitted"
    assessment = None
    if can_decide:
        assessment = await fetch(api, "enforcement", f"/penalty-requests/{request_id}/assessment", user)
    return formpage.show(
        request,
        catalogue.PENALTY_DECISION_FORM,
        action=f"/penalty-requests/{request_id}/decision",
        back="/penalty-requests",
        template="penalty_request.html",
        extra={"p": record, "can_decide": can_decide, "assessment": assessment},
    )
