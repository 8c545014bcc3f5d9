"""Request and response bodies of referral-api's API.

Referral bodies are a discriminated union on ``kind``: each kind validates its own fields.
DfE identifiers (UPN with its check letter, URN) are validated at the edge.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from inclusion_kit.contracts.events.common import AgencyType
from inclusion_kit.pupils import UPN, URN


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(Strict):
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    town: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=10)


class ChildIn(Strict):
    """The child: by UPN where known; name and date of birth always; address when no UPN."""

    upn: UPN | None = None
    forename: str = Field(min_length=1, max_length=100)
    surname: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    sex: Literal["M", "F", "U"] | None = None
    address: AddressIn | None = None

    @model_validator(mode="after")
    def _identifiable(self) -> ChildIn:
        if self.upn is None and self.address is None:
            raise ValueError(
                "without a UPN the child is identified by name, date of birth and address: give the address"
            )
        return self


class ReferrerIn(Strict):
    """A school by URN (schools act only for their own URNs), or an agency by type and name."""

    school_urn: URN | None = None
    agency_type: AgencyType | None = None
    agency_name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_kind(self) -> ReferrerIn:
        if (self.school_urn is None) == (self.agency_type is None):
            raise ValueError("give either school_urn (a school) or agency_type and agency_name (an agency)")
        if self.agency_type is not None and not self.agency_name:
            raise ValueError("an agency referral names the agency (agency_name)")
        return self


class _ReferralBase(Strict):
    child: ChildIn
    referrer: ReferrerIn
    school_urn: URN | None = Field(default=None, description="The child's school, where known.")
    summary: str | None = Field(default=None, max_length=4000)


class MissingEducationIn(Strict):
    last_attended_on: date | None = None
    last_contact_on: date | None = None
    possible_whereabouts: str | None = Field(default=None, max_length=1000)


class HomeEducationIn(Strict):
    parent_notice_received_on: date
    intended_start_on: date | None = None


class AttendanceConcernIn(Strict):
    attendance_percent: float | None = Field(default=None, ge=0, le=100)
    unauthorised_sessions: int | None = Field(default=None, ge=0)
    support_already_given: bool | None = None


class AttendanceConcernReferral(_ReferralBase):
    kind: Literal["attendance_concern"]
    attendance_concern: AttendanceConcernIn = Field(default_factory=AttendanceConcernIn)


class MissingEducationReferral(_ReferralBase):
    kind: Literal["child_missing_education"]
    missing_education: MissingEducationIn


class HomeEducationReferral(_ReferralBase):
    kind: Literal["elective_home_education"]
    home_education: HomeEducationIn


class EarlyHelpReferral(_ReferralBase):
    kind: Literal["early_help"]
    summary: str = Field(min_length=1, max_length=4000)


class OtherAgencyConcernReferral(_ReferralBase):
    kind: Literal["other_agency_concern"]
    summary: str = Field(min_length=1, max_length=4000)


ReferralIn = Annotated[
    AttendanceConcernReferral
    | MissingEducationReferral
    | HomeEducationReferral
    | EarlyHelpReferral
    | OtherAgencyConcernReferral,
    Field(discriminator="kind"),
]


class TriageIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"decision": "accepted"},
                {"decision": "redirected", "redirected_to": "Early Help Unit (Dover)"},
                {"decision": "closed", "reason": "The child was found on the roll of a school in Medway."},
            ]
        }
    )

    decision: Literal["accepted", "redirected", "closed"]
    redirected_to: str | None = Field(default=None, max_length=200, description="The named service.")
    reason: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _complete(self) -> TriageIn:
        if self.decision == "redirected" and not self.redirected_to:
            raise ValueError("a redirect names the service it goes to (redirected_to)")
        if self.decision == "closed" and not self.reason:
            raise ValueError("closing a referral needs a reason")
        return self


class ReferralOut(BaseModel):
    id: str
    child_ref: str
    kind: str
    status: str
    child: ChildIn
    referrer: ReferrerIn
    school_urn: str | None
    summary: str | None
    details: dict[str, object]
    received_at: datetime
    response_due: date
    overdue: bool
    decision_reason: str | None
    redirected_to: str | None
    decided_at: datetime | None
    updated_at: datetime


_CHILD_EXAMPLE = {
    "upn": "H886200024001",
    "forename": "Alex",
    "surname": "Example",
    "date_of_birth": "2014-03-02",
    "address": {"line1": "1 Example Road", "town": "Maidstone", "postcode": "ME14 1AA"},
}
_SCHOOL = {"school_urn": "118000"}

#: Named request examples for POST /referrals, one per kind (OpenAPI ``examples``).
REFERRAL_EXAMPLES: dict[str, dict[str, Any]] = {
    "child_missing_education": {
        "summary": "A school reports a child missing education",
        "value": {
            "kind": "child_missing_education",
            "child": _CHILD_EXAMPLE,
            "referrer": _SCHOOL,
            "school_urn": "118000",
            "summary": "Not seen since 22 September; phone disconnected.",
            "missing_education": {
                "last_attended_on": "2025-09-22",
                "last_contact_on": "2025-09-24",
                "possible_whereabouts": "Family may have moved to Leeds",
            },
        },
    },
    "elective_home_education": {
        "summary": "A school passes on a parent's notice of home education",
        "value": {
            "kind": "elective_home_education",
            "child": _CHILD_EXAMPLE,
            "referrer": _SCHOOL,
            "school_urn": "118000",
            "home_education": {"parent_notice_received_on": "2025-10-01", "intended_start_on": "2025-10-13"},
        },
    },
    "attendance_concern": {
        "summary": "A school's attendance concern",
        "value": {
            "kind": "attendance_concern",
            "child": _CHILD_EXAMPLE,
            "referrer": _SCHOOL,
            "school_urn": "118000",
            "attendance_concern": {
                "attendance_percent": 81.5,
                "unauthorised_sessions": 9,
                "support_already_given": True,
            },
        },
    },
    "early_help": {
        "summary": "An early help request from an agency",
        "value": {
            "kind": "early_help",
            "child": _CHILD_EXAMPLE,
            "referrer": {"agency_type": "health", "agency_name": "Maidstone school nursing team"},
            "summary": "Family asking for support with a younger sibling's needs and mornings.",
        },
    },
    "other_agency_concern": {
        "summary": "Another agency's concern, child without a UPN",
        "value": {
            "kind": "other_agency_concern",
            "child": {k: v for k, v in _CHILD_EXAMPLE.items() if k != "upn"},
            "referrer": {"agency_type": "police", "agency_name": "Kent Police, Maidstone"},
            "summary": "Child seen during school hours on several weekdays.",
        },
    },
}
