"""The EHE register and the off-rolling watch over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from inclusion_kit.auth import Role

from ..events import HIGH, SAM, cme_referral, deletion, enrolment
from .conftest import Api

OTHER_HIGH = {
    "urn": "118002",
    "la_code": "886",
    "name": "Quiet High School",
    "phase": "secondary",
    "district": "Dover",
}
THIRD_HIGH = {
    "urn": "118003",
    "la_code": "886",
    "name": "Third High School",
    "phase": "secondary",
    "district": "Swale",
}


async def test_ehe_register_due_dates_overdue_list_and_actions(api: Api) -> None:
    await api.deliver(
        deletion(ground="9(1)(f)", parent_notice_received_on="2025-11-03", education_unknown=False)
    )
    officer = api.token(Role.OFFICER)
    [reg] = (await api.client.get("/ehe", headers=officer)).json()["items"]
    assert (reg["first_contact_due"], reg["visit_offer_due"], reg["next_review_due"]) == (
        "2025-12-10",
        "2026-02-10",
        "2026-11-10",
    )
    assert reg["overdue"] == [] and reg["school"]["urn"] == "118001"
    api.clock.set(datetime(2025, 12, 11, 9, 0, tzinfo=UTC))
    [late] = (await api.client.get("/ehe", params={"overdue": "true"}, headers=officer)).json()["items"]
    assert late["overdue"] == ["first_contact"]
    r = await api.client.post(f"/ehe/{reg['id']}/first-contact", json={"on": "2025-12-11"}, headers=officer)
    assert r.status_code == 200 and r.json()["overdue"] == []
    assert (await api.client.get("/ehe", params={"overdue": "true"}, headers=officer)).json()["items"] == []
    again = await api.client.post(
        f"/ehe/{reg['id']}/first-contact", json={"on": "2025-12-11"}, headers=officer
    )
    assert again.status_code == 409
    future = await api.client.post(
        f"/ehe/{reg['id']}/visit-offer", json={"on": "2026-01-01"}, headers=officer
    )
    assert future.status_code == 422 and future.json()["errors"][0]["pointer"] == "/on"
    no_reason = await api.client.post(f"/ehe/{reg['id']}/end", json={"on": "2025-12-11"}, headers=officer)
    assert no_reason.status_code == 422
    ended = await api.client.post(
        f"/ehe/{reg['id']}/end", json={"on": "2025-12-11", "reason": "moved abroad"}, headers=officer
    )
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    # The register is the LA's: not for schools; district officers see their districts only.
    assert (await api.client.get("/ehe", headers=api.token(Role.SCHOOL, urns=("118001",)))).status_code == 403
    swale = api.token(Role.OFFICER, districts=("Swale",))
    assert (await api.client.get(f"/ehe/{reg['id']}", headers=swale)).status_code == 404


async def test_closing_a_case_as_home_educated_enters_the_child_on_the_register(api: Api) -> None:
    await api.deliver(cme_referral())
    officer = api.token(Role.OFFICER)
    [case] = (await api.client.get("/cases", headers=officer)).json()["items"]
    r = await api.client.post(
        f"/cases/{case['id']}/close",
        json={"outcome": "electively_home_educated", "closed_on": "2025-11-10"},
        headers=officer,
    )
    assert r.status_code == 200
    [reg] = (await api.client.get("/ehe", headers=officer)).json()["items"]
    assert reg["source"] == "cme_case" and reg["source_id"] == case["id"] and reg["child_ref"] == "c-alex"


async def test_flagged_deletions_list_for_officers(api: Api) -> None:
    await api.deliver(deletion(ground="9(1)(a)", education_unknown=False, roll_change_id="rc-a"))
    await api.deliver(
        deletion(
            "c-2",
            child={**SAM, "upn": None},
            ground="9(1)(a)",
            education_unknown=False,
            roll_change_id="rc-ok",
            destination={"school_urn": "118000"},
        )
    )
    officer = api.token(Role.OFFICER)
    page = (await api.client.get("/off-rolling/deletions", headers=officer)).json()
    assert [d["id"] for d in page["items"]] == ["rc-a"]
    assert page["items"][0]["evidence_gaps"] == ["ground (a) names the school the pupil is now registered at"]
    assert page["items"][0]["year_group"] == 11  # born May 2010: Year 11 in 2025/26
    assert (
        await api.client.get("/off-rolling/deletions", params={"district": "Swale"}, headers=officer)
    ).json()["items"] == []
    bad = await api.client.get("/off-rolling/deletions", params={"academic_year": "2025/27"}, headers=officer)
    assert bad.status_code == 422
    assert (
        await api.client.get("/off-rolling/deletions", headers=api.token(Role.SCHOOL, urns=("118001",)))
    ).status_code == 403


async def test_schools_with_unusual_year_10_11_removals_before_the_census(api: Api) -> None:
    # Three secondaries with 20 Year 10-11 pupils each on roll; one removes 6 before the census.
    for school in (HIGH, OTHER_HIGH, THIRD_HIGH):
        for i in range(20):
            await api.deliver(
                enrolment(
                    f"c-{school['urn']}-{i}", SAM["upn"], school=school, year_group="10" if i % 2 else "11"
                )
            )
    for i in range(6):
        await api.deliver(
            deletion(
                f"c-{HIGH['urn']}-{i}",
                child={**SAM, "upn": None},
                ground="9(1)(f)",
                roll_change_id=f"rc-h{i}",
                parent_notice_received_on="2025-11-03",
                education_unknown=False,
                deleted_on="2025-11-07",
            )
        )
    await api.deliver(
        deletion(
            f"c-{OTHER_HIGH['urn']}-1",
            child={**SAM, "upn": None},
            ground="9(1)(a)",
            school=OTHER_HIGH,
            roll_change_id="rc-q1",
            destination={"school_urn": "118000"},
            education_unknown=False,
            deleted_on="2025-11-07",
        )
    )
    # A death is not an off-rolling route and is not counted.
    await api.deliver(
        deletion(
            f"c-{THIRD_HIGH['urn']}-1",
            child={**SAM, "upn": None},
            ground="9(1)(k)",
            school=THIRD_HIGH,
            roll_change_id="rc-t1",
            education_unknown=False,
            deleted_on="2025-11-07",
        )
    )
    r = await api.client.get(
        "/off-rolling/schools", params={"academic_year": "2025/26"}, headers=api.token(Role.MANAGER)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["census_day"] == "2026-01-15" and body["county_rate"] == 7 / 60
    [flag] = body["schools"]
    assert (flag["school_urn"], flag["removals"], flag["cohort"], flag["basis"]) == ("118001", 6, 20, "rate")
    assert flag["times_county"] == round((6 / 20) / (7 / 60), 2)
    swale = api.token(Role.OFFICER, districts=("Swale",))
    assert (await api.client.get("/off-rolling/schools", headers=swale)).json()["schools"] == []
