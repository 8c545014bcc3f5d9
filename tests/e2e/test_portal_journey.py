"""Issue 9's journey in a real browser: a school refers a child missing education (one field wrong,
then corrected); an officer finds it in triage, accepts it and finds the CME case; a manager opens
the indicator board and downloads the CSV. Every page is screenshotted (tests/e2e/artifacts/) and
checked with axe-core; a school cannot reach officer pages or another school's records.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from playwright.async_api import expect

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.calendar import london_today
from inclusion_kit.pupils import upn_check_letter

from .conftest import ARTIFACTS, Journey, Platform

BODY = "886200077123"
UPN = upn_check_letter(BODY) + BODY
WRONG_UPN = ("A" if UPN[0] != "A" else "B") + BODY
FORENAME, SURNAME = "Ottoline", "Brackenridge"


async def sign_in(j: Journey, role: str, urn: str | None = None) -> None:
    await j.goto("/sign-in")
    await j.check("sign-in")
    await j.page.locator(f"input[name=role][value={role}]").check()
    if urn:
        await j.page.fill("#urn", urn)
    await j.page.get_by_role("button", name="Sign in", exact=True).click()


async def test_school_officer_manager_journey(platform: Platform, new_journey) -> None:  # type: ignore[no-untyped-def]
    # --- a school refers a child missing education ------------------------------------------
    school = await new_journey("school")
    await sign_in(school, "school", "118000")
    await expect(school.page.locator("h1")).to_have_text("Your school")
    await school.check("home")

    await school.page.get_by_role("link", name="Refer a child").first.click()
    await school.check("referral-kind")
    await school.page.get_by_label("Child missing education").check()
    await school.page.get_by_role("button", name="Continue").click()
    await expect(school.page.locator("h1")).to_have_text("Refer a child: child missing education")
    await school.check("referral-form")

    last_seen = london_today() - timedelta(days=7)
    page = school.page
    await page.fill("#child-upn", WRONG_UPN)
    await page.fill("#child-forename", FORENAME)
    await page.fill("#child-surname", SURNAME)
    await page.fill("#child-date-of-birth", "14")
    await page.fill("#child-date-of-birth-month", "2")
    await page.fill("#child-date-of-birth-year", "2013")
    await page.fill("#child-address-line1", "12 Juniper Row")
    await page.fill("#child-address-town", "Ashford")
    await page.fill("#missing-education-last-attended-on", str(last_seen.day))
    await page.fill("#missing-education-last-attended-on-month", str(last_seen.month))
    await page.fill("#missing-education-last-attended-on-year", str(last_seen.year))
    await page.fill("#missing-education-possible-whereabouts", "Family may have moved to Hastings")
    await page.get_by_role("button", name="Send referral").click()

    # The API's own validation, next to the field and in the error summary.
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_be_visible()
    await expect(summary.locator("a[href='#child-upn']")).to_have_count(1)
    await expect(page.locator("#child-upn-error")).to_be_visible()
    await expect(page.locator("#child-upn")).to_have_value(WRONG_UPN)  # what was typed is kept
    await expect(page.locator("#child-forename")).to_have_value(FORENAME)
    assert (await page.title()).startswith("Error:")
    await school.check("referral-form-error")

    await page.fill("#child-upn", UPN)
    await page.get_by_role("button", name="Send referral").click()
    await expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Referral sent")
    await expect(page.locator("h1")).to_contain_text("Referral r-")
    referral_id = (await page.locator("h1").inner_text()).removeprefix("Referral ").strip()
    await school.check("referral-sent")

    await school.goto("/referrals")
    await expect(page.get_by_role("link", name=referral_id)).to_be_visible()
    await school.check("referrals")

    # --- the school cannot reach officer pages or another school's records ---------------------
    for path in (
        "/officer/triage",
        "/officer/cme",
        "/officer/penalty-requests",
        "/manager/indicators",
        "/manager/downloads/indicators.csv",
    ):
        response = await school.goto(path)
        assert response is not None and response.status == 403, path
    await school.check("forbidden")
    officer_token = mint_token(platform.auth, subject="e2e-officer", roles=[Role.OFFICER])
    async with httpx.AsyncClient() as client:
        others = (
            await client.get(
                platform.api(0) + "/referrals", headers={"Authorization": f"Bearer {officer_token}"}
            )
        ).json()
    other = next(r for r in others["items"] if r["school_urn"] not in (None, "118000"))
    response = await school.goto(f"/referrals/{other['id']}")
    assert response is not None and response.status == 404
    await expect(page.locator("h1")).to_have_text("Page not found")
    await school.check("other-school-404")

    # --- an officer triages it and finds the CME case -----------------------------------------
    officer = await new_journey("officer")
    await sign_in(officer, "officer")
    await expect(officer.page.locator("h1")).to_have_text("Triage inbox")
    await officer.check("triage")
    await officer.page.get_by_role("link", name=f"{FORENAME} {SURNAME}").click()
    await expect(officer.page.locator("h1")).to_have_text(f"Referral {referral_id}")
    await officer.check("referral")
    await officer.page.get_by_label("Accept").check()
    await officer.page.get_by_role("button", name="Record decision").click()
    await expect(officer.page.locator(".govuk-notification-banner--success")).to_contain_text(
        f"Referral {referral_id} accepted"
    )
    await officer.check("triage-after")

    # cme-tracker opens the case from the referral event (embedded bus): give it a moment.
    case_link = officer.page.get_by_role("row", name=re.compile(f"{FORENAME} {SURNAME}")).get_by_role("link")
    for _ in range(40):
        await officer.goto("/officer/cme")
        if await case_link.count():
            break
        await officer.page.wait_for_timeout(250)
    await officer.check("cme-caseload")
    await case_link.first.click()
    await expect(officer.page.locator("h1")).to_contain_text("Case cme-")
    await expect(officer.page.locator("main")).to_contain_text(referral_id)
    await officer.check("cme-case")
    await officer.page.get_by_role("link", name="The child's timeline").click()
    await expect(officer.page.locator("h1")).to_contain_text(f"{FORENAME} {SURNAME}")
    await officer.check("timeline")

    # --- a manager opens the indicator board and downloads the CSV -----------------------------
    manager = await new_journey("manager")
    await sign_in(manager, "manager")
    await expect(manager.page.locator("h1")).to_have_text("Indicator board")
    await expect(manager.page.locator(".app-rag").first).to_be_visible()
    await manager.check("indicators")
    async with manager.page.expect_download() as info:
        await manager.page.get_by_role("link", name="Download CSV").click()
    download = await info.value
    target = ARTIFACTS / f"manager-{download.suggested_filename}"
    await download.save_as(target)
    text = target.read_text(encoding="utf-8-sig")
    assert download.suggested_filename.endswith(".csv")
    assert "Attendance, primary" in text or "attendance_primary" in text
    assert len(text.splitlines()) > 3
    await manager.goto("/manager/charts")
    await expect(manager.page.locator("svg#absence-by-district")).to_be_visible()
    await manager.check("charts")
