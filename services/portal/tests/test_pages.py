"""Sign-in, the session cookie, CSRF, role guards, school scoping and the API's validation on
the form, through the portal's pages over a real referral-api."""

from __future__ import annotations

import re

import httpx

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.pupils import upn_check_letter
from inclusion_kit.settings import AuthSettings

from .conftest import Portal, csrf, sign_in

BODY = "886200024001"
UPN = upn_check_letter(BODY) + BODY


def cme_form(token: str, key: str, upn: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "idempotency_key": key,
        "child.upn": upn,
        "child.forename": "Alex",
        "child.surname": "Example",
        "child.date_of_birth.day": "2",
        "child.date_of_birth.month": "3",
        "child.date_of_birth.year": "2014",
        "school_urn": "118000",
        "missing_education.last_attended_on.day": "22",
        "missing_education.last_attended_on.month": "9",
        "missing_education.last_attended_on.year": "2025",
    }


async def test_sign_in_sets_a_protected_session_cookie_and_signs_out(portal: Portal) -> None:
    assert (await portal.client.get("/school")).headers["location"].startswith("/sign-in?next=%2Fschool")
    response = await sign_in(portal.client, "school", "118000")
    assert response.status_code == 303 and response.headers["location"] == "/school"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert UPN not in cookie and "eyJ" not in cookie  # encrypted: the token is not readable
    home = await portal.client.get("/school")
    assert home.status_code == 200 and "Your school" in home.text
    assert "default-src 'self'" in home.headers["content-security-policy"]
    assert home.headers["cache-control"] == "no-store"
    token = await csrf(portal.client, "/school")
    out = await portal.client.post("/sign-out", data={"csrf_token": token})
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    assert (await portal.client.get("/school")).status_code == 303


async def test_local_sign_in_validates_its_form(portal: Portal) -> None:
    response = await sign_in(portal.client, "school", "12")
    assert response.status_code == 422 and "Enter your school" in response.text
    assert 'href="#urn"' in response.text


async def test_forms_without_the_csrf_token_are_refused(portal: Portal) -> None:
    await sign_in(portal.client, "school", "118000")
    response = await portal.client.post(
        "/referrals/new/child_missing_education", data=cme_form("forged", "k", UPN)
    )
    assert response.status_code == 403
    referrals = await portal.referral.get(
        "/referrals",
        headers={"Authorization": "Bearer " + mint_token(AuthSettings(), subject="o", roles=[Role.OFFICER])},
    )
    assert referrals.json()["items"] == []  # nothing was sent


async def test_the_apis_validation_shows_next_to_the_field_then_the_referral_is_sent(portal: Portal) -> None:
    await sign_in(portal.client, "school", "118000")
    form_page = await portal.client.get("/referrals/new/child_missing_education")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form_page.text)
    assert key
    token = await csrf(portal.client, "/referrals/new/child_missing_education")
    wrong = "A" + BODY if UPN[0] != "A" else "B" + BODY
    response = await portal.client.post(
        "/referrals/new/child_missing_education", data=cme_form(token, key.group(1), wrong)
    )
    assert response.status_code == 422
    assert 'class="govuk-error-summary"' in response.text and 'href="#child-upn"' in response.text
    assert 'id="child-upn-error"' in response.text and f'value="{wrong}"' in response.text
    assert key.group(1) in response.text  # the same idempotency key is kept while correcting

    sent = await portal.client.post(
        "/referrals/new/child_missing_education", data=cme_form(token, key.group(1), UPN)
    )
    assert sent.status_code == 303 and sent.headers["location"].startswith("/referrals/r-")
    page = await portal.client.get(sent.headers["location"])
    assert "Referral sent" in page.text and "Alex Example" in page.text
    # A double submission replays the stored answer rather than making a second referral.
    again = await portal.client.post(
        "/referrals/new/child_missing_education", data=cme_form(token, key.group(1), UPN)
    )
    assert again.headers["location"] == sent.headers["location"]


