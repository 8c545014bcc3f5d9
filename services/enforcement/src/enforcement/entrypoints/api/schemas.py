"""Request and response bodies of enforcement's API.

DfE identifiers (UPN with its check letter, URN) are validated at the edge; amounts are pence.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from inclusion_kit.pupils import UPN, URN


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(Strict):
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    town: str | None = Field(default=None, max_length=100)
    postcode: str = Field(min_length=5, max_length=10)


class ParentIn(Strict):
    """A liable parent: where the notice will be served."""

    forename: str = Field(min_length=1, max_length=100)
    surname: str = Field(min_length=1, max_length=100)
    relationship: Literal["mother", "father", "carer", "other"] | None = None
    address: AddressIn


class EvidenceIn(Strict):
    summary: str | None = Field(default=None, max_length=4000)
    documents: list[str] = Field(default_factory=list, max_length=20, description="Document references.")


class PenaltyRequestIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "school_urn": "118000",
                    "upn": "H886200024001",
                    "offence_type": "irregular_attendance",
                    "period_start": "2025-09-08",
                    "period_end": "2025-11-21",
                    "parents": [
                        {
                            "forename": "Jo",
                            "surname": "Example",
                            "relationship": "mother",
                            "address": {
                                "line1": "1 Example Street",
                                "town": "Maidstone",
                                "postcode": "ME14 1AA",
                            },
                        }
                    ],
                    "notice_to_improve_issued_on": "2025-10-13",
                    "evidence": {
                        "summary": "10 unauthorised sessions (O) in the week of 17 November, after the "
                        "notice to improve of 13 October and an attendance meeting on 9 October.",
                        "documents": ["letter-2025-09-22", "meeting-2025-10-09", "nti-2025-10-13"],
                    },
                },
                {
                    "school_urn": "118001",
                    "upn": "K886400023012",
                    "offence_type": "leave_in_term_time",
                    "period_start": "2025-10-13",
                    "period_end": "2025-10-24",
                    "parents": [
                        {
                            "forename": "Jamie",
                            "surname": "Example",
                            "relationship": "mother",
                            "address": {"line1": "3 Example Lane", "town": "Dover", "postcode": "CT16 1AA"},
                        },
                        {
                            "forename": "Chris",
                            "surname": "Example",
                            "relationship": "father",
                            "address": {"line1": "3 Example Lane", "town": "Dover", "postcode": "CT16 1AA"},
                        },
                    ],
                    "evidence": {
                        "summary": "Leave requested on 15 September and refused on 17 September; the pupil "
                        "was away for the two weeks before half-term (20 sessions of G).",
                        "documents": ["leave-request-2025-09-15", "refusal-2025-09-17"],
                    },
                },
            ]
        }
    )

    school_urn: URN
    upn: UPN
    offence_type: Literal["irregular_attendance", "leave_in_term_time"]
    period_start: date
    period_end: date
    parents: list[ParentIn] = Field(min_length=1, max_length=4)
    notice_to_improve_issued_on: date | None = None
    aggravating_factors: list[Literal["exam_period", "statutory_assessment_period"]] = Field(
        default_factory=list, max_length=5
    )
    evidence: EvidenceIn = Field(default_factory=EvidenceIn)

    @model_validator(mode="after")
    def _period(self) -> PenaltyRequestIn:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        if (self.period_end - self.period_start).days > 366:
            raise ValueError("a request covers at most a year")
        return self


class DecisionIn(Strict):
    """Decide a request: the code of conduct's rules are applied; an officer may still decline with
    a reason (officer discretion)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"decline": False, "offence_section": "s444(1)"},
                {
                    "decline": True,
                    "reason": "The family has engaged with the school's support plan since the notice to "
                    "improve; the school will review attendance again at February half-term.",
                },
            ]
        }
    )

    decline: bool = False
    reason: str | None = Field(default=None, max_length=2000)
    offence_section: Literal["s444(1)", "s444(1A)"] = "s444(1)"

    @model_validator(mode="after")
    def _reason(self) -> DecisionIn:
        if self.decline and not self.reason:
            raise ValueError("declining needs a reason")
        return self


class IssueIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"parent_ref": "p-3f9c2a71d04b8e65", "service_method": "post"},
                {"parent_ref": "p-3f9c2a71d04b8e65", "service_method": "hand", "served_on": "2025-11-24"},
            ]
        }
    )

    parent_ref: str = Field(min_length=1, max_length=64)
    service_method: Literal["hand", "post"]
    served_on: date | None = Field(default=None, description="Default: today (the day of issue).")


class PaymentIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"paid_on": "2025-12-01", "amount_pence": 8000}]}
    )

    paid_on: date
    amount_pence: int = Field(ge=1, le=1_000_000)


class WithdrawalIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ground": "issued_to_wrong_person",
                    "note": "Served on the pupil's grandmother, who does not have parental responsibility.",
                    "withdrawn_on": "2025-12-01",
                }
            ]
        }
    )

    ground: Literal[
        "issued_in_error",
        "issued_to_wrong_person",
        "contrary_to_code_of_conduct",
        "unpaid_not_prosecuted",
        "other",
    ]
    note: str | None = Field(default=None, max_length=2000)
    withdrawn_on: date | None = None

    @model_validator(mode="after")
    def _note(self) -> WithdrawalIn:
        if self.ground == "other" and not self.note:
            raise ValueError("the ground 'other' needs a note")
        return self


class InformationIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"laid_on": "2026-01-20", "hearing_on": "2026-02-17"}]}
    )

    laid_on: date
    hearing_on: date | None = None


class OutcomeIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "outcome": "convicted",
                    "concluded_on": "2026-02-17",
                    "fine_pence": 22000,
                    "costs_pence": 15000,
                    "orders": ["parenting_order"],
                }
            ]
        }
    )

    outcome: Literal["convicted", "not_guilty", "dismissed", "withdrawn", "not_pursued"]
    concluded_on: date
    fine_pence: int | None = Field(default=None, ge=0, le=10_000_000)
    costs_pence: int | None = Field(default=None, ge=0, le=10_000_000)
    orders: list[
        Literal["parenting_order", "community_order", "conditional_discharge", "absolute_discharge"]
    ] = Field(default_factory=list, max_length=4)


class ParentOut(BaseModel):
    parent_ref: str
    forename: str
    surname: str
    relationship: str | None
    address: dict[str, str | None] | None
    outcome: str
    rule: str | None
    reason: str | None
    sequence: int | None
    issue_due_by: date | None
    notice_id: str | None


class RuleOut(BaseModel):
    rule: str
    met: bool
    detail: str


class SegmentOut(BaseModel):
    code_of_conduct: str | None
    start: date
    end: date
    met: bool
    rules: list[RuleOut]


class DecisionOut(BaseModel):
    decided_at: datetime
    eligible: bool
    code_of_conduct: str | None
    rule: str | None
    reason: str
    segments: list[SegmentOut]
    last_offence_date: date | None
    offence_section: str


class PenaltyRequestOut(BaseModel):
    id: str
    child_ref: str
    school_urn: str
    upn: str
    offence_type: str
    period_start: date
    period_end: date
    parents: list[ParentOut]
    notice_to_improve_issued_on: date | None
    aggravating_factors: list[str]
    evidence: dict[str, object]
    status: str
    decision: DecisionOut | None
    requested_at: datetime
    updated_at: datetime


class ParentTermsOut(BaseModel):
    parent_ref: str
    eligible: bool
    sequence: int | None = None
    full_amount_pence: int | None = None
    reduced_amount_pence: int | None = None
    rule: str | None = None
    detail: str | None = None


class AssessmentOut(BaseModel):
    request_id: str
    eligible: bool
    segments: list[SegmentOut]
    code_of_conduct_at_issue: str
    parents: list[ParentTermsOut]


class NoticeOut(BaseModel):
    id: str
    number: str
    request_id: str
    child_ref: str
    school_urn: str
    parent_ref: str
    code_of_conduct: str
    sequence: int
    offence_type: str
    issued_on: date
    issue_due_by: date | None
    issued_within_target: bool
    service_method: str
    served_on: date
    received_on: date
    reduced_amount_pence: int | None
    reduced_due_by: date | None
    full_amount_pence: int
    full_due_by: date
    amount_due_today_pence: int | None
    status: str
    paid_on: date | None
    paid_pence: int | None
    payment_rate: str | None
    withdrawn_on: date | None
    withdrawal_ground: str | None
    prosecution_case_id: str | None
    updated_at: datetime


class CaseOut(BaseModel):
    id: str
    notice_id: str | None
    child_ref: str
    school_urn: str
    parent_ref: str
    offence_section: str
    last_offence_date: date
    time_limit: date
    days_to_time_limit: int
    started_on: date
    status: str
    laid_on: date | None
    hearing_on: date | None
    outcome: str | None
    concluded_on: date | None
    fine_pence: int | None
    costs_pence: int | None
    orders: list[str]
    updated_at: datetime


class SweepOut(BaseModel):
    cases_opened: int


class CountsOut(BaseModel):
    possible: int
    present: int
    approved_activity: int
    authorised: int
    unauthorised: int
    penalty_threshold_sessions: int = Field(description="G, N, O and U sessions.")
    attendance_percent: float | None
    absence_percent: float | None


class TermOut(CountsOut):
    term: str


class WeekOut(CountsOut):
    week_start: date
    term: str


class PositionOut(BaseModel):
    id: str
    child_ref: str
    school_urn: str
    upn: str | None
    academic_year: str
    as_at: date
    year: CountsOut
    persistent_absence: bool
    severe_absence: bool
    terms: list[TermOut] = Field(default_factory=list)
    weeks: list[WeekOut] = Field(default_factory=list)
    updated_at: datetime
