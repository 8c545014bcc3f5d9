"""Request and response bodies of exclusions's API.

MIS conventions as in referral-api: DfE identifiers (UPN with its check letter, URN) are validated
at the edge; dates are ISO 8601; a time carries its offset. Field errors come back as RFC 9457
problems with a JSON pointer per field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from inclusion_kit.pupils import UPN, URN

ReasonCode = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="School census reason code.")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _not_before(value: date | None, info: ValidationInfo, other: str, message: str) -> date | None:
    start = info.data.get(other)
    if value is not None and isinstance(start, date) and value < start:
        raise ValueError(message)
    return value


_PUPIL_FLAGS = {
    "ehc_plan": False,
    "looked_after": False,
    "child_in_need": False,
    "child_protection_plan": False,
}


class ExclusionIn(Strict):
    """A suspension (length in days, in steps of half a day, or in sessions), a lunchtime
    suspension (a number of consecutive lunchtimes, half a day each) or a permanent exclusion."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "school_urn": "118001",
                    "upn": "K886400023012",
                    "kind": "suspension",
                    "start_date": "2025-10-07",
                    "start_session": "AM",
                    "length_days": 3,
                    "end_date": "2025-10-09",
                    "reason_codes": ["VA"],
                    "sen_provision": "K",
                    "fsm_eligible": True,
                    **_PUPIL_FLAGS,
                    "parents_notified_at": "2025-10-06T15:45:00+01:00",
                    "school_reference": "EXC-2025-0142",
                },
                {
                    "school_urn": "118000",
                    "upn": "H886200024001",
                    "kind": "lunchtime",
                    "start_date": "2025-11-10",
                    "lunchtimes": 5,
                    "reason_codes": ["DB"],
                    "sen_provision": "N",
                    "fsm_eligible": False,
                    **_PUPIL_FLAGS,
                    "parents_notified_at": "2025-11-07T15:20:00+00:00",
                },
                {
                    "school_urn": "118001",
                    "upn": "K886400023012",
                    "kind": "permanent",
                    "start_date": "2025-11-17",
                    "reason_codes": ["PA", "OW"],
                    "sen_provision": "K",
                    "fsm_eligible": True,
                    **_PUPIL_FLAGS,
                    "parents_notified_at": "2025-11-14T16:10:00+00:00",
                    "misses_public_exam": False,
                    "school_reference": "EXC-2025-0187",
                },
            ]
        }
    )

    school_urn: URN
    upn: UPN
    kind: Literal["suspension", "lunchtime", "permanent"]
    start_date: date
    start_session: Literal["AM", "PM"] = "AM"
    length_days: float | None = Field(default=None, gt=0, le=45, multiple_of=0.5)
    length_sessions: int | None = Field(default=None, ge=1, le=90)
    lunchtimes: int | None = Field(default=None, ge=1, le=90)
    end_date: date | None = Field(default=None, description="Last day; checked against the length.")
    reason_codes: list[ReasonCode] = Field(min_length=1, max_length=3)
    sen_provision: Literal["N", "K", "E"]
    ehc_plan: bool
    fsm_eligible: bool
    looked_after: bool
    child_in_need: bool
    child_protection_plan: bool
    parents_notified_at: AwareDatetime
    misses_public_exam: bool = False
    school_reference: str | None = Field(default=None, max_length=100, description="The MIS's own id.")

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        return _not_before(value, info, "start_date", "the end date is before the start date")

    @field_validator("reason_codes")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        upper = [v.upper() for v in value]
        if len(set(upper)) != len(upper):
            raise ValueError("each reason code once")
        return upper

    @model_validator(mode="after")
    def _length(self) -> ExclusionIn:
        given = [n for n in ("length_days", "length_sessions", "lunchtimes") if getattr(self, n) is not None]
        if self.kind == "suspension" and given not in (["length_days"], ["length_sessions"]):
            raise ValueError("a suspension gives its length: length_days or length_sessions (one of them)")
        if self.kind == "lunchtime" and set(given) - {"lunchtimes"}:
            raise ValueError("a lunchtime suspension gives the number of lunchtimes, not a length")
        if self.kind == "permanent" and (given or self.end_date is not None):
            raise ValueError("a permanent exclusion has no length or end date")
        if (self.sen_provision == "E") != self.ehc_plan:
            raise ValueError("sen_provision E means an EHC plan: give ehc_plan accordingly")
        return self

    @property
    def sessions(self) -> int | None:
        if self.length_sessions is not None:
            return self.length_sessions
        return round(self.length_days * 2) if self.length_days is not None else None


class WithdrawalIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "withdrawn_on": "2025-11-11",
                    "reason": "The head teacher withdrew it after reviewing the incident with the parents.",
                }
            ]
        }
    )

    withdrawn_on: date
    reason: str | None = Field(default=None, max_length=1000)


class ProvisionIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provider": "East Kent Pupil Referral Unit",
                    "provider_urn": "118900",
                    "starts_on": "2025-11-24",
                }
            ]
        }
    )

    provider: str = Field(min_length=1, max_length=200)
    provider_urn: URN | None = None
    starts_on: date


class RepresentationsIn(Strict):
    stage: Literal["representations"]
    received_on: date


class BoardDecisionIn(Strict):
    stage: Literal["board"]
    outcome: Literal["upheld", "reinstated"]
    decided_on: date
    parents_notice_sent_on: date
    notice_posted: bool = Field(
        default=False, description="Sent by first-class post: deemed given on the 2nd working day after."
    )
    reinstated_on: date | None = None

    @field_validator("parents_notice_sent_on")
    @classmethod
    def _after_decision(cls, value: date, info: ValidationInfo) -> date:
        _not_before(value, info, "decided_on", "the notice is sent after the decision")
        return value


