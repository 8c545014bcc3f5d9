"""Casework that changes records: a CME case's lifecycle (enquiries from the checklist, found,
reviews, placement, closing), the EHE register (first contact, visit offered, yearly review, end)
and an exclusion's sixth-day provision, reviews and withdrawal, and a part-time timetable's reviews
and end.

Every form is the service's own body (see :mod:`portal.forms`); the service decides. A change its
record's state does not allow (an illegal transition) comes back as 409 and is shown in the error
summary with the service's reason; its 422 problems go next to the fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from inclusion_kit.auth import Role
from inclusion_kit.calendar import london_today
from portal import catalogue
from portal.api import ApiClient
from portal.forms import FormSpec
from portal.web import formpage
from portal.web.deps import OFFICER_ROLES, SUBMIT_ROLES, Api, PageError, User, render, require
from portal.web.school import AnyRecordReader, fetch

router = APIRouter()

Officer = Annotated[User, Depends(require(*OFFICER_ROLES))]
CaseReader = Annotated[User, Depends(require(Role.OFFICER, Role.ADMIN, Role.MANAGER))]
Submitter = Annotated[User, Depends(require(*SUBMIT_ROLES))]


@dataclass(frozen=True)
class Action:
    """One write on a record: the form, the service's path under the record, the flash message."""

    spec: Callable[[dict[str, Any]], FormSpec]
    path: str
    message: str
    conflict: str


# What a case's state offers (links on the case page only: the service decides, and answers 409).
CASE_ACTIONS: dict[str, Action] = {
    "enquiry": Action(
        lambda c: catalogue.enquiry_form(c.get("checklist_missing") or ()),
        "enquiries",
        "Enquiry recorded.",
        "The enquiry cannot be recorded",
    ),
    "found": Action(
        lambda c: catalogue.LOCATE_FORM,
        "locate",
        "Recorded that the child is found.",
        "The case cannot move to found",
    ),
    "review": Action(
        lambda c: catalogue.CASE_REVIEW_FORM, "reviews", "Review recorded.", "The review cannot be recorded"
    ),
    "placement": Action(
        lambda c: catalogue.PLACEMENT_FORM,
        "placement",
        "Placement recorded: the case is closed.",
        "The case cannot be placed",
    ),
    "close": Action(lambda c: catalogue.CLOSE_FORM, "close", "Case closed.", "The case cannot be closed"),
}
CASE_OFFERS = {
    "open": ("enquiry", "found", "review", "placement", "close"),
    "enquiries": ("enquiry", "found", "review", "placement", "close"),
    "located": ("review", "placement", "close"),
}
CASE_LINKS = {
    "enquiry": "Record an enquiry",
    "found": "Record that the child is found",
    "review": "Record a review",
    "placement": "Record a placement on a school roll",
    "close": "Close the case",
}


def _case_intro(case: dict[str, Any]) -> str:
    child = case.get("child") or {}
    name = f"{child.get('forename', '')} {child.get('surname', '')}".strip()
    return f"Case {case['id']}: {name}, {str(case['status']).replace('_', ' ')}."


@router.get("/cases/{case_id}")
async def cme_case(request: Request, case_id: str, user: CaseReader, api: Api) -> Response:
    case = await fetch(api, "cme", f"/cases/{case_id}", user)
    history = await fetch(api, "cme", f"/cases/{case_id}/history", user)
    offers = CASE_OFFERS.get(case["status"], ()) if user.has(OFFICER_ROLES) else ()
    return render(
        request,
        "case.html",
        {
            "c": case,
            "history": history["entries"],
            "actions": [(name, CASE_LINKS[name]) for name in offers],
            "enquiry_kinds": dict(catalogue.ENQUIRY_KINDS),
            "enquiry_results": dict(catalogue.ENQUIRY_RESULTS),
        },
    )


def _case_action(name: str) -> Action:
    action = CASE_ACTIONS.get(name)
    if action is None:
        raise PageError(404)
    return action


@router.get("/cases/{case_id}/{name}")
async def case_action_form(request: Request, case_id: str, name: str, user: Officer, api: Api) -> Response:
    action = _case_action(name)
    case = await fetch(api, "cme", f"/cases/{case_id}", user)
    return formpage.show(
        request,
        action.spec(case),
        action=f"/cases/{case_id}/{name}",
        back=f"/cases/{case_id}",
        intro=_case_intro(case),
    )


@router.post("/cases/{case_id}/{name}")
async def case_action(request: Request, case_id: str, name: str, user: Officer, api: Api) -> Response:
    action = _case_action(name)
    case = await fetch(api, "cme", f"/cases/{case_id}", user)
    return await formpage.submit(
        request,
        api,
        user,
        action.spec(case),
        service="cme",
        path=f"/cases/{case_id}/{action.path}",
        action=f"/cases/{case_id}/{name}",
        back=f"/cases/{case_id}",
        done=lambda r: f"/cases/{case_id}",
        message=lambda r: action.message,
        intro=_case_intro(case),
        conflict=action.conflict,
    )


# The EHE register -------------------------------------------------------------------------------

