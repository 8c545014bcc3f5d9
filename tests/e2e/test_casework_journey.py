"""An officer's casework in a real browser, every page screenshotted and checked with axe-core:
a CME case moved through its states from the checklist (an enquiry with who, when and the result;
the child found; an enquiry after that refused by cme-tracker as an illegal transition and shown
as such; a review; closed), the EHE register (overdue first; first contact recorded after the
API refused a date in the future), a permanent exclusion's sixth-day provision and the governing
board's decision, and a part-time timetable's review. The records are made through the services'
public APIs, as a school's MIS would make them."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from playwright.async_api import expect

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.calendar import london_today
from inclusion_kit.pupils import upn_check_letter
from inclusion_platform.demo import SIZES, DemoCounty

from .conftest import Journey, Platform
from .test_portal_journey import sign_in

CME_CHILD = ("Peregrine", "Quillfeather", "886200088345")
EHE_CHILD = ("Wilhelmina", "Thistlewood", "886200088412")


def _upn(body: str) -> str:
    return upn_check_letter(body) + body


async def _post(client: httpx.AsyncClient, url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        url, json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def _referral(kind: str, child: tuple[str, str, str], extra: dict[str, Any]) -> dict[str, Any]:
    forename, surname, body = child
    return {
        "kind": kind,
        "child": {"upn": _upn(body), "forename": forename, "surname": surname, "date_of_birth": "2013-05-09"},
        "referrer": {"school_urn": "118000"},
        "school_urn": "118000",
        **extra,
    }


async def fill_date(j: Journey, field_id: str, day: date) -> None:
    await j.page.fill(f"#{field_id}", str(day.day))
    await j.page.fill(f"#{field_id}-month", str(day.month))
    await j.page.fill(f"#{field_id}-year", str(day.year))


async def success(j: Journey, text: str) -> None:
    await expect(j.page.locator(".govuk-notification-banner--success")).to_contain_text(text)


async def test_officer_casework_journey(platform: Platform, new_journey) -> None:  # type: ignore[no-untyped-def]
    today = london_today()
    school_token = mint_token(platform.auth, subject="e2e-school", roles=[Role.SCHOOL], urns=["118000"])
    county = DemoCounty(SIZES["tiny"], today=today)
    excluded = {p.upn for _, p, _ in county.excluded_pupils()}
    candidates = (
        (s, p)
        for s in county.schools
        if s.phase == "secondary"
        for p in s.pupils
        if p.upn not in excluded and p.on_roll_from < county.school_days()[-1] - timedelta(days=7)
    )
    school, pupil = next(candidates)
    part_time_school, part_timer = next(candidates)
    secondary_token = mint_token(platform.auth, subject="e2e-school2", roles=[Role.SCHOOL], urns=[school.urn])
    start = county.school_days()[-1]
    part_time_token = mint_token(
        platform.auth, subject="e2e-school3", roles=[Role.SCHOOL], urns=[part_time_school.urn]
    )
    async with httpx.AsyncClient(timeout=30) as client:
        await _post(
            client,
            platform.api(0) + "/referrals",
            school_token,
            _referral(
                "child_missing_education",
                CME_CHILD,
                {"missing_education": {"last_attended_on": (today - timedelta(days=10)).isoformat()}},
            ),
        )
        await _post(
            client,
            platform.api(0) + "/referrals",
            school_token,
            _referral(
                "elective_home_education",
                EHE_CHILD,
                {"home_education": {"parent_notice_received_on": (today - timedelta(days=3)).isoformat()}},
            ),
        )
        exclusion = await _post(
            client,
            platform.api(2) + "/exclusions",
            secondary_token,
            {
                "school_urn": school.urn,
                "upn": pupil.upn,
                "kind": "permanent",
                "start_date": start.isoformat(),
                "reason_codes": ["PA"],
                "sen_provision": "N",
                "ehc_plan": False,
                "fsm_eligible": False,
                "looked_after": False,
                "child_in_need": False,
                "child_protection_plan": False,
                "parents_notified_at": f"{(start - timedelta(days=1)).isoformat()}T15:30:00+00:00",
            },
        )
        timetable = await _post(
            client,
            platform.api(2) + "/part-time-timetables",
            part_time_token,
            {
                "school_urn": part_time_school.urn,
                "upn": part_timer.upn,
                "starts_on": (start - timedelta(days=7)).isoformat(),
                "planned_end_on": (start + timedelta(days=35)).isoformat(),
                "hours_per_week": 15,
                "reason": "A phased return after a long illness, agreed with the family.",
                "parent_agreed_on": (start - timedelta(days=9)).isoformat(),
                "review_dates": [(start + timedelta(days=7)).isoformat()],
            },
        )

    officer = await new_journey("casework")
    page = officer.page
    await sign_in(officer, "officer")
    await expect(page.locator("h1")).to_have_text("Triage inbox")

    # --- a CME case through its states ---------------------------------------------------------
    forename, surname, _ = CME_CHILD
    case_link = page.get_by_role("row", name=re.compile(f"{forename} {surname}")).get_by_role("link")
    for _ in range(60):
        await officer.goto("/officer/cme")
        if await case_link.count():
            break
        await asyncio.sleep(0.25)
    await case_link.first.click()
    await expect(page.locator("h1")).to_contain_text("Case cme-")
    case_url = page.url
    await expect(page.locator(".govuk-inset-text")).to_contain_text("Not yet tried")
    await officer.check("case-open")

    await page.get_by_role("link", name="Record an enquiry").click()
    await expect(page.locator("h1")).to_have_text("Record an enquiry")
    await officer.check("enquiry-form")
    await page.get_by_label("The family", exact=True).check()
    await page.fill("#made-by", "E2E Officer (CME team)")
    await fill_date(officer, "made-on", today + timedelta(days=2))
    await page.get_by_label("No response", exact=True).check()
    await page.fill("#notes", "Two calls and a letter; no answer.")
    await page.get_by_role("button", name="Record enquiry").click()
    # cme-tracker refuses an enquiry in the future: its message next to the date.
    await expect(page.locator(".govuk-error-summary a[href='#made-on']")).to_have_count(1)
    await expect(page.locator("#made-on-error")).to_contain_text("future")
    await expect(page.locator("#made-by")).to_have_value("E2E Officer (CME team)")
    await officer.check("enquiry-form-error")
    await fill_date(officer, "made-on", today)
    await page.get_by_role("button", name="Record enquiry").click()
    await success(officer, "Enquiry recorded")
    await expect(page.locator("main")).to_contain_text("E2E Officer (CME team)")
    await expect(page.locator("main")).to_contain_text("Enquiries")
    await officer.check("case-enquiries")

    await page.get_by_role("link", name="Record that the child is found").click()
    await fill_date(officer, "located-on", today)
    await officer.check("found-form")
    await page.get_by_role("button", name="Record child found").click()
    await success(officer, "Recorded that the child is found")
    await expect(page.locator("main .govuk-tag").first).to_have_text("Located")
    await expect(page.get_by_role("link", name="Record an enquiry")).to_have_count(0)
    await officer.check("case-located")

    # An enquiry on a located case (the form reached by editing the URL) is an illegal transition.
    await officer.goto(case_url.removeprefix(officer.base) + "/enquiry")
    await page.get_by_label("Police", exact=True).check()
    await page.fill("#made-by", "E2E Officer (CME team)")
    await fill_date(officer, "made-on", today)
    await page.get_by_label("Information found", exact=True).check()
    await page.get_by_role("button", name="Record enquiry").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("The enquiry cannot be recorded: a case that is located cannot")
    assert (await page.title()).startswith("Error:")
    await officer.check("illegal-transition")

    await officer.goto(case_url.removeprefix(officer.base))
    await page.get_by_role("link", name="Record a review").click()
    await fill_date(officer, "reviewed-on", today)
    await page.fill("#notes", "Found; family moving abroad.")
    await officer.check("review-form")
    await page.get_by_role("button", name="Record review").click()
    await success(officer, "Review recorded")

    await page.get_by_role("link", name="Close the case").click()
    await page.get_by_label("Moved abroad", exact=True).check()
    await fill_date(officer, "closed-on", today)
    await officer.check("close-form")
    await page.get_by_role("button", name="Close case").click()
    await success(officer, "Case closed")
    await expect(page.locator("main .govuk-tag").first).to_have_text("Closed")
    await expect(page.locator("main")).to_contain_text("moved abroad")
    await officer.check("case-closed")

    # --- the EHE register -------------------------------------------------------------------------
    forename, surname, _ = EHE_CHILD
    ehe_link = page.get_by_role("link", name=f"{forename} {surname}")
    for _ in range(60):
        await officer.goto("/officer/ehe")
        if await ehe_link.count():
            break
        await asyncio.sleep(0.25)
    await expect(page.locator("h1")).to_have_text("Elective home education register")
    await officer.check("ehe-register")
    await officer.goto("/officer/ehe?status=active&overdue=true")
    await officer.check("ehe-register-overdue")
    await officer.goto("/officer/ehe")
    await ehe_link.click()
    await expect(page.locator("h1")).to_have_text(f"{forename} {surname}")
    await officer.check("ehe-record")
    await page.get_by_role("link", name="Record first contact").click()
    await fill_date(officer, "on", today + timedelta(days=3))
    await page.get_by_role("button", name="Record first contact").click()
    await expect(page.locator("#on-error")).to_contain_text("future")
    await officer.check("ehe-first-contact-error")
    await fill_date(officer, "on", today)
    await page.fill("#notes", "Spoke to the parent; a written plan is to follow.")
    await page.get_by_role("button", name="Record first contact").click()
    await success(officer, "First contact recorded")
    await expect(page.locator("main")).to_contain_text(f"Made on {today.isoformat()}")
    await expect(page.get_by_role("link", name="Record first contact")).to_have_count(0)
    await page.get_by_role("link", name="Record the visit offered").click()
    await fill_date(officer, "on", today)
    await page.get_by_role("button", name="Record visit offer").click()
    await success(officer, "Visit offer recorded")
    await officer.check("ehe-record-after")
    await page.get_by_role("link", name="The child's timeline").click()
    await expect(page.locator("h1")).to_contain_text(f"{forename} {surname}")
    await expect(page.locator("main")).to_contain_text("Home education: first contact")
    await officer.check("ehe-timeline")

    # --- an exclusion's sixth-day provision and the board's decision ---------------------------
    await officer.goto("/officer/exclusions")
    await officer.check("exclusions-deadlines")
    await officer.goto(f"/exclusions/{exclusion['id']}")
    await expect(page.locator("#provision")).to_contain_text("Not recorded yet")
    await officer.check("exclusion")
    await page.get_by_role("link", name="Record full-time provision from the sixth day").click()
    await fill_date(officer, "starts-on", start + timedelta(days=7))
    await page.get_by_role("button", name="Record provision").click()
    await expect(page.locator(".govuk-error-summary a[href='#provider']")).to_have_count(1)
    await officer.check("provision-form-error")
    await page.fill("#provider", "East Kent Pupil Referral Unit")
    await page.get_by_role("button", name="Record provision").click()
    await success(officer, "Sixth-day provision recorded")
    await expect(page.locator("#provision")).to_contain_text("East Kent Pupil Referral Unit")
    await page.get_by_role("link", name="Record the governing board's decision").click()
    await page.get_by_label("Upheld", exact=True).check()
    await fill_date(officer, "decided-on", today)
    await fill_date(officer, "parents-notice-sent-on", today)
    await page.locator("#notice-posted-2").check()
    await officer.check("board-form")
    await page.get_by_role("button", name="Record decision").click()
    await success(officer, "Governing board's decision recorded")
    await expect(page.locator("#reviews")).to_contain_text("upheld")
    await officer.check("exclusion-after")
    await page.get_by_role("link", name="Record that the head teacher withdrew it").click()
    await expect(page.locator("h1")).to_have_text("Record that the head teacher withdrew it")
    await officer.check("withdrawal-form")

    # --- a part-time timetable's review -----------------------------------------------------
    await officer.goto(f"/part-time-timetables/{timetable['id']}")
    await officer.check("part-time-timetable")
    await page.get_by_role("link", name="Record a review").click()
    await fill_date(officer, "reviewed-on", today)
    await page.fill("#notes", "Mornings going well; more hours from next week.")
    await officer.check("part-time-review-form")
    await page.get_by_role("button", name="Record review").click()
    await success(officer, "Review recorded")
    await expect(page.locator("main")).to_contain_text("Mornings going well")
    await officer.check("part-time-timetable-after")