class PanelDecisionIn(Strict):
    stage: Literal["independent_review"]
    applied_on: date
    outcome: Literal["upheld", "recommend_reconsideration", "quashed"]
    decided_on: date
    board_notified_on: date


class ReconsiderationIn(Strict):
    stage: Literal["reconsideration"]
    outcome: Literal["upheld", "reinstated"]
    decided_on: date


ReviewIn = Annotated[
    RepresentationsIn | BoardDecisionIn | PanelDecisionIn | ReconsiderationIn, Field(discriminator="stage")
]

#: Named request examples for POST /exclusions/{id}/reviews, one per stage in the order they happen
#: (OpenAPI ``examples``): the parents' representations about a suspension, then a permanent
#: exclusion from 17 November 2025 upheld by the board, sent to an independent review panel and
#: reconsidered.
REVIEW_EXAMPLES: dict[str, dict[str, Any]] = {
    "representations": {
        "summary": "The parents made representations about a suspension",
        "value": {"stage": "representations", "received_on": "2025-10-13"},
    },
    "board": {
        "summary": "The governing board upheld a permanent exclusion (decision posted to the parents)",
        "value": {
            "stage": "board",
            "outcome": "upheld",
            "decided_on": "2025-12-03",
            "parents_notice_sent_on": "2025-12-04",
            "notice_posted": True,
        },
    },
    "independent_review": {
        "summary": "The independent review panel recommended that the board reconsider",
        "value": {
            "stage": "independent_review",
            "applied_on": "2025-12-15",
            "outcome": "recommend_reconsideration",
            "decided_on": "2026-01-20",
            "board_notified_on": "2026-01-21",
        },
    },
    "reconsideration": {
        "summary": "The board reconsidered and upheld the exclusion",
        "value": {"stage": "reconsideration", "outcome": "upheld", "decided_on": "2026-02-03"},
    },
}


class PupilFlagsOut(BaseModel):
    sen_provision: str
    ehc_plan: bool
    fsm_eligible: bool
    looked_after: bool
    child_in_need: bool
    child_protection_plan: bool


class ProvisionOut(BaseModel):
    provider: str
    provider_urn: str | None
    starts_on: date
    on_time: bool
    school_days_late: int
    recorded_at: datetime


class DeadlinesOut(BaseModel):
    board_review_due: date | None
    board_review_reasons: list[str]
    representations_review_due: date | None
    sixth_day_provision_due: date | None
    provision_responsibility: str | None
    irp_application_due: date | None
    reconsideration_due: date | None
    next_deadline: date | None
    next_deadline_kind: str | None
    next_deadline_missed: bool


class ExclusionOut(BaseModel):
    id: str
    child_ref: str
    upn: str
    school_urn: str
    kind: str
    start_date: date
    start_session: str
    end_date: date | None
    sessions: int | None
    days: float
    reason_codes: list[str]
    academic_year: str
    pupil: PupilFlagsOut
    parents_notified_at: datetime
    notified_at: datetime
    misses_public_exam: bool
    school_reference: str | None
    deadlines: DeadlinesOut
    provision: ProvisionOut | None
    provision_missed_on: date | None
    withdrawn_on: date | None
    withdrawal_reason: str | None
    reinstated_on: date | None
    reviews: dict[str, object]
    updated_at: datetime


class TimetableIn(Strict):
    """One without a planned end or a review date is refused (time-limited and reviewed)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "school_urn": "118000",
                    "upn": "H886200024001",
                    "starts_on": "2025-11-03",
                    "planned_end_on": "2025-12-12",
                    "hours_per_week": 15,
                    "reason": "Phased return after a long illness, agreed with the family and school nurse.",
                    "parent_agreed_on": "2025-10-22",
                    "review_dates": ["2025-11-17", "2025-12-01"],
                }
            ]
        }
    )

    school_urn: URN
    upn: UPN
    starts_on: date
    planned_end_on: date | None = None
    hours_per_week: float = Field(gt=0, le=40)
    reason: str = Field(min_length=1, max_length=2000)
    parent_agreed_on: date | None = Field(default=None, description="When the parent agreed to it.")
    review_dates: list[date] = Field(default_factory=list, max_length=20)

    @field_validator("planned_end_on")
    @classmethod
    def _end_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        return _not_before(value, info, "starts_on", "the planned end is before the start")


class TimetableReviewIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reviewed_on": "2025-11-17",
                    "notes": "Managing mornings well; 20 hours a week from 24 November.",
                    "new_planned_end_on": "2025-12-19",
                }
            ]
        }
    )

    reviewed_on: date
    notes: str | None = Field(default=None, max_length=2000)
    new_planned_end_on: date | None = None


class TimetableEndIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"ended_on": "2025-12-12", "outcome": "full_time"}]}
    )

    ended_on: date
    outcome: Literal["full_time", "alternative_provision", "left_roll", "other"]


class TimetableOut(BaseModel):
    id: str
    child_ref: str
    upn: str
    school_urn: str
    starts_on: date
    planned_end_on: date
    hours_per_week: float
    reason: str
    parent_agreed_on: date
    review_dates: list[date]
    reviews: list[dict[str, object]]
    review_due: date
    past_planned_end: bool
    review_overdue: bool
    ended_on: date | None
    outcome: str | None
    notified_at: datetime
    updated_at: datetime


class AlertOut(BaseModel):
    id: str
    kind: str
    subject_type: str
    subject_id: str
    child_ref: str
    school_urn: str
    due_on: date
    raised_on: date
    updated_at: datetime


class PupilHistoryOut(BaseModel):
    child_ref: str
    exclusions: list[ExclusionOut]
    part_time_timetables: list[TimetableOut]
    suspension_days_by_year: dict[str, float]
