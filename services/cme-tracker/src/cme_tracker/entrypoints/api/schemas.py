"""Request and response bodies of cme-tracker's API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cme_tracker.domain.model import EnquiryKind, EnquiryResult, Outcome
from inclusion_kit.pupils import URN


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EnquiryIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "school",
                    "made_on": "2025-11-11",
                    "made_by": "Example Primary School (attendance lead)",
                    "result": "no_information",
                    "notes": "Not seen since 17 October; no contact from the family since half-term.",
                },
                {
                    "kind": "health",
                    "made_on": "2025-11-12",
                    "made_by": "School nursing team, Maidstone",
                    "result": "information_found",
                    "notes": "Registered with a GP practice in Medway since 20 October.",
                },
            ]
        }
    )

    kind: EnquiryKind
    made_on: date
    made_by: str = Field(
        min_length=1, max_length=200, description="Who made the enquiry (officer or agency)."
    )
    result: EnquiryResult
    notes: str | None = Field(default=None, max_length=4000)


class LocateIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "located_on": "2025-11-14",
                    "notes": "Living with an aunt in Medway; Medway's CME team told the same day.",
                }
            ]
        }
    )

    located_on: date
    notes: str | None = Field(default=None, max_length=4000)


class ReviewIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reviewed_on": "2025-12-10",
                    "notes": "Housing and police enquiries outstanding; next review in a month.",
                }
            ]
        }
    )

    reviewed_on: date
    notes: str | None = Field(default=None, max_length=4000)


class PlacementIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "school_urn": "118001",
                    "school_name": "Example High School",
                    "la_code": "886",
                    "district": "Dover",
                    "placed_on": "2025-12-01",
                }
            ]
        }
    )

    school_urn: URN
    school_name: str | None = Field(default=None, max_length=200)
    la_code: str | None = Field(default=None, pattern=r"^[0-9]{3}$")
    district: str | None = Field(default=None, max_length=100)
    placed_on: date = Field(description="The pupil's starting day at the school.")


class CloseIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "outcome": "moved_to_other_la",
                    "closed_on": "2025-11-14",
                    "other_la_code": "887",
                    "notes": "Living in Medway; Medway's CME team confirmed they hold the case.",
                },
                {
                    "outcome": "moved_abroad",
                    "closed_on": "2025-11-20",
                    "notes": "The family confirmed in writing that they moved to Poland on 3 November.",
                },
            ]
        }
    )

    outcome: Literal[
        "moved_to_other_la",
        "moved_abroad",
        "electively_home_educated",
        "other_suitable_provision",
        "deceased",
        "not_found_lost_pupils",
        "duplicate",
    ]
    closed_on: date
    other_la_code: str | None = Field(
        default=None, pattern=r"^[0-9]{3}$", description="With moved_to_other_la."
    )
    duplicate_of: str | None = Field(default=None, min_length=1, max_length=64, description="With duplicate.")
    notes: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _complete(self) -> CloseIn:
        if self.outcome == "moved_to_other_la" and not self.other_la_code:
            raise ValueError("moved_to_other_la gives the other LA's code (other_la_code)")
        if self.outcome == "duplicate" and not self.duplicate_of:
            raise ValueError("duplicate names the case it duplicates (duplicate_of)")
        return self

    @property
    def outcome_value(self) -> Outcome:
        return Outcome(self.outcome)


class EheActionIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"on": "2025-11-17", "notes": "Spoke to the parent by phone; a written plan is to follow."}
            ]
        }
    )

    on: date
    notes: str | None = Field(default=None, max_length=4000)


class EheEndIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"on": "2025-12-01", "reason": "Returned to school: on the roll of Example High School"}
            ]
        }
    )

    on: date
    reason: str = Field(min_length=1, max_length=200)


class EnquiryOut(BaseModel):
    id: str
    kind: str
    made_on: date
    made_by: str
    result: str
    notes: str | None
    recorded_at: datetime
    recorded_by: str


class CaseOut(BaseModel):
    id: str
    child_ref: str
    status: str
    child: dict[str, Any]
    upn: str | None
    school: dict[str, Any] | None
    district: str | None
    source: str
    source_id: str
    opened_on: date
    next_review_due: date | None = Field(description="Null once the case has ended.")
    review_overdue: bool
    last_reviewed_on: date | None
    located_on: date | None
    days_to_located: int | None
    school_days_to_located: int | None
    located_within_target: bool | None
    placed_on: date | None
    placed_school: dict[str, Any] | None
    days_to_placed: int | None
    school_days_to_placed: int | None
    placed_within_target: bool | None
    closed_on: date | None
    outcome: str | None
    other_la_code: str | None
    duplicate_of: str | None
    updated_at: datetime
    enquiries: list[EnquiryOut] | None = Field(default=None, description="On the single-case read only.")
    checklist_missing: list[str] | None = Field(default=None, description="Enquiries not yet tried.")


class HistoryOut(BaseModel):
    at: datetime
    action: str
    actor: str
    details: dict[str, Any]


class CaseHistoryOut(BaseModel):
    case_id: str
    child_ref: str
    entries: list[HistoryOut]


class EheOut(BaseModel):
    id: str
    child_ref: str
    status: str
    child: dict[str, Any]
    upn: str | None
    source: str
    source_id: str
    registered_on: date
    parent_notice_received_on: date | None
    school: dict[str, Any] | None
    district: str | None
    first_contact_due: date
    first_contact_on: date | None
    visit_offer_due: date
    visit_offered_on: date | None
    next_review_due: date
    last_reviewed_on: date | None
    ended_on: date | None
    end_reason: str | None
    overdue: list[str]
    updated_at: datetime


class FlaggedDeletionOut(BaseModel):
    id: str
    child_ref: str
    school: dict[str, Any]
    district: str | None
    ground: str
    ground_met_on: date
    deleted_on: date | None
    received_on: date
    academic_year: str
    year_group: int | None
    evidence_gaps: list[str]
    updated_at: datetime


class SchoolFlagOut(BaseModel):
    school_urn: str
    school_name: str | None
    district: str | None
    removals: int
    cohort: int | None
    rate: float | None
    times_county: float
    basis: str


class UnusualSchoolsOut(BaseModel):
    academic_year: str
    census_day: date
    county_rate: float | None = Field(description="Year 10-11 removals per pupil known on roll, county-wide.")
    county_mean_removals: float | None
    ratio_flagged: float
    min_removals: int
    schools: list[SchoolFlagOut]
