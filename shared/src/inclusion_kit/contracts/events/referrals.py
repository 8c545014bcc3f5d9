"""Referrals through the Digital Front Door (topic ``inclusion.referrals``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from inclusion_kit.contracts.base import IntegrationEvent, TolerantEnum, x_pii
from inclusion_kit.contracts.events.common import ChildIdentity, Referrer, SchoolRef


class ReferralKind(TolerantEnum):
    ATTENDANCE_CONCERN = "attendance_concern"
    CHILD_MISSING_EDUCATION = "child_missing_education"
    ELECTIVE_HOME_EDUCATION = "elective_home_education"
    EARLY_HELP = "early_help"
    OTHER_AGENCY_CONCERN = "other_agency_concern"
    UNKNOWN = "unknown"


class TriageDecision(TolerantEnum):
    ACCEPTED = "accepted"
    REDIRECTED = "redirected"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class MissingEducationDetails(BaseModel):
    """What a subscriber needs to start looking for a child whose whereabouts are unknown."""

    model_config = ConfigDict(frozen=True)

    last_attended_on: date | None = None
    last_contact_on: date | None = None
    possible_whereabouts: str | None = Field(default=None, **x_pii("Free text: where the child may be."))


class HomeEducationDetails(BaseModel):
    model_config = ConfigDict(frozen=True)

    parent_notice_received_on: date = Field(description="Date of the parent's written notice (reg 9(1)(f)).")
    intended_start_on: date | None = None


class AttendanceConcernDetails(BaseModel):
    model_config = ConfigDict(frozen=True)

    attendance_percent: float | None = Field(
        default=None, ge=0, le=100, description="Year to date, if given."
    )
    unauthorised_sessions: int | None = Field(
        default=None, ge=0, description="In the current rolling window."
    )
    support_already_given: bool | None = None


class ReferralReceived(IntegrationEvent):
    """A school or agency referred a child to the local authority through the front door.

    Carries the child's identity (personal data) because the services that act on a referral
    (CME, Early Help, enforcement) must find the child; ``response_due`` is the 10-school-day
    target for the authority's answer.
    """

    event_type: ClassVar[str] = "inclusion.referrals.referral.received.v1"

    referral_id: str
    kind: ReferralKind
    child: ChildIdentity
    referrer: Referrer
    school: SchoolRef | None = Field(default=None, description="The child's school, where known.")
    summary: str | None = Field(default=None, **x_pii("The referrer's account, free text."))
    received_at: datetime
    response_due: date
    missing_education: MissingEducationDetails | None = None
    home_education: HomeEducationDetails | None = None
    attendance_concern: AttendanceConcernDetails | None = None

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "r-7d1c2b3a4f5e6d7c",
        "aggregate_version": 1,
        "occurred_at": datetime(2025, 10, 6, 9, 30, tzinfo=UTC),
        "referral_id": "r-7d1c2b3a4f5e6d7c",
        "kind": "child_missing_education",
        "child": {
            "upn": "H886200024001",
            "forename": "Alex",
            "surname": "Example",
            "date_of_birth": "2014-03-02",
            "sex": "U",
            "address": {"line1": "1 Example Street", "town": "Maidstone", "postcode": "ME14 1XX"},
        },
        "referrer": {
            "kind": "school",
            "school": {
                "urn": "118000",
                "laestab": "8862000",
                "la_code": "886",
                "name": "Example Primary School",
                "phase": "primary",
                "district": "Maidstone",
            },
        },
        "school": {
            "urn": "118000",
            "laestab": "8862000",
            "la_code": "886",
            "name": "Example Primary School",
            "phase": "primary",
            "district": "Maidstone",
        },
        "summary": "Not seen since the half-term break; family not answering.",
        "received_at": datetime(2025, 10, 6, 9, 30, tzinfo=UTC),
        "response_due": "2025-10-20",
        "missing_education": {"last_attended_on": "2025-09-26", "last_contact_on": "2025-09-29"},
    }


class ReferralTriaged(IntegrationEvent):
    """An officer decided what happens to a referral: accepted, redirected to a named service,
    or closed with a reason. Carries no personal data."""

    event_type: ClassVar[str] = "inclusion.referrals.referral.triaged.v1"

    referral_id: str
    kind: ReferralKind
    decision: TriageDecision
    redirected_to: str | None = Field(default=None, description="The named service, when redirected.")
    reason: str | None = Field(default=None, description="Why, in the officer's words (no personal data).")
    decided_at: datetime
    responded_within_target: bool = Field(description="Decided on or before the response-due date.")
    school: SchoolRef | None = None

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "r-7d1c2b3a4f5e6d7c",
        "aggregate_version": 2,
        "occurred_at": datetime(2025, 10, 8, 14, 0, tzinfo=UTC),
        "referral_id": "r-7d1c2b3a4f5e6d7c",
        "kind": "child_missing_education",
        "decision": "accepted",
        "decided_at": datetime(2025, 10, 8, 14, 0, tzinfo=UTC),
        "responded_within_target": True,
        "school": {"urn": "118000", "phase": "primary", "district": "Maidstone"},
    }


class ReferralClosed(IntegrationEvent):
    """A referral's work at the front door ended (closed at triage, or withdrawn by its sender)."""

    event_type: ClassVar[str] = "inclusion.referrals.referral.closed.v1"

    referral_id: str
    kind: ReferralKind
    reason: str = Field(description="Why it was closed (no personal data).")
    closed_at: datetime

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "r-7d1c2b3a4f5e6d7c",
        "aggregate_version": 3,
        "occurred_at": datetime(2025, 10, 8, 14, 0, tzinfo=UTC),
        "referral_id": "r-7d1c2b3a4f5e6d7c",
        "kind": "other_agency_concern",
        "reason": "Duplicate of an open referral",
        "closed_at": datetime(2025, 10, 8, 14, 0, tzinfo=UTC),
    }
