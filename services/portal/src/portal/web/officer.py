"""Officers' workspace: the triage inbox, the CME caseload, exclusions by deadline, penalty-notice
requests to decide, and a child's timeline across the services (each service audits its reads)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from inclusion_kit.auth import Role
from inclusion_kit.calendar import AcademicYear, london_today
from portal import catalogue
from portal.api import ApiError
from portal.web import formpage
from portal.web.deps import OFFICER_ROLES, Api, PageError, User, render, require
from portal.web.school import fetch

router = APIRouter()

Officer = Annotated[User, Depends(require(*OFFICER_ROLES))]
CaseReader = Annotated[User, Depends(require(Role.OFFICER, Role.ADMIN, Role.MANAGER))]


def _kind(kind: str) -> str:
    return catalogue.REFERRAL_KINDS.get(kind, (kind, ""))[0]


@router.get("/officer/triage")
async def triage_inbox(request: Request, user: Officer, api: Api, cursor: str | None = None) -> Response:
    page = await fetch(
        api,
        "referral",
        "/referrals",
        user,
        {"status": "received", "cursor": cursor, "limit": request.app.state.settings.page_size},
    )
    items = sorted(page["items"], key=lambda r: (not r["overdue"], r["response_due"], r["received_at"]))
    overdue = [r for r in items if r["overdue"]]
    due = [r for r in items if not r["overdue"]]
    return render(
        request,
        "triage.html",
        {
            "overdue": overdue,
            "due": due,
            "next": page.get("next"),
            "kinds": catalogue.REFERRAL_KINDS,
            "today": london_today().isoformat(),
        },
    )


@router.post("/referrals/{referral_id}/triage")
async def triage(request: Request, referral_id: str, user: Officer, api: Api) -> Response:
    record = await fetch(api, "referral", f"/referrals/{referral_id}", user)
    return await formpage.submit(
        request,
        api,
        user,
        catalogue.TRIAGE_FORM,
        service="referral",
        path=f"/referrals/{referral_id}/triage",
        action=f"/referrals/{referral_id}/triage",
        back="/referrals",
        done=lambda r: "/officer/triage",
        message=lambda r: f"Referral {r['id']} {r['status']}.",
        template="referral.html",
        extra={"r": record, "kinds": catalogue.REFERRAL_KINDS, "can_triage": True},
    )


@router.get("/officer/cme")
async def cme_caseload(
    request: Request,
    user: CaseReader,
    api: Api,
    status: str | None = None,
    overdue: bool = False,
    cursor: str | None = None,
) -> Response:
    params: dict[str, Any] = {
        "status": status,
        "cursor": cursor,
        "limit": request.app.state.settings.page_size,
    }
    if overdue:
        params["overdue"] = "true"
    page = await fetch(api, "cme", "/cases", user, params)
    items = sorted(page["items"], key=lambda c: (c["status"] == "closed", c.get("next_review_due") or "9999"))
    return render(
        request, "cme.html", {"items": items, "next": page.get("next"), "status": status, "overdue": overdue}
    )


@router.get("/officer/exclusions")
async def exclusion_deadlines(
    request: Request, user: CaseReader, api: Api, deadline: str = "due", cursor: str | None = None
) -> Response:
    if deadline not in ("due", "missed"):
        raise PageError(404)
    page = await fetch(
        api,
        "exclusions",
        "/exclusions",
        user,
        {"deadline": deadline, "cursor": cursor, "limit": request.app.state.settings.page_size},
    )
    items = sorted(page["items"], key=lambda e: e["deadlines"].get("next_deadline") or "9999")
    alerts = await fetch(api, "exclusions", "/alerts", user, {"limit": 20})
    return render(
        request,
        "officer_exclusions.html",
        {"items": items, "next": page.get("next"), "deadline": deadline, "alerts": alerts["items"]},
    )


@router.get("/officer/penalty-requests")
async def penalty_inbox(request: Request, user: Officer, api: Api, cursor: str | None = None) -> Response:
    page = await fetch(
        api,
        "enforcement",
        "/penalty-requests",
        user,
        {"status": "submitted", "cursor": cursor, "limit": request.app.state.settings.page_size},
    )
    return render(
        request,
        "penalty_requests.html",
        {"page": page, "status": "submitted", "can_submit": False, "officer": True},
    )


@router.post("/penalty-requests/{request_id}/decision")
async def decide_penalty(request: Request, request_id: str, user: Officer, api: Api) -> Response:
    record = await fetch(api, "enforcement", f"/penalty-requests/{request_id}", user)
    assessment = await fetch(api, "enforcement", f"/penalty-requests/{request_id}/assessment", user)
    return await formpage.submit(
        request,
        api,
        user,
        catalogue.PENALTY_DECISION_FORM,
        service="enforcement",
        path=f"/penalty-requests/{request_id}/decision",
        action=f"/penalty-requests/{request_id}/decision",
        back="/officer/penalty-requests",
        done=lambda r: f"/penalty-requests/{request_id}",
        message=lambda r: f"Decision recorded: {r['status']}.",
        template="penalty_request.html",
        extra={"p": record, "can_decide": True, "assessment": assessment},
    )


@router.get("/children/{child_ref}")
async def child_timeline(
    request: Request,
    child_ref: str,
    user: CaseReader,
    api: Api,
    referral: str | None = None,
    case: str | None = None,
    ehe: str | None = None,
    school_urn: str | None = None,
    upn: str | None = None,
) -> Response:
    """A child's events across the services, newest first. Each service audits the read.

    The exclusions service answers by child; referrals, CME cases and EHE registrations are
    included when the page is opened from one (the APIs have no per-child filter yet) and only if
    they are this child's.
    """
    events: list[dict[str, Any]] = []
    try:
        history = await api.get("exclusions", f"/pupils/{child_ref}/history", user.token)
    except ApiError as exc:
        if exc.status != 404:  # 404: exclusions holds nothing for this child
            raise PageError(exc.status if exc.status in (401, 403) else 409, exc.detail) from None
        history = {"exclusions": [], "part_time_timetables": [], "suspension_days_by_year": {}}
    for e in history["exclusions"]:
        events.append(
            {
                "on": e["start_date"],
                "service": "Exclusions",
                "what": f"{e['kind'].replace('_', ' ').capitalize()} ({e['days']} days)",
                "href": f"/exclusions/{e['id']}",
            }
        )
        school_urn = school_urn or e["school_urn"]
        upn = upn or e["upn"]
    for t in history["part_time_timetables"]:
        events.append(
            {
                "on": t["starts_on"],
                "service": "Exclusions",
                "what": f"Part-time timetable, {t['hours_per_week']} hours a week",
                "href": f"/part-time-timetables/{t['id']}",
            }
        )
    child: dict[str, Any] | None = None
    if referral:
        r = await fetch(api, "referral", f"/referrals/{referral}", user)
        if r["child_ref"] == child_ref:
            child = r["child"]
            school_urn = school_urn or r["school_urn"]
            upn = upn or r["child"].get("upn")
            events.append(
                {
                    "on": r["received_at"][:10],
                    "service": "Referrals",
                    "what": f"Referral: {_kind(r['kind'])} ({r['status']})",
                    "href": f"/referrals/{r['id']}",
                }
            )
    if case:
        c = await fetch(api, "cme", f"/cases/{case}", user)
        if c["child_ref"] == child_ref:
            child = child or c["child"]
            events.append(
                {
                    "on": c["opened_on"],
                    "service": "CME",
                    "what": f"Children missing education case ({c['status']})",
                    "href": f"/cases/{c['id']}",
                }
            )
            for entry in (await fetch(api, "cme", f"/cases/{case}/history", user))["entries"]:
                events.append(
                    {
                        "on": entry["at"][:10],
                        "service": "CME",
                        "what": entry["action"].replace("_", " "),
                        "href": f"/cases/{c['id']}",
                    }
                )
    if ehe:
        reg = await fetch(api, "cme", f"/ehe/{ehe}", user)
        if reg["child_ref"] == child_ref:
            child = child or reg["child"]
            upn = upn or reg.get("upn")
            for on, what in (
                (reg["registered_on"], "Entered on the elective home education register"),
                (reg.get("first_contact_on"), "Home education: first contact"),
                (reg.get("visit_offered_on"), "Home education: visit offered"),
                (reg.get("last_reviewed_on"), "Home education: yearly review"),
                (reg.get("ended_on"), f"Home education ended: {reg.get('end_reason') or ''}".rstrip(": ")),
            ):
                if on:
                    events.append({"on": on, "service": "EHE", "what": what, "href": f"/ehe/{reg['id']}"})
    position = None
    if school_urn and upn:
        try:
            position = await api.get(
                "enforcement",
                f"/positions/schools/{school_urn}/pupils/{upn}",
                user.token,
                {"academic_year": AcademicYear.containing(london_today()).label},
            )
        except ApiError as exc:
            if exc.status not in (404, 422):
                raise PageError(exc.status) from None
    events.sort(key=lambda ev: date.fromisoformat(ev["on"]), reverse=True)
    return render(
        request,
        "timeline.html",
        {
            "child_ref": child_ref,
            "child": child,
            "events": events,
            "position": position,
            "suspension_days": history.get("suspension_days_by_year", {}),
        },
    )
