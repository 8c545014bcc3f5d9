"""Deletion and new-pupil returns: per-ground rules in school days, scoping, events, the feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func, select

from inclusion_kit.auth import Role
from referral_api.adapters.orm import roll, roll_changes, tables

from .conftest import Api

CATALOG = Path(__file__).resolve().parents[4] / "shared" / "catalog" / "schemas"
SCHOOL_B = {"urns": ("118001",)}
JOINT = [
    {
        "made_on": "2025-11-05",
        "by": "joint",
        "method": "home visit with the LA's officer",
        "outcome": "no answer; neighbours say the family left",
    }
]


@pytest.fixture(autouse=True)
def november(api: Api) -> None:
    api.clock.set(datetime(2025, 11, 10, 10, 0, tzinfo=UTC))  # Monday after the autumn half-term


def deletion(ground: str, **extra: Any) -> dict[str, Any]:
    return {
        "school_urn": "118001",
        "child": {
            "upn": "K886400023012",
            "forename": "Sam",
            "surname": "Example",
            "date_of_birth": "2011-05-04",
            "address": {"line1": "3 Example Lane", "town": "Dover", "postcode": "CT16 1AA"},
        },
        "ground": ground,
        "ground_met_on": "2025-11-07",
        "parents": [{"name": "Jo Example", "emergency_phone": "07700 900123"}],
        **extra,
    }


GOOD = [
    ("9(1)(a)", {"destination": {"school_urn": "118000", "starting_on": "2025-11-10"}}, False),
    ("9(1)(f)", {"parent_notice_received_on": "2025-10-20"}, False),
    ("9(1)(g)", {}, True),
    ("9(1)(g)", {"destination": {"school_name": "A school in Leeds", "la_code": "383"}}, False),
    ("9(1)(h)", {"leave_ended_on": "2025-10-17", "enquiries": JOINT}, True),
    (
        "9(1)(i)",
        {
            "absence_from": "2025-10-06",
            "absence_to": "2025-11-07",
            "absence_codes": ["N", "O"],
            "enquiries": JOINT,
        },
        True,
    ),
    ("9(1)(k)", {}, False),
    ("9(1)(o)", {"excluded_on": "2025-10-01"}, False),
]


@pytest.mark.parametrize(
    ("ground", "extra", "unknown"), GOOD, ids=[f"{g}-{i}" for i, (g, _, _) in enumerate(GOOD)]
)
async def test_valid_deletion_returns_are_recorded_and_evented(
    api: Api, ground: str, extra: dict[str, Any], unknown: bool
) -> None:
    response = await api.client.post(
        "/roll-changes/deletions", json=deletion(ground, **extra), headers=api.token(Role.SCHOOL, **SCHOOL_B)
    )
    assert response.status_code == 201, response.text
    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        ((event_type, payload),) = [
            (r.event_type, json.loads(r.payload)) for r in (await conn.execute(select(tables.outbox))).all()
        ]
    assert event_type == "inclusion.referrals.pupil.removed-from-roll.v1"
    jsonschema.Draft202012Validator(json.loads((CATALOG / f"{event_type}.json").read_text())).validate(
        payload
    )
    assert payload["ground"] == ground and payload["education_unknown"] is unknown
    assert payload["school"]["district"] == "Dover"


BAD = [
    ("9(1)(a)", {}, "/destination/school_urn"),
    ("9(1)(f)", {}, "/parent_notice_received_on"),
    ("9(1)(h)", {"leave_ended_on": "2025-10-20", "enquiries": JOINT}, "/ground_met_on"),  # 9 school days
    ("9(1)(h)", {"leave_ended_on": "2025-10-17"}, "/enquiries"),
    (
        "9(1)(i)",
        {
            "absence_from": "2025-10-13",
            "absence_to": "2025-11-07",
            "absence_codes": ["N"],
            "enquiries": JOINT,
        },
        "/absence_to",
    ),  # 15 school days across the half-term
    (
        "9(1)(i)",
        {
            "absence_from": "2025-10-06",
            "absence_to": "2025-11-07",
            "absence_codes": ["N", "I"],
            "enquiries": JOINT,
        },
        "/absence_codes",
    ),  # an illness session breaks ground (i)
    (
        "9(1)(i)",
        {
            "absence_from": "2025-10-06",
            "absence_to": "2025-11-07",
            "absence_codes": ["G"],
            "enquiries": [{**JOINT[0], "by": "school"}],
        },
        "/enquiries",
    ),  # the school alone
    ("9(1)(o)", {}, "/excluded_on"),
    ("9(1)(k)", {"ground_met_on": "2025-12-01"}, "/ground_met_on"),  # in the future
    ("9(1)(k)", {"parents": []}, "/parents"),
]


@pytest.mark.parametrize(("ground", "extra", "pointer"), BAD, ids=[f"{g}-{p}" for g, _, p in BAD])
async def test_returns_breaking_their_grounds_rules_are_422_and_store_nothing(
    api: Api, ground: str, extra: dict[str, Any], pointer: str
) -> None:
    response = await api.client.post(
        "/roll-changes/deletions", json=deletion(ground, **extra), headers=api.token(Role.SCHOOL, **SCHOOL_B)
    )
    assert response.status_code == 422, response.text
    assert pointer in [e["pointer"] for e in response.json()["errors"]], response.json()
    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        assert await conn.scalar(select(func.count()).select_from(roll_changes)) == 0
        assert await conn.scalar(select(func.count()).select_from(tables.outbox)) == 0


async def test_deletion_needs_the_pupils_address_and_a_known_ground(api: Api) -> None:
    body = deletion("9(1)(k)")
    body["child"].pop("address")
    body["child"]["upn"] = "K886400023012"
    response = await api.client.post(
        "/roll-changes/deletions", json=body, headers=api.token(Role.SCHOOL, **SCHOOL_B)
    )
    assert response.status_code == 422 and "/child/address" in [
        e["pointer"] for e in response.json()["errors"]
    ]
    unknown = await api.client.post(
        "/roll-changes/deletions", json=deletion("9(1)(z)"), headers=api.token(Role.SCHOOL, **SCHOOL_B)
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["pointer"] == "/ground"


async def test_a_school_sends_returns_only_for_itself_and_reads_only_its_own(api: Api) -> None:
    other = await api.client.post(
        "/roll-changes/deletions", json=deletion("9(1)(k)"), headers=api.token(Role.SCHOOL, urns=("118000",))
    )
    assert other.status_code == 403
    mine = (
        await api.client.post(
            "/roll-changes/deletions", json=deletion("9(1)(k)"), headers=api.token(Role.SCHOOL, **SCHOOL_B)
        )
    ).json()
    assert (
        await api.client.get(f"/roll-changes/{mine['id']}", headers=api.token(Role.SCHOOL, urns=("118000",)))
    ).status_code == 404
    assert (
        await api.client.get(f"/roll-changes/{mine['id']}", headers=api.token(Role.SCHOOL, **SCHOOL_B))
    ).status_code == 200


async def test_new_pupil_return_puts_the_child_on_the_roll_and_a_deletion_takes_them_off(api: Api) -> None:
    admission = {
        "school_urn": "118001",
        "starting_day": "2025-11-03",
        "entered_on": "2025-11-03",
        "year_group": "10",
        "child": deletion("9(1)(k)")["child"],
    }
    response = await api.client.post(
        "/roll-changes/admissions", json=admission, headers=api.token(Role.SCHOOL, **SCHOOL_B)
    )
    assert response.status_code == 201, response.text
    details = response.json()["details"]
    # Entered on Monday 3 November: due by the end of Saturday 8 November; sent on the 10th: late.
    assert details["return_due_by"] == "2025-11-08" and details["returned_late"] is True
    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        on_roll = (await conn.execute(select(roll))).mappings().one()
        assert on_roll["left_on"] is None and on_roll["upn"] == "K886400023012"
        ((_, payload),) = [
            (r.event_type, json.loads(r.payload)) for r in (await conn.execute(select(tables.outbox))).all()
        ]
    assert payload["returned_late"] is True and payload["year_group"] == "10"
    gone = await api.client.post(
        "/roll-changes/deletions",
        json=deletion("9(1)(a)", deleted_on="2025-11-10", destination={"school_urn": "118000"}),
        headers=api.token(Role.SCHOOL, **SCHOOL_B),
    )
    assert gone.status_code == 201
    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        assert str((await conn.execute(select(roll.c.left_on))).scalar_one()) == "2025-11-10"
        # The same UPN keeps one platform reference across the two returns.
        refs = (await conn.execute(select(roll_changes.c.child_ref))).scalars().all()
    assert len(set(refs)) == 1


async def test_deletions_feed_lists_deletions_since_a_point(api: Api) -> None:
    from datetime import timedelta

    first = (
        await api.client.post(
            "/roll-changes/deletions", json=deletion("9(1)(k)"), headers=api.token(Role.SCHOOL, **SCHOOL_B)
        )
    ).json()
    api.clock.advance(timedelta(hours=1))
    second = (
        await api.client.post(
            "/roll-changes/deletions", json=deletion("9(1)(g)"), headers=api.token(Role.SCHOOL, **SCHOOL_B)
        )
    ).json()
    feed = await api.client.get(
        "/roll-changes",
        params={"kind": "deletion", "updated_after": first["received_at"]},
        headers=api.token(Role.OFFICER),
    )
    assert [i["id"] for i in feed.json()["items"]] == [second["id"]]
    school_a = await api.client.get("/roll-changes", headers=api.token(Role.SCHOOL, urns=("118000",)))
    assert school_a.json()["items"] == []


async def test_officers_limited_to_districts_see_only_their_schools_returns(api: Api) -> None:
    from inclusion_kit.auth import mint_token

    dover = (
        await api.client.post(
            "/roll-changes/deletions", json=deletion("9(1)(k)"), headers=api.token(Role.SCHOOL, **SCHOOL_B)
        )
    ).json()  # 118001 is in Dover
    maidstone_only = {
        "Authorization": "Bearer "
        + mint_token(api.settings.auth, subject="m", roles=[Role.OFFICER], districts=["Maidstone"])
    }
    assert (await api.client.get("/roll-changes", headers=maidstone_only)).json()["items"] == []
    assert (await api.client.get(f"/roll-changes/{dover['id']}", headers=maidstone_only)).status_code == 404
    dover_only = {
        "Authorization": "Bearer "
        + mint_token(api.settings.auth, subject="d", roles=[Role.OFFICER], districts=["dover"])
    }
    assert [i["id"] for i in (await api.client.get("/roll-changes", headers=dover_only)).json()["items"]] == [
        dover["id"]
    ]


async def test_dates_outside_the_configured_calendar_are_a_422_not_a_crash(api: Api) -> None:
    body = deletion(
        "9(1)(i)", absence_from="2019-01-07", absence_to="2019-03-01", absence_codes=["N"], enquiries=JOINT
    )
    response = await api.client.post(
        "/roll-changes/deletions", json=body, headers=api.token(Role.SCHOOL, **SCHOOL_B)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/absence_from"
