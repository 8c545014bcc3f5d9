"""Roll imports: pupils added, updated and unchanged; bad lines rejected one by one; one
PupilEnrolmentRecorded per pupil whose enrolment or characteristics changed; nothing removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func, select

from inclusion_kit.auth import Role
from inclusion_kit.pupils import upn_check_letter
from referral_api.adapters.orm import roll, tables

from .conftest import Api

pytestmark = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)

CATALOG = Path(__file__).resolve().parents[4] / "shared" / "catalog" / "schemas"
ENROLMENT = "inclusion.referrals.pupil.enrolment-recorded.v1"
ALEX = "H886200024001"


def upn(body: str) -> str:
    return upn_check_letter(body) + body


SAM = "K886400023012"
NDJSON = {"content-type": "application/x-ndjson"}


def pupil(upn: str, **changes: Any) -> dict[str, Any]:
    return {
        "upn": upn,
        "forename": "Alex",
        "surname": "Example",
        "date_of_birth": "2014-03-02",
        "sex": "F",
        "year_group": "6",
        "on_roll_from": "2019-09-04",
        "sen_provision": "K",
        "fsm_periods": [{"start": "2023-01-09"}],
        "ethnicity": "WBRI",
        **changes,
    }


def ndjson(*lines: dict[str, Any] | str) -> bytes:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines).encode() + b"\n"


async def send(api: Api, body: bytes, urn: str = "118000", **headers: str) -> Any:
    return await api.client.post(
        f"/roll/schools/{urn}/pupils",
        content=body,
        headers={**NDJSON, **api.token(Role.SCHOOL, urns=(urn,)), **headers},
    )


async def enrolment_events(api: Api) -> list[dict[str, Any]]:
    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = (await conn.execute(select(tables.outbox).order_by(tables.outbox.c.seq))).all()
    return [json.loads(r.payload) for r in rows if r.event_type == ENROLMENT]


def counts(result: dict[str, Any]) -> tuple[int, ...]:
    return tuple(result[k] for k in ("added", "updated", "unchanged", "rejected", "not_in_import"))


async def test_an_import_adds_pupils_and_events_their_enrolment(api: Api) -> None:
    response = await send(
        api, ndjson(pupil(ALEX), pupil(upn("886200024005"), forename="Kai", sen_provision="E"))
    )
    assert response.status_code == 200, response.text
    assert counts(response.json()) == (2, 0, 0, 0, 0)
    events = await enrolment_events(api)
    schema = json.loads((CATALOG / f"{ENROLMENT}.json").read_text())
    for event in events:
        jsonschema.Draft202012Validator(schema).validate(event)
    alex = next(e for e in events if e["upn"] == ALEX)
    assert alex["school"]["urn"] == "118000" and alex["school"]["district"] == "Maidstone"
    assert alex["year_group"] == "6" and alex["aggregate_version"] == 1
    assert alex["characteristics"]["sen_provision"] == "K"
    assert alex["characteristics"]["fsm_periods"] == [{"start": "2023-01-09", "end": None}]
    assert "forename" not in json.dumps(alex)  # names stay in the front door
    # The pupils are on the roll: their marks are now accepted.
    marks = await api.client.post(
        "/attendance/schools/118000/marks",
        content=json.dumps({"upn": ALEX, "date": "2025-10-06", "session": "AM", "code": "/"}).encode(),
        headers={**NDJSON, **api.token(Role.SCHOOL, urns=("118000",))},
    )
    assert marks.json()["accepted"] == 1, marks.text


async def test_resending_changes_nothing_and_a_change_is_evented_with_the_next_version(api: Api) -> None:
    await send(api, ndjson(pupil(ALEX)))
    again = (await send(api, ndjson(pupil(ALEX)))).json()
    assert counts(again) == (0, 0, 1, 0, 0)
    assert len(await enrolment_events(api)) == 1
    # A new surname is stored but is not what other services rely on: no event.
    renamed = (await send(api, ndjson(pupil(ALEX, surname="Other")))).json()
    assert counts(renamed) == (0, 1, 0, 0, 0)
    assert len(await enrolment_events(api)) == 1
    # A new FSM period and year group are.
    fsm = [{"start": "2023-01-09", "end": "2024-07-19"}, {"start": "2025-09-01"}]
    changed = (await send(api, ndjson(pupil(ALEX, surname="Other", year_group="7", fsm_periods=fsm)))).json()
    assert counts(changed) == (0, 1, 0, 0, 0)
    events = await enrolment_events(api)
    assert [e["aggregate_version"] for e in events] == [1, 2]
    assert events[1]["year_group"] == "7" and len(events[1]["characteristics"]["fsm_periods"]) == 2


async def test_bad_lines_are_rejected_one_by_one_and_good_ones_kept(api: Api) -> None:
    body = ndjson(
        pupil(ALEX),
        pupil("H886200024002"),  # wrong check letter
        pupil(upn("886200024005"), sen_provision="Z"),
        pupil(upn("886200024013"), on_roll_until="2019-01-01"),
        pupil(upn("886200024021"), fsm_periods=[{"start": "2024-01-01", "end": "2023-01-01"}]),
        pupil(upn("886200024039"), on_roll_from="2099-09-01"),
        pupil(upn("886200024047"), favourite_colour="blue"),
        pupil(ALEX, forename="Twin"),
        "not json",
        {"upn": upn("886200024055")},
    )
    response = await send(api, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert counts(result) == (1, 0, 0, 9, 0)
    reasons = {r["line"]: r["reason"] for r in result["rejections"]}
    assert "check letter" in reasons[2]
    assert "sen_provision" in reasons[3]
    assert "on_roll_until cannot be before on_roll_from" in reasons[4]
    assert "FSM period cannot end before it starts" in reasons[5]
    assert "future" in reasons[6]
    assert "favourite_colour" in reasons[7]
    assert "twice" in reasons[8]
    assert "surname" in reasons[10] and "date_of_birth" in reasons[10]
    assert len(await enrolment_events(api)) == 1


async def test_an_import_never_removes_a_pupil_but_counts_those_it_did_not_mention(api: Api) -> None:
    await send(api, ndjson(pupil(ALEX), pupil(upn("886200024005"))))
    result = (await send(api, ndjson(pupil(ALEX)))).json()
    assert counts(result) == (0, 0, 1, 0, 1)
    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        on_roll = await conn.scalar(
            select(func.count())
            .select_from(roll)
            .where(roll.c.school_urn == "118000", roll.c.left_on.is_(None))
        )
    assert on_roll == 2


async def test_scoping_content_type_unknown_school_and_audit(api: Api) -> None:
    other = await api.client.post(
        "/roll/schools/118001/pupils",
        content=ndjson(pupil(SAM)),
        headers={**NDJSON, **api.token(Role.SCHOOL, urns=("118000",))},
    )
    assert other.status_code == 403 and other.headers["content-type"] == "application/problem+json"
    wrong_type = await send(api, ndjson(pupil(ALEX)), **{"content-type": "application/json"})
    assert wrong_type.status_code == 415
    unknown = await api.client.post(
        "/roll/schools/999999/pupils",
        content=ndjson(pupil(ALEX)),
        headers={**NDJSON, **api.token(Role.ADMIN)},
    )
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("unknown-school")
    assert await enrolment_events(api) == []
    result = (await send(api, ndjson(pupil(ALEX)))).json()
    log = tables.audit_log
    async with api.kernel.engine.connect() as conn:  # type: ignore[attr-defined]
        audited = (
            await conn.execute(
                select(log.c.child_ref, log.c.action).where(log.c.resource_id == result["import_id"])
            )
        ).all()
    (event,) = await enrolment_events(api)
    assert [(r.child_ref, r.action) for r in audited] == [(event["child_ref"], "update")]
