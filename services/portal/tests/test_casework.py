"""The casework pages (a CME case's lifecycle, the EHE register, an exclusion's sixth-day provision
and reviews) over fakes of cme-tracker and exclusions that answer as their OpenAPI documents say:
what the portal sends, how the services' 409 and 422 come back onto the page, and who may act.
The real services behind these pages are exercised by the browser journey in tests/e2e."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from portal.config import PortalSettings
from portal.entrypoints.app import create_app

from .conftest import csrf, sign_in

CHILD = {"forename": "Alex", "surname": "Example", "date_of_birth": "2014-03-02"}


def case(status: str = "open", **extra: Any) -> dict[str, Any]:
    return {
        "id": "cme-1",
        "child_ref": "c-alex",
        "status": status,
        "child": CHILD,
        "upn": None,
        "school": {"urn": "118000", "name": "Example Primary"},
        "district": "Maidstone",
        "source": "referral",
        "source_id": "r-1",
        "opened_on": "2025-11-10",
        "next_review_due": "2025-12-10",
        "review_overdue": False,
        "last_reviewed_on": None,
        "located_on": None,
        "placed_on": None,
        "placed_school": None,
        "closed_on": None,
        "outcome": None,
        "enquiries": [
            {
                "id": "enq-1",
                "kind": "school",
                "made_on": "2025-11-11",
                "made_by": "Example Primary (attendance lead)",
                "result": "no_information",
                "notes": None,
            }
        ],
        "checklist_missing": ["family", "health"],
        **extra,
    }


def registration(rid: str, forename: str, overdue: list[str], first_contact_due: str) -> dict[str, Any]:
    return {
        "id": rid,
        "child_ref": f"c-{rid}",
        "status": "active",
        "child": {"forename": forename, "surname": "Example", "date_of_birth": "2012-01-01"},
        "upn": None,
        "source": "referral",
        "source_id": "r-9",
        "registered_on": "2025-09-01",
        "parent_notice_received_on": "2025-08-28",
        "school": None,
        "district": "Dover",
        "first_contact_due": first_contact_due,
        "first_contact_on": None,
        "visit_offer_due": "2025-12-01",
        "visit_offered_on": None,
        "next_review_due": "2026-09-01",
        "last_reviewed_on": None,
        "ended_on": None,
        "end_reason": None,
        "overdue": overdue,
    }


EXCLUSION = {
    "id": "ex-1",
    "child_ref": "c-sam",
    "upn": "K886400023012",
    "school_urn": "118001",
    "kind": "permanent",
    "start_date": "2025-11-17",
    "start_session": "AM",
    "days": 0,
    "reason_codes": ["PA"],
    "deadlines": {
        "board_review_due": "2025-12-12",
        "representations_review_due": None,
        "sixth_day_provision_due": "2025-11-24",
        "provision_responsibility": "local_authority",
        "irp_application_due": None,
        "reconsideration_due": None,
        "next_deadline": "2025-11-24",
        "next_deadline_missed": False,
    },
    "provision": None,
    "withdrawn_on": None,
    "withdrawal_reason": None,
    "reinstated_on": None,
    "reviews": {"board_outcome": None, "board_decided_on": None},
}


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"type": f"https://example/problems/{status}", "title": "x", "detail": detail}
    if errors:
        body["errors"] = errors
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


@dataclass
class Fake:
    """Canned answers by (method, path); every request is kept."""

    answers: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = field(default_factory=dict)
    sent: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        answer = self.answers.get((request.method, request.url.path))
        if answer is None:
            return problem(404, "not found")
        return answer(request)

    def body(self, path: str) -> Any:
        return json.loads(next(r for r in reversed(self.sent) if r.url.path == path).content)

    def posted(self, path: str) -> bool:
        return any(r.method == "POST" and r.url.path == path for r in self.sent)


@dataclass
class Casework:
    client: httpx.AsyncClient
    cme: Fake
    exclusions: Fake


@pytest.fixture
async def casework() -> AsyncIterator[Casework]:
    cme, exclusions = Fake(), Fake()
    cme.answers[("GET", "/cases/cme-1")] = lambda r: httpx.Response(200, json=case())
    cme.answers[("GET", "/cases/cme-1/history")] = lambda r: httpx.Response(
        200, json={"case_id": "cme-1", "child_ref": "c-alex", "entries": []}
    )
    clients = {
        "cme": httpx.AsyncClient(transport=httpx.MockTransport(cme.handler), base_url="http://cme"),
        "exclusions": httpx.AsyncClient(
            transport=httpx.MockTransport(exclusions.handler), base_url="http://exclusions"
        ),
        **{
            n: httpx.AsyncClient(base_url="http://127.0.0.1:9")
            for n in ("referral", "enforcement", "reporting")
        },
    }
    app = create_app(PortalSettings(mode="test"), clients=clients)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://portal"
        ) as client:
            yield Casework(client, cme, exclusions)
    for c in clients.values():
        await c.aclose()


ENQUIRY = {
    "kind": "family",
    "made_by": "A. Officer",
    "made_on.day": "12",
    "made_on.month": "11",
    "made_on.year": "2025",
    "result": "no_response",
    "notes": "Letter and two calls.",
}


async def test_the_case_page_shows_enquiries_the_checklist_and_what_can_be_recorded(
    casework: Casework,
) -> None:
    await sign_in(casework.client, "officer")
    page = await casework.client.get("/cases/cme-1")
    assert page.status_code == 200
    assert "Example Primary (attendance lead)" in page.text and "No information" in page.text
    assert "Not yet tried: the family, health (gp, school nursing)." in page.text
    for name in ("enquiry", "found", "review", "placement", "close"):
        assert f'href="/cases/cme-1/{name}"' in page.text
    casework.cme.answers[("GET", "/cases/cme-1")] = lambda r: httpx.Response(200, json=case("located"))
    located = await casework.client.get("/cases/cme-1")
    assert 'href="/cases/cme-1/enquiry"' not in located.text and 'href="/cases/cme-1/review"' in located.text


async def test_an_officer_records_an_enquiry_with_who_when_and_the_result(casework: Casework) -> None:
    casework.cme.answers[("POST", "/cases/cme-1/enquiries")] = lambda r: httpx.Response(
        200, json=case("enquiries")
    )
    await sign_in(casework.client, "officer")
    form = await casework.client.get("/cases/cme-1/enquiry")
    assert form.status_code == 200 and "Record an enquiry" in form.text
    assert "Not yet tried: the family, health (gp, school nursing)." in form.text
    token = await csrf(casework.client, "/cases/cme-1/enquiry")
    sent = await casework.client.post(
        "/cases/cme-1/enquiry",
        data={"csrf_token": token, "idempotency_key": "6a1f6f5e-54c4-4b6e-9f57-1d7e3b9c0a11", **ENQUIRY},
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/cases/cme-1"
    assert casework.cme.body("/cases/cme-1/enquiries") == {
        "kind": "family",
        "made_by": "A. Officer",
        "made_on": "2025-11-12",
        "result": "no_response",
        "notes": "Letter and two calls.",
    }
    request = next(r for r in casework.cme.sent if r.method == "POST")
    assert request.headers["idempotency-key"] == "6a1f6f5e-54c4-4b6e-9f57-1d7e3b9c0a11"
    assert "Enquiry recorded." in (await casework.client.get("/cases/cme-1")).text


async def test_an_illegal_transition_is_shown_clearly_and_the_form_is_kept(casework: Casework) -> None:
    casework.cme.answers[("POST", "/cases/cme-1/enquiries")] = lambda r: problem(
        409, "a case that is located cannot record enquiry"
    )
    await sign_in(casework.client, "officer")
    token = await csrf(casework.client, "/cases/cme-1/enquiry")
    response = await casework.client.post("/cases/cme-1/enquiry", data={"csrf_token": token, **ENQUIRY})
    assert response.status_code == 409
    assert 'class="govuk-error-summary"' in response.text
    assert "The enquiry cannot be recorded: a case that is located cannot record enquiry." in response.text
    assert 'value="A. Officer"' in response.text and "<title>Error:" in response.text


async def test_the_apis_field_problems_go_next_to_the_fields(casework: Casework) -> None:
    casework.cme.answers[("POST", "/cases/cme-1/reviews")] = lambda r: problem(
        422,
        "invalid",
        [{"pointer": "/reviewed_on", "code": "invalid", "detail": "a review cannot be in the future"}],
    )
    casework.cme.answers[("POST", "/cases/cme-1/close")] = lambda r: problem(
        422,
        "invalid",
        [
            {
                "pointer": "/other_la_code",
                "code": "invalid",
                "detail": "moving to another LA gives that LA's code",
            }
        ],
    )
    await sign_in(casework.client, "officer")
    token = await csrf(casework.client, "/cases/cme-1/review")
    review = await casework.client.post(
        "/cases/cme-1/review",
        data={
            "csrf_token": token,
            "reviewed_on.day": "1",
            "reviewed_on.month": "1",
            "reviewed_on.year": "2030",
        },
    )
    assert review.status_code == 422 and 'id="reviewed-on-error"' in review.text
    assert "A review cannot be in the future" in review.text
    assert casework.cme.body("/cases/cme-1/reviews") == {"reviewed_on": "2030-01-01"}
    close = await casework.client.post(
        "/cases/cme-1/close",
        data={
            "csrf_token": token,
            "outcome": "moved_to_other_la",
            "closed_on.day": "14",
            "closed_on.month": "11",
            "closed_on.year": "2025",
        },
    )
    assert close.status_code == 422 and 'href="#other-la-code"' in close.text
    assert casework.cme.body("/cases/cme-1/close") == {
        "outcome": "moved_to_other_la",
        "closed_on": "2025-11-14",
    }


async def test_a_placement_and_being_found_are_sent_as_the_api_bodies(casework: Casework) -> None:
    casework.cme.answers[("POST", "/cases/cme-1/placement")] = lambda r: httpx.Response(
        200, json=case("placed")
    )
    casework.cme.answers[("POST", "/cases/cme-1/locate")] = lambda r: httpx.Response(
        200, json=case("located")
    )
    await sign_in(casework.client, "admin")
    token = await csrf(casework.client, "/cases/cme-1/found")
    found = await casework.client.post(
        "/cases/cme-1/found",
        data={
            "csrf_token": token,
            "located_on.day": "14",
            "located_on.month": "11",
            "located_on.year": "2025",
        },
    )
    assert found.status_code == 303
    assert casework.cme.body("/cases/cme-1/locate") == {"located_on": "2025-11-14"}
    placed = await casework.client.post(
        "/cases/cme-1/placement",
        data={
            "csrf_token": token,
            "school_urn": "118001",
            "placed_on.day": "1",
            "placed_on.month": "12",
            "placed_on.year": "2025",
        },
    )
    assert placed.status_code == 303
    assert casework.cme.body("/cases/cme-1/placement") == {"school_urn": "118001", "placed_on": "2025-12-01"}


async def test_only_officers_change_cases_and_unknown_actions_are_not_found(casework: Casework) -> None:
    await sign_in(casework.client, "manager")
    page = await casework.client.get("/cases/cme-1")
    assert page.status_code == 200 and 'href="/cases/cme-1/enquiry"' not in page.text
    assert (await casework.client.get("/cases/cme-1/enquiry")).status_code == 403
    token = await csrf(casework.client, "/cases/cme-1")
    refused = await casework.client.post("/cases/cme-1/enquiry", data={"csrf_token": token, **ENQUIRY})
    assert refused.status_code == 403 and not casework.cme.posted("/cases/cme-1/enquiries")
    casework.client.cookies.clear()
    await sign_in(casework.client, "school", "118000")
    assert (await casework.client.get("/cases/cme-1/enquiry")).status_code == 403
    assert (await casework.client.get("/officer/ehe")).status_code == 403
    assert (await casework.client.get("/ehe/ehe-1/first-contact")).status_code == 403
    casework.client.cookies.clear()
    await sign_in(casework.client, "officer")
    assert (await casework.client.get("/cases/cme-1/delete")).status_code == 404
    assert (await casework.client.get("/cases/cme-404/enquiry")).status_code == 404
    assert (await casework.client.get("/ehe/ehe-1/approve")).status_code == 404


async def test_the_ehe_register_puts_overdue_first_and_records_contact(casework: Casework) -> None:
    on_time = registration("ehe-2", "Bea", [], "2026-01-01")
    late = registration("ehe-1", "Cal", ["first_contact", "visit_offer"], "2025-10-01")
    casework.cme.answers[("GET", "/ehe")] = lambda r: httpx.Response(
        200, json={"items": [on_time, late], "next": None}
    )
    casework.cme.answers[("GET", "/ehe/ehe-1")] = lambda r: httpx.Response(200, json=late)
    casework.cme.answers[("POST", "/ehe/ehe-1/first-contact")] = lambda r: httpx.Response(200, json=late)
    casework.cme.answers[("POST", "/ehe/ehe-1/visit-offer")] = lambda r: problem(
        409, "a visit offer is already recorded"
    )
    await sign_in(casework.client, "officer")
    listing = await casework.client.get("/officer/ehe?overdue=true")
    assert listing.status_code == 200
    assert listing.text.index("Cal Example") < listing.text.index("Bea Example")
    assert "Overdue" in listing.text and "1 with something overdue" in listing.text
    ehe_request = next(r for r in casework.cme.sent if r.url.path == "/ehe")
    assert ehe_request.url.params["overdue"] == "true" and ehe_request.url.params["status"] == "active"

    record = await casework.client.get("/ehe/ehe-1")
    assert record.status_code == 200 and "First contact overdue" in record.text
    for name in ("first-contact", "visit-offer", "reviews", "end"):
        assert f'href="/ehe/ehe-1/{name}"' in record.text
    token = await csrf(casework.client, "/ehe/ehe-1/first-contact")
    done = await casework.client.post(
        "/ehe/ehe-1/first-contact",
        data={"csrf_token": token, "on.day": "17", "on.month": "11", "on.year": "2025", "notes": "Phoned."},
    )
    assert done.status_code == 303 and done.headers["location"] == "/ehe/ehe-1"
    assert casework.cme.body("/ehe/ehe-1/first-contact") == {"on": "2025-11-17", "notes": "Phoned."}
    again = await casework.client.post(
        "/ehe/ehe-1/visit-offer",
        data={"csrf_token": token, "on.day": "17", "on.month": "11", "on.year": "2025"},
    )
    assert (
        again.status_code == 409
        and "This cannot be recorded: a visit offer is already recorded." in again.text
    )


async def test_sixth_day_provision_and_the_boards_decision_are_recorded(casework: Casework) -> None:
    provided = {
        **EXCLUSION,
        "provision": {
            "provider": "East Kent PRU",
            "provider_urn": None,
            "starts_on": "2025-11-24",
            "on_time": True,
            "school_days_late": 0,
        },
    }
    casework.exclusions.answers[("GET", "/exclusions/ex-1")] = lambda r: httpx.Response(200, json=EXCLUSION)
    casework.exclusions.answers[("POST", "/exclusions/ex-1/provision")] = lambda r: httpx.Response(
        200, json=provided
    )
    casework.exclusions.answers[("POST", "/exclusions/ex-1/reviews")] = lambda r: problem(
        422,
        "invalid",
        [
            {
                "pointer": "/parents_notice_sent_on",
                "code": "value_error",
                "detail": "the notice is sent after the decision",
            }
        ],
    )
    await sign_in(casework.client, "officer")
    page = await casework.client.get("/exclusions/ex-1")
    assert page.status_code == 200 and "Not recorded yet: due from 2025-11-24" in page.text
    assert 'href="/exclusions/ex-1/provision"' in page.text and 'href="/exclusions/ex-1/board"' in page.text
    token = await csrf(casework.client, "/exclusions/ex-1/provision")
    sent = await casework.client.post(
        "/exclusions/ex-1/provision",
        data={
            "csrf_token": token,
            "provider": "East Kent PRU",
            "provider_urn": "",
            "starts_on.day": "24",
            "starts_on.month": "11",
            "starts_on.year": "2025",
        },
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/exclusions/ex-1"
    assert casework.exclusions.body("/exclusions/ex-1/provision") == {
        "provider": "East Kent PRU",
        "starts_on": "2025-11-24",
    }
    board = await casework.client.post(
        "/exclusions/ex-1/board",
        data={
            "csrf_token": token,
            "outcome": "upheld",
            "decided_on.day": "3",
            "decided_on.month": "12",
            "decided_on.year": "2025",
            "parents_notice_sent_on.day": "2",
            "parents_notice_sent_on.month": "12",
            "parents_notice_sent_on.year": "2025",
            "notice_posted": "true",
        },
    )
    assert board.status_code == 422 and 'id="parents-notice-sent-on-error"' in board.text
    assert casework.exclusions.body("/exclusions/ex-1/reviews") == {
        "stage": "board",
        "outcome": "upheld",
        "decided_on": "2025-12-03",
        "parents_notice_sent_on": "2025-12-02",
        "notice_posted": True,
    }
    assert (await casework.client.get("/exclusions/ex-1/appeal")).status_code == 404
    casework.client.cookies.clear()
    await sign_in(casework.client, "manager")
    read_only = await casework.client.get("/exclusions/ex-1")
    assert read_only.status_code == 200 and 'href="/exclusions/ex-1/provision"' not in read_only.text
    assert (await casework.client.get("/exclusions/ex-1/provision")).status_code == 403


async def test_a_school_records_provision_for_its_own_exclusion_as_the_api_allows(casework: Casework) -> None:
    casework.exclusions.answers[("GET", "/exclusions/ex-1")] = lambda r: httpx.Response(200, json=EXCLUSION)
    casework.exclusions.answers[("POST", "/exclusions/ex-1/provision")] = lambda r: problem(
        409, "provision is already recorded for this exclusion"
    )
    await sign_in(casework.client, "school", "118001")
    page = await casework.client.get("/exclusions/ex-1")
    assert page.status_code == 200 and 'href="/exclusions/ex-1/provision"' in page.text
    assert '<a href="/exclusions" class="govuk-back-link">' in page.text
    token = await csrf(casework.client, "/exclusions/ex-1/provision")
    response = await casework.client.post(
        "/exclusions/ex-1/provision",
        data={
            "csrf_token": token,
            "provider": "Example High (internal)",
            "starts_on.day": "24",
            "starts_on.month": "11",
            "starts_on.year": "2025",
        },
    )
    assert response.status_code == 409
    assert "This cannot be recorded: provision is already recorded for this exclusion." in response.text
    # The API's scoping: another school's exclusion is the same 404 as one that does not exist.
    assert (await casework.client.get("/exclusions/ex-2/provision")).status_code == 404


async def test_the_timeline_shows_a_registrations_dates(casework: Casework) -> None:
    reg = registration("ehe-1", "Cal", [], "2025-10-01") | {
        "first_contact_on": "2025-09-20",
        "child_ref": "c-cal",
    }
    casework.cme.answers[("GET", "/ehe/ehe-1")] = lambda r: httpx.Response(200, json=reg)
    casework.exclusions.answers[("GET", "/pupils/c-cal/history")] = lambda r: problem(404, "none")
    await sign_in(casework.client, "officer")
    record = await casework.client.get("/ehe/ehe-1")
    assert 'href="/children/c-cal?ehe=ehe-1&amp;referral=r-9"' in record.text
    timeline = await casework.client.get("/children/c-cal?ehe=ehe-1")
    assert timeline.status_code == 200 and "Cal Example" in timeline.text
    assert "Entered on the elective home education register" in timeline.text
    assert timeline.text.index("2025-09-20") < timeline.text.index("2025-09-01")  # newest first
    other = await casework.client.get("/children/c-someone-else?ehe=ehe-1")
    assert other.status_code == 200 and "Cal Example" not in other.text


TIMETABLE = {
    "id": "ptt-1",
    "child_ref": "c-sam",
    "upn": "K886400023012",
    "school_urn": "118001",
    "starts_on": "2025-11-03",
    "planned_end_on": "2025-12-12",
    "hours_per_week": 15,
    "reason": "Anxiety; a phased return.",
    "parent_agreed_on": "2025-10-30",
    "review_dates": ["2025-11-17"],
    "reviews": [],
    "review_due": "2025-11-17",
    "past_planned_end": False,
    "review_overdue": False,
    "ended_on": None,
    "outcome": None,
}


async def test_a_part_time_timetable_is_reviewed_and_ended(casework: Casework) -> None:
    casework.exclusions.answers[("GET", "/part-time-timetables/ptt-1")] = lambda r: httpx.Response(
        200, json=TIMETABLE
    )
    casework.exclusions.answers[("POST", "/part-time-timetables/ptt-1/reviews")] = lambda r: httpx.Response(
        200, json=TIMETABLE
    )
    casework.exclusions.answers[("POST", "/part-time-timetables/ptt-1/end")] = lambda r: problem(
        422,
        "invalid",
        [{"pointer": "/ended_on", "code": "invalid", "detail": "a timetable ends on or after its start"}],
    )
    await sign_in(casework.client, "school", "118001")
    page = await casework.client.get("/part-time-timetables/ptt-1")
    assert page.status_code == 200 and "Anxiety" in page.text
    assert (
        'href="/part-time-timetables/ptt-1/review"' in page.text
        and 'href="/part-time-timetables/ptt-1/end"' in page.text
    )
    token = await csrf(casework.client, "/part-time-timetables/ptt-1/review")
    reviewed = await casework.client.post(
        "/part-time-timetables/ptt-1/review",
        data={
            "csrf_token": token,
            "reviewed_on.day": "17",
            "reviewed_on.month": "11",
            "reviewed_on.year": "2025",
            "new_planned_end_on.day": "19",
            "new_planned_end_on.month": "12",
            "new_planned_end_on.year": "2025",
            "notes": "Mornings going well.",
        },
    )
    assert reviewed.status_code == 303 and reviewed.headers["location"] == "/part-time-timetables/ptt-1"
    assert casework.exclusions.body("/part-time-timetables/ptt-1/reviews") == {
        "reviewed_on": "2025-11-17",
        "new_planned_end_on": "2025-12-19",
        "notes": "Mornings going well.",
    }
    ended = await casework.client.post(
        "/part-time-timetables/ptt-1/end",
        data={
            "csrf_token": token,
            "ended_on.day": "1",
            "ended_on.month": "10",
            "ended_on.year": "2025",
            "outcome": "full_time",
        },
    )
    assert ended.status_code == 422 and 'id="ended-on-error"' in ended.text
    casework.exclusions.answers[("GET", "/part-time-timetables/ptt-1")] = lambda r: httpx.Response(
        200, json=TIMETABLE | {"ended_on": "2025-12-12", "outcome": "full_time"}
    )
    assert (
        'href="/part-time-timetables/ptt-1/end"'
        not in (await casework.client.get("/part-time-timetables/ptt-1")).text
    )
    assert (await casework.client.get("/part-time-timetables/ptt-1/extend")).status_code == 404


async def test_a_withdrawal_is_recorded(casework: Casework) -> None:
    withdrawn = EXCLUSION | {"withdrawn_on": "2025-11-18", "withdrawal_reason": "Reviewed with the parents."}
    casework.exclusions.answers[("GET", "/exclusions/ex-1")] = lambda r: httpx.Response(200, json=EXCLUSION)
    casework.exclusions.answers[("POST", "/exclusions/ex-1/withdrawal")] = lambda r: httpx.Response(
        200, json=withdrawn
    )
    await sign_in(casework.client, "officer")
    assert 'href="/exclusions/ex-1/withdrawal"' in (await casework.client.get("/exclusions/ex-1")).text
    token = await csrf(casework.client, "/exclusions/ex-1/withdrawal")
    done = await casework.client.post(
        "/exclusions/ex-1/withdrawal",
        data={
            "csrf_token": token,
            "withdrawn_on.day": "18",
            "withdrawn_on.month": "11",
            "withdrawn_on.year": "2025",
        },
    )
    assert done.status_code == 303
    assert casework.exclusions.body("/exclusions/ex-1/withdrawal") == {"withdrawn_on": "2025-11-18"}
    casework.exclusions.answers[("GET", "/exclusions/ex-1")] = lambda r: httpx.Response(200, json=withdrawn)
    page = await casework.client.get("/exclusions/ex-1")
    assert "Withdrawn on 2025-11-18: Reviewed with the parents." in page.text
    assert (
        'href="/exclusions/ex-1/withdrawal"' not in page.text
        and 'href="/exclusions/ex-1/board"' not in page.text
    )