EHE_OVERDUE = {"first_contact": "First contact", "visit_offer": "Visit offer", "review": "Yearly review"}
EHE_LINKS = {
    "first-contact": "Record first contact",
    "visit-offer": "Record the visit offered",
    "reviews": "Record the yearly review",
    "end": "End the registration",
}
EHE_MESSAGES = {
    "first-contact": "First contact recorded.",
    "visit-offer": "Visit offer recorded.",
    "reviews": "Yearly review recorded.",
    "end": "Registration ended.",
}


def _ehe_sort_key(r: dict[str, Any]) -> tuple[Any, ...]:
    """Overdue first, then by the next thing due."""
    due = [r["next_review_due"]]
    if not r.get("first_contact_on"):
        due.append(r["first_contact_due"])
    if not r.get("visit_offered_on"):
        due.append(r["visit_offer_due"])
    return (r["status"] != "active", not r.get("overdue"), min(due))


@router.get("/officer/ehe")
async def ehe_register(
    request: Request,
    user: CaseReader,
    api: Api,
    status: str | None = "active",
    overdue: bool = False,
    cursor: str | None = None,
) -> Response:
    if status not in (None, "", "active", "ended"):
        raise PageError(404)
    params: dict[str, Any] = {
        "status": status,
        "cursor": cursor,
        "limit": request.app.state.settings.page_size,
    }
    if overdue:
        params["overdue"] = "true"
    page = await fetch(api, "cme", "/ehe", user, params)
    items = sorted(page["items"], key=_ehe_sort_key)
    return render(
        request,
        "ehe.html",
        {
            "items": items,
            "next": page.get("next"),
            "status": status or "",
            "overdue": overdue,
            "late": EHE_OVERDUE,
            "today": london_today().isoformat(),
        },
    )


@router.get("/ehe/{registration_id}")
async def ehe_registration(request: Request, registration_id: str, user: CaseReader, api: Api) -> Response:
    record = await fetch(api, "cme", f"/ehe/{registration_id}", user)
    actions: list[tuple[str, str]] = []
    if user.has(OFFICER_ROLES) and record["status"] == "active":
        for name, label in EHE_LINKS.items():
            if (name == "first-contact" and record.get("first_contact_on")) or (
                name == "visit-offer" and record.get("visit_offered_on")
            ):
                continue
            actions.append((name, label))
    return render(request, "ehe_record.html", {"r": record, "actions": actions, "late": EHE_OVERDUE})


def _ehe_spec(name: str) -> FormSpec:
    if name == "end":
        return catalogue.EHE_END_FORM
    spec = catalogue.EHE_ACTIONS.get(name)
    if spec is None:
        raise PageError(404)
    return spec


def _ehe_intro(record: dict[str, Any]) -> str:
    child = record.get("child") or {}
    name = f"{child.get('forename', '')} {child.get('surname', '')}".strip()
    return f"Registration {record['id']}: {name}, registered on {record['registered_on']}."


@router.get("/ehe/{registration_id}/{name}")
async def ehe_action_form(
    request: Request, registration_id: str, name: str, user: Officer, api: Api
) -> Response:
    spec = _ehe_spec(name)
    record = await fetch(api, "cme", f"/ehe/{registration_id}", user)
    return formpage.show(
        request,
        spec,
        action=f"/ehe/{registration_id}/{name}",
        back=f"/ehe/{registration_id}",
        intro=_ehe_intro(record),
    )


@router.post("/ehe/{registration_id}/{name}")
async def ehe_action(request: Request, registration_id: str, name: str, user: Officer, api: Api) -> Response:
    spec = _ehe_spec(name)
    record = await fetch(api, "cme", f"/ehe/{registration_id}", user)
    return await formpage.submit(
        request,
        api,
        user,
        spec,
        service="cme",
        path=f"/ehe/{registration_id}/{name}",
        action=f"/ehe/{registration_id}/{name}",
        back=f"/ehe/{registration_id}",
        done=lambda r: f"/ehe/{registration_id}",
        message=lambda r: EHE_MESSAGES[name],
        intro=_ehe_intro(record),
        conflict="This cannot be recorded",
    )


# Exclusions: sixth-day provision and reviews ----------------------------------------------------

REVIEW_LINKS = {
    "representations": "Record the parents' representations",
    "board": "Record the governing board's decision",
    "independent_review": "Record the independent review panel's decision",
    "reconsideration": "Record the board's reconsideration",
}


def _exclusion_intro(e: dict[str, Any]) -> str:
    kind = str(e["kind"]).replace("_", " ")
    return (
        f"Exclusion {e['id']}: {kind} of pupil {e['upn']} from {e['start_date']}, school {e['school_urn']}."
    )


@router.get("/exclusions/{exclusion_id}")
async def exclusion(request: Request, exclusion_id: str, user: AnyRecordReader, api: Api) -> Response:
    record = await fetch(api, "exclusions", f"/exclusions/{exclusion_id}", user)
    can_act = user.has(SUBMIT_ROLES) and not record.get("withdrawn_on")
    return render(
        request,
        "exclusion.html",
        {
            "e": record,
            "can_provide": can_act
            and record.get("provision") is None
            and bool(record["deadlines"].get("sixth_day_provision_due")),
            "reviews": list(REVIEW_LINKS.items()) if can_act else [],
            "can_withdraw": can_act,
            "back": "/officer/exclusions"
            if user.has(frozenset({Role.OFFICER, Role.ADMIN, Role.MANAGER}))
            else "/exclusions",
        },
    )


