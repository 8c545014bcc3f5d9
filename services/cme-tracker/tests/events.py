"""Public events other services publish, built the way they build them (for cme-tracker's tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from inclusion_kit.contracts import Envelope, IntegrationEvent
from inclusion_kit.contracts.events import referrals, roll
from inclusion_kit.messaging.dispatch import Delivery

PRIMARY = {
    "urn": "118000",
    "laestab": "8862000",
    "la_code": "886",
    "name": "Example Primary School",
    "phase": "primary",
    "district": "Maidstone",
}
HIGH = {
    "urn": "118001",
    "laestab": "8864000",
    "la_code": "886",
    "name": "Example High School",
    "phase": "secondary",
    "district": "Dover",
}
ALEX = {
    "upn": "H886200024001",
    "forename": "Alex",
    "surname": "Example",
    "date_of_birth": "2014-03-02",
    "address": {"line1": "1 Example Street", "town": "Maidstone"},
}
SAM = {
    "upn": "K886400023012",
    "forename": "Sam",
    "surname": "Example",
    "date_of_birth": "2010-05-04",
    "address": {"line1": "3 Example Lane", "town": "Dover"},
}
RECEIVED = datetime(2025, 11, 10, 10, 0, tzinfo=UTC)


def cme_referral(
    child_ref: str = "c-alex",
    *,
    referral_id: str = "r-1",
    child: dict[str, Any] | None = None,
    school: dict[str, Any] | None = None,
    at: datetime = RECEIVED,
    kind: str = "child_missing_education",
) -> referrals.ReferralReceived:
    school = PRIMARY if school is None else school
    extra: dict[str, Any] = (
        {"missing_education": {"last_attended_on": "2025-10-17"}}
        if kind == "child_missing_education"
        else {"home_education": {"parent_notice_received_on": "2025-11-03"}}
        if kind == "elective_home_education"
        else {}
    )
    return referrals.ReferralReceived.model_validate(
        {
            "child_ref": child_ref,
            "aggregate_id": referral_id,
            "aggregate_version": 1,
            "occurred_at": at,
            "referral_id": referral_id,
            "kind": kind,
            "child": child or ALEX,
            "referrer": {"kind": "school", "school": school},
            "school": school,
            "received_at": at,
            "response_due": "2025-11-24",
            **extra,
        }
    )


def deletion(
    child_ref: str = "c-sam",
    *,
    ground: str = "9(1)(i)",
    roll_change_id: str = "rc-1",
    child: dict[str, Any] | None = None,
    school: dict[str, Any] | None = None,
    at: datetime = RECEIVED,
    education_unknown: bool | None = None,
    ground_met_on: str = "2025-11-07",
    deleted_on: str | None = None,
    **extra: Any,
) -> roll.PupilRemovedFromRoll:
    return roll.PupilRemovedFromRoll.model_validate(
        {
            "child_ref": child_ref,
            "aggregate_id": roll_change_id,
            "aggregate_version": 1,
            "occurred_at": at,
            "roll_change_id": roll_change_id,
            "school": school or HIGH,
            "child": child or SAM,
            "ground": ground,
            "ground_met_on": ground_met_on,
            "deleted_on": deleted_on,
            "parents": [{"name": "Jo Example", "emergency_phone": "07700 900123"}],
            "education_unknown": ground in ("9(1)(h)", "9(1)(i)")
            if education_unknown is None
            else education_unknown,
            "received_at": at,
            **extra,
        }
    )


def admission(
    child_ref: str = "c-alex",
    *,
    roll_change_id: str = "rc-9",
    child: dict[str, Any] | None = None,
    school: dict[str, Any] | None = None,
    starting_day: date = date(2025, 11, 24),
    at: datetime = datetime(2025, 11, 25, 9, 0, tzinfo=UTC),
) -> roll.PupilAddedToRoll:
    return roll.PupilAddedToRoll.model_validate(
        {
            "child_ref": child_ref,
            "aggregate_id": roll_change_id,
            "aggregate_version": 1,
            "occurred_at": at,
            "roll_change_id": roll_change_id,
            "school": school or HIGH,
            "child": child or ALEX,
            "starting_day": starting_day,
            "entered_on": starting_day,
            "return_due_by": starting_day,
            "returned_late": False,
            "received_at": at,
        }
    )


def enrolment(
    child_ref: str,
    upn: str,
    *,
    school: dict[str, Any] | None = None,
    year_group: str = "10",
    version: int = 1,
) -> roll.PupilEnrolmentRecorded:
    school = school or HIGH
    return roll.PupilEnrolmentRecorded.model_validate(
        {
            "child_ref": child_ref,
            "aggregate_id": f"{school['urn']}/{child_ref}",
            "aggregate_version": version,
            "occurred_at": RECEIVED,
            "school": school,
            "upn": upn,
            "year_group": year_group,
            "on_roll_from": "2021-09-02",
        }
    )


def delivery(event: IntegrationEvent, event_id: str | None = None) -> Delivery:
    return Delivery(
        Envelope.wrap(event, source="inclusion/referral-api", event_id=event_id or str(uuid.uuid4()))
    )