async def test_a_school_cannot_reach_officer_pages_or_another_schools_records(portal: Portal) -> None:
    other = await portal.referral.post(
        "/referrals",
        json={
            "kind": "early_help",
            "child": {"upn": UPN, "forename": "Sam", "surname": "Other", "date_of_birth": "2012-01-01"},
            "referrer": {"school_urn": "118001"},
            "school_urn": "118001",
            "summary": "Family asking for help.",
        },
        headers={
            "Authorization": "Bearer "
            + mint_token(AuthSettings(), subject="s", roles=[Role.SCHOOL], urns=["118001"]),
            "Idempotency-Key": "k-1",
        },
    )
    assert other.status_code == 201
    await sign_in(portal.client, "school", "118000")
    for path in (
        "/officer/triage",
        "/officer/cme",
        "/officer/exclusions",
        "/officer/penalty-requests",
        "/manager/indicators",
        "/manager/charts",
        "/manager/downloads/indicators.csv",
        f"/children/{other.json()['child_ref']}",
        "/cases/cme-1",
    ):
        response = await portal.client.get(path)
        assert response.status_code == 403, path
        assert "You cannot see this page" in response.text
    token = await csrf(portal.client, "/school")
    triage = await portal.client.post(
        f"/referrals/{other.json()['id']}/triage", data={"csrf_token": token, "decision": "accepted"}
    )
    assert triage.status_code == 403
    response = await portal.client.get(f"/referrals/{other.json()['id']}")
    assert response.status_code == 404 and "Sam" not in response.text
    assert (await portal.client.get("/referrals/r-doesnotexist")).status_code == 404
    listing = await portal.client.get("/referrals")
    assert other.json()["id"] not in listing.text


async def test_an_officer_triages_from_the_inbox(portal: Portal) -> None:
    await sign_in(portal.client, "school", "118000")
    token = await csrf(portal.client, "/school")
    sent = await portal.client.post(
        "/referrals/new/child_missing_education",
        data=cme_form(token, "2b1f6f5e-54c4-4b6e-9f57-1d7e3b9c0a11", UPN),
    )
    referral_id = sent.headers["location"].rsplit("/", 1)[-1]
    portal.client.cookies.clear()
    await sign_in(portal.client, "officer")
    inbox = await portal.client.get("/officer/triage")
    assert inbox.status_code == 200 and f"/referrals/{referral_id}" in inbox.text
    token = await csrf(portal.client, f"/referrals/{referral_id}")
    closed = await portal.client.post(
        f"/referrals/{referral_id}/triage", data={"csrf_token": token, "decision": "closed"}
    )
    assert closed.status_code == 422 and "reason" in closed.text.lower()  # the API's rule, on the form
    done = await portal.client.post(
        f"/referrals/{referral_id}/triage", data={"csrf_token": token, "decision": "accepted"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/officer/triage"
    assert "accepted" in (await portal.client.get(f"/referrals/{referral_id}")).text


async def test_an_unreachable_service_gives_the_service_problem_page(portal: Portal) -> None:
    await sign_in(portal.client, "officer")
    response = await portal.client.get("/officer/cme")
    assert response.status_code == 502 and "problem with the service" in response.text


async def test_open_redirects_are_refused(portal: Portal) -> None:
    token = await csrf(portal.client)
    response = await portal.client.post(
        "/sign-in/local", data={"csrf_token": token, "role": "officer", "next": "//evil.example/"}
    )
    assert response.headers["location"] == "/officer/triage"


async def test_assets_are_served_from_the_package(portal: Portal) -> None:
    css = await portal.client.get("/assets/portal.css")
    assert css.status_code == 200 and ".govuk-error-summary" in css.text
    assert (await portal.client.get("/assets/vendor/htmx.min.js")).status_code == 200
    assert isinstance(portal.client, httpx.AsyncClient)