def _exclusion_form(name: str) -> tuple[FormSpec, str, str]:
    """The form, the service's path under the exclusion and the flash message."""
    if name == "provision":
        return catalogue.PROVISION_FORM, "provision", "Sixth-day provision recorded."
    if name == "withdrawal":
        return catalogue.WITHDRAWAL_FORM, "withdrawal", "Withdrawal recorded."
    spec = catalogue.REVIEW_FORMS.get(name)
    if spec is None:
        raise PageError(404)
    return spec, "reviews", f"{REVIEW_LINKS[name].removeprefix('Record the ').capitalize()} recorded."


@router.get("/exclusions/{exclusion_id}/{name}")
async def exclusion_action_form(
    request: Request, exclusion_id: str, name: str, user: Submitter, api: Api
) -> Response:
    spec, _, _ = _exclusion_form(name)
    return await _action_form(request, api, user, f"/exclusions/{exclusion_id}", name, spec, _exclusion_intro)


@router.post("/exclusions/{exclusion_id}/{name}")
async def exclusion_action(
    request: Request, exclusion_id: str, name: str, user: Submitter, api: Api
) -> Response:
    spec, path, message = _exclusion_form(name)
    return await _action_submit(
        request, api, user, f"/exclusions/{exclusion_id}", name, spec, path, message, _exclusion_intro
    )


async def _action_form(
    request: Request,
    api: ApiClient,
    user: User,
    base: str,
    name: str,
    spec: FormSpec,
    intro: Callable[[dict[str, Any]], str],
) -> Response:
    """The form of an action on an exclusions record (``base`` is its API and page path)."""
    record = await fetch(api, "exclusions", base, user)
    return formpage.show(request, spec, action=f"{base}/{name}", back=base, intro=intro(record))


async def _action_submit(
    request: Request,
    api: ApiClient,
    user: User,
    base: str,
    name: str,
    spec: FormSpec,
    path: str,
    message: str,
    intro: Callable[[dict[str, Any]], str],
) -> Response:
    """Post an action's form to ``base/path``; back to the record with ``message`` when accepted,
    the form with the problems (422) or the reason (409) when not."""
    record = await fetch(api, "exclusions", base, user)
    return await formpage.submit(
        request,
        api,
        user,
        spec,
        service="exclusions",
        path=f"{base}/{path}",
        action=f"{base}/{name}",
        back=base,
        done=lambda r: base,
        message=lambda r: message,
        intro=intro(record),
        conflict="This cannot be recorded",
    )


# Part-time timetables: reviews and the end ---------------------------------------------------

TIMETABLE_ACTIONS: dict[str, tuple[FormSpec, str, str]] = {
    "review": (catalogue.TIMETABLE_REVIEW_FORM, "reviews", "Review recorded."),
    "end": (catalogue.TIMETABLE_END_FORM, "end", "Part-time timetable ended."),
}
TIMETABLE_LINKS = {"review": "Record a review", "end": "End the part-time timetable"}


def _timetable_action(name: str) -> tuple[FormSpec, str, str]:
    action = TIMETABLE_ACTIONS.get(name)
    if action is None:
        raise PageError(404)
    return action


def _timetable_intro(t: dict[str, Any]) -> str:
    return (
        f"Part-time timetable {t['id']}: pupil {t.get('upn', '')}, school {t.get('school_urn', '')}, "
        f"from {t.get('starts_on', '')}."
    )


@router.get("/part-time-timetables/{timetable_id}")
async def part_time(request: Request, timetable_id: str, user: AnyRecordReader, api: Api) -> Response:
    record = await fetch(api, "exclusions", f"/part-time-timetables/{timetable_id}", user)
    ended = bool(record.get("ended_on"))
    return render(
        request,
        "record.html",
        {
            "title": f"Part-time timetable {record.get('id', timetable_id)}",
            "record": record,
            "back": "/exclusions",
            "actions": [
                (f"/part-time-timetables/{timetable_id}/{name}", label)
                for name, label in TIMETABLE_LINKS.items()
                if user.has(SUBMIT_ROLES) and not ended
            ],
        },
    )


@router.get("/part-time-timetables/{timetable_id}/{name}")
async def timetable_action_form(
    request: Request, timetable_id: str, name: str, user: Submitter, api: Api
) -> Response:
    spec, _, _ = _timetable_action(name)
    return await _action_form(
        request, api, user, f"/part-time-timetables/{timetable_id}", name, spec, _timetable_intro
    )


@router.post("/part-time-timetables/{timetable_id}/{name}")
async def timetable_action(
    request: Request, timetable_id: str, name: str, user: Submitter, api: Api
) -> Response:
    spec, path, message = _timetable_action(name)
    base = f"/part-time-timetables/{timetable_id}"
    return await _action_submit(request, api, user, base, name, spec, path, message, _timetable_intro)
