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
    kind: EnquiryKind
    made_on: date
    made_by: str = Field(
        min_length=1, max_length=200, description="Who made the enquiry (officer or agency)."
    )
    result: EnquiryResult
    notes: str | None = Field(default=None, max_length=4000)


class LocateIn(Strict):
    located_on: date
    notes: str | None = Field(default=None, max_length=4000)


class ReviewIn(Strict):
    reviewed_on: date
    notes: str | None = Field(default=None, max_length=4000)


class PlacementIn(Strict):
    school_urn: URN
    school_name: str | None = Field(default=None, max_length=200)
    la_code: str | None = Field(default=None, pattern=r"^[0-9]{3}$")
    district: str | None = Field(default=None, max_length=100)
    placed_on: date = Field(description="The pupil's starting day at the school.")


class CloseIn(Strict):
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
    on: date
    notes: str | None = Field(default=None, max_length=4000)


class EheEndIn(Strict):
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
