"""Events published by the exclusions context (topic ``inclusion.exclusions``).

Suspensions (including lunchtime suspensions) and permanent exclusions notified by schools, the
statutory clock around them (the 45-day cap, governing board reviews, sixth-day provision) and
part-time timetables (DOMAIN.md §4, §10.3). Every event is keyed by the child's reference, so one
child's events stay in order.

Every event here is listed in ``EVENTS`` and so in the public registry; run
``inclusion-kit catalog build`` after a change and commit ``shared/catalog/``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from inclusion_kit.contracts.base import IntegrationEvent, TolerantEnum, x_pii
from inclusion_kit.contracts.events.common import SchoolRef
from inclusion_kit.contracts.events.roll import SenProvision

_UPN = r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$"
_YEAR = r"^[0-9]{4}/[0-9]{2}$"


class ExclusionKind(TolerantEnum):
    """CBDS categories: a suspension (SUSP), a lunchtime suspension (LNCH, half a day each) or a
    permanent exclusion (PERM)."""

    SUSPENSION = "suspension"
    LUNCHTIME = "lunchtime"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


class Session(TolerantEnum):
    AM = "AM"
    PM = "PM"
    UNKNOWN = "unknown"


class ProvisionResponsibility(TolerantEnum):
    """Who must arrange full-time education from the sixth school day: the school for a suspension
    of more than five days, the local authority for a permanent exclusion (s19 EA 1996)."""

    SCHOOL = "school"
    LOCAL_AUTHORITY = "local_authority"
    UNKNOWN = "unknown"


class BoardReviewReason(TolerantEnum):
    """Why the governing board must consider reinstatement within 15 school days."""

    PERMANENT = "permanent"
    TERM_TOTAL_ABOVE_15_DAYS = "term_total_above_15_days"
    PUBLIC_EXAM = "public_exam"
    UNKNOWN = "unknown"


class TimetableOutcome(TolerantEnum):
    """How a part-time timetable ended."""

    FULL_TIME = "full_time"
    ALTERNATIVE_PROVISION = "alternative_provision"
    LEFT_ROLL = "left_roll"
    OTHER = "other"
    UNKNOWN = "unknown"


class PupilFlags(BaseModel):
    """The pupil's characteristics as the school stated them with the notification. Special
    category and sensitive personal data throughout."""

    model_config = ConfigDict(frozen=True)

    sen_provision: SenProvision = Field(**x_pii("CBDS SEN provision: N, K or E."))
    ehc_plan: bool = Field(**x_pii())
    fsm_eligible: bool = Field(**x_pii("Eligible for free school meals on the exclusion's start date."))
    looked_after: bool = Field(**x_pii())
    child_in_need: bool = Field(**x_pii())
    child_protection_plan: bool = Field(**x_pii())


class ExclusionDeadlines(BaseModel):
    """The statutory dates computed in school days from the LA's calendar when it was notified."""

    model_config = ConfigDict(frozen=True)

    board_review_due: date | None = Field(
        default=None, description="The board must consider reinstatement by this date (15 school days)."
    )
    board_review_reasons: list[BoardReviewReason] = Field(default_factory=list)
    representations_review_due: date | None = Field(
        default=None,
        description="6-15 days in a term: if the parents make representations, the board considers "
        "them by this date (50 school days).",
    )
    sixth_day_provision_due: date | None = Field(
        default=None, description="Full-time education must start by this (the sixth) school day."
    )
    provision_responsibility: ProvisionResponsibility | None = None


_SCHOOL_EXAMPLE: dict[str, Any] = {
    "urn": "118001",
    "laestab": "8864000",
    "la_code": "886",
    "name": "Example High School",
    "phase": "secondary",
    "district": "Dover",
}
_FLAGS_EXAMPLE: dict[str, Any] = {
    "sen_provision": "K",
    "ehc_plan": False,
    "fsm_eligible": True,
    "looked_after": False,
    "child_in_need": False,
    "child_protection_plan": False,
}


class ExclusionIssued(IntegrationEvent):
    """A school notified the authority of a suspension, lunchtime suspension or permanent
    exclusion (every one must be notified, whatever its length). Carries the reason codes valid
    for the academic year, the pupil's characteristics, the pupil's running suspension total for
    the year and the deadlines the authority tracks."""

    event_type: ClassVar[str] = "inclusion.exclusions.exclusion.issued.v1"

    exclusion_id: str
    school: SchoolRef
    upn: str = Field(pattern=_UPN, **x_pii("The pupil's UPN."))
    kind: ExclusionKind
    start_date: date
    start_session: Session = Session.AM
    end_date: date | None = Field(default=None, description="Last day; null for a permanent exclusion.")
    sessions: int | None = Field(default=None, ge=1, description="Length in sessions (null: permanent).")
    days: float = Field(ge=0, description="Days counted against the 45-day cap (a lunchtime is 0.5).")
    reason_codes: list[str] = Field(min_length=1, max_length=3, description="School census reason codes.")
    academic_year: str = Field(pattern=_YEAR)
    pupil: PupilFlags
    parents_notified_at: datetime
    notified_at: datetime = Field(description="When the authority received the notification.")
    misses_public_exam: bool = False
    suspension_days_this_year: float = Field(ge=0, description="The pupil's total including this one.")
    suspensions_this_year: int = Field(ge=0, description="Suspensions (incl. lunchtime) this year so far.")
    deadlines: ExclusionDeadlines

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "ex-1a2b3c4d5e6f7a8b",
        "aggregate_version": 1,
        "occurred_at": datetime(2025, 10, 6, 9, 0, tzinfo=UTC),
        "exclusion_id": "ex-1a2b3c4d5e6f7a8b",
        "school": _SCHOOL_EXAMPLE,
        "upn": "K886400023012",
        "kind": "suspension",
        "start_date": "2025-10-06",
        "start_session": "AM",
        "end_date": "2025-10-13",
        "sessions": 12,
        "days": 6.0,
        "reason_codes": ["PA", "VA"],
        "academic_year": "2025/26",
        "pupil": _FLAGS_EXAMPLE,
        "parents_notified_at": datetime(2025, 10, 3, 15, 30, tzinfo=UTC),
        "notified_at": datetime(2025, 10, 6, 9, 0, tzinfo=UTC),
        "suspension_days_this_year": 6.0,
        "suspensions_this_year": 1,
        "deadlines": {
            "board_review_due": None,
            "board_review_reasons": [],
            "representations_review_due": "2026-01-06",
            "sixth_day_provision_due": "2025-10-13",
            "provision_responsibility": "school",
        },
    }


class ExclusionWithdrawn(IntegrationEvent):
    """The head teacher withdrew a suspension or permanent exclusion: it no longer counts towards
    the pupil's totals and no provision is expected for it."""

    event_type: ClassVar[str] = "inclusion.exclusions.exclusion.withdrawn.v1"

    exclusion_id: str
    school: SchoolRef
    kind: ExclusionKind
    start_date: date
    academic_year: str = Field(pattern=_YEAR)
    withdrawn_on: date
    reason: str | None = Field(default=None, max_length=1000, **x_pii("Free text; may describe the pupil."))
    suspension_days_this_year: float = Field(ge=0, description="The pupil's total after the withdrawal.")

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "ex-1a2b3c4d5e6f7a8b",
        "aggregate_version": 2,
        "occurred_at": datetime(2025, 10, 7, 9, 0, tzinfo=UTC),
        "exclusion_id": "ex-1a2b3c4d5e6f7a8b",
        "school": _SCHOOL_EXAMPLE,
        "kind": "suspension",
        "start_date": "2025-10-06",
        "academic_year": "2025/26",
        "withdrawn_on": "2025-10-07",
        "reason": "New information about the incident",
        "suspension_days_this_year": 0.0,
    }


class RepeatSuspensionFlagged(IntegrationEvent):
    """A pupil reached three suspensions in one academic year (DOMAIN.md §10.3: flag every such
    pupil to prevent a permanent exclusion). Published once per pupil and academic year."""

    event_type: ClassVar[str] = "inclusion.exclusions.pupil.repeat-suspension-flagged.v1"

    school: SchoolRef = Field(description="The school of the suspension that raised the flag.")
    upn: str = Field(pattern=_UPN, **x_pii("The pupil's UPN."))
    academic_year: str = Field(pattern=_YEAR)
    suspensions_this_year: int = Field(ge=1)
    suspension_days_this_year: float = Field(ge=0)
    exclusion_ids: list[str] = Field(description="The suspensions counted, in order.")
    flagged_on: date

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "c-5f0e3a9b2c1d4e7f/2025-26",
        "aggregate_version": 3,
        "occurred_at": datetime(2025, 12, 1, 9, 0, tzinfo=UTC),
        "school": _SCHOOL_EXAMPLE,
        "upn": "K886400023012",
        "academic_year": "2025/26",
        "suspensions_this_year": 3,
        "suspension_days_this_year": 7.5,
        "exclusion_ids": ["ex-1a2b3c4d5e6f7a8b", "ex-2b3c4d5e6f7a8b9c", "ex-3c4d5e6f7a8b9c0d"],
        "flagged_on": "2025-12-01",
    }


class SuspensionLimitReached(IntegrationEvent):
    """A pupil's suspensions this academic year reached the LA's warning level, near the legal
    maximum of 45 school days. Published once per pupil and academic year."""

    event_type: ClassVar[str] = "inclusion.exclusions.pupil.suspension-limit-reached.v1"

    school: SchoolRef
    upn: str = Field(pattern=_UPN, **x_pii("The pupil's UPN."))
    academic_year: str = Field(pattern=_YEAR)
    suspension_days_this_year: float = Field(ge=0)
    warning_days: float = Field(gt=0, description="The LA's configured warning level.")
    cap_days: float = Field(gt=0, description="The legal maximum per academic year (45).")
    remaining_days: float = Field(ge=0)

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "c-5f0e3a9b2c1d4e7f/2025-26",
        "aggregate_version": 6,
        "occurred_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        "school": _SCHOOL_EXAMPLE,
        "upn": "K886400023012",
        "academic_year": "2025/26",
        "suspension_days_this_year": 40.5,
        "warning_days": 40.0,
        "cap_days": 45.0,
        "remaining_days": 4.5,
    }


class SixthDayProvisionArranged(IntegrationEvent):
    """Full-time education from the sixth school day was recorded for an excluded pupil: who
    provides it, from when, and whether that was by the statutory sixth day."""

    event_type: ClassVar[str] = "inclusion.exclusions.provision.arranged.v1"

    exclusion_id: str
    school: SchoolRef
    kind: ExclusionKind
    responsibility: ProvisionResponsibility
    provider: str = Field(max_length=200, description="The provider (an organisation, not a person).")
    provider_urn: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    starts_on: date
    due_by: date
    on_time: bool
    school_days_late: int = Field(ge=0)

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "ex-1a2b3c4d5e6f7a8b",
        "aggregate_version": 2,
        "occurred_at": datetime(2025, 10, 10, 12, 0, tzinfo=UTC),
        "exclusion_id": "ex-1a2b3c4d5e6f7a8b",
        "school": _SCHOOL_EXAMPLE,
        "kind": "permanent",
        "responsibility": "local_authority",
        "provider": "East Kent Pupil Referral Unit",
        "provider_urn": "118900",
        "starts_on": "2025-10-13",
        "due_by": "2025-10-13",
        "on_time": True,
        "school_days_late": 0,
    }


class SixthDayProvisionMissed(IntegrationEvent):
    """The sixth school day of an exclusion passed with no full-time provision recorded.
    Published once per exclusion by the scheduled check."""

    event_type: ClassVar[str] = "inclusion.exclusions.provision.missed.v1"

    exclusion_id: str
    school: SchoolRef
    kind: ExclusionKind
    responsibility: ProvisionResponsibility
    due_by: date
    detected_on: date

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "ex-1a2b3c4d5e6f7a8b",
        "aggregate_version": 2,
        "occurred_at": datetime(2025, 10, 14, 6, 0, tzinfo=UTC),
        "exclusion_id": "ex-1a2b3c4d5e6f7a8b",
        "school": _SCHOOL_EXAMPLE,
        "kind": "permanent",
        "responsibility": "local_authority",
        "due_by": "2025-10-13",
        "detected_on": "2025-10-14",
    }


class PartTimeTimetableStarted(IntegrationEvent):
    """A school notified a part-time timetable: temporary, time-limited, agreed with the parent
    and reviewed (WTISA 2024). Missed sessions are coded C2."""

    event_type: ClassVar[str] = "inclusion.exclusions.part-time-timetable.started.v1"

    timetable_id: str
    school: SchoolRef
    upn: str = Field(pattern=_UPN, **x_pii("The pupil's UPN."))
    starts_on: date
    planned_end_on: date
    hours_per_week: float = Field(gt=0, le=40)
    reason: str = Field(max_length=2000, **x_pii("Why; may describe the pupil's health or needs."))
    parent_agreed_on: date
    review_dates: list[date] = Field(min_length=1)

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "pt-1a2b3c4d5e6f7a8b",
        "aggregate_version": 1,
        "occurred_at": datetime(2025, 10, 6, 9, 0, tzinfo=UTC),
        "timetable_id": "pt-1a2b3c4d5e6f7a8b",
        "school": _SCHOOL_EXAMPLE,
        "upn": "K886400023012",
        "starts_on": "2025-10-06",
        "planned_end_on": "2025-11-21",
        "hours_per_week": 15.0,
        "reason": "Phased return after a long illness",
        "parent_agreed_on": "2025-10-03",
        "review_dates": ["2025-10-20", "2025-11-17"],
    }


class PartTimeTimetableEnded(IntegrationEvent):
    """A part-time timetable ended: the pupil returned full time, moved to alternative provision,
    or left."""

    event_type: ClassVar[str] = "inclusion.exclusions.part-time-timetable.ended.v1"

    timetable_id: str
    school: SchoolRef
    starts_on: date
    planned_end_on: date
    ended_on: date
    outcome: TimetableOutcome
    ran_past_planned_end: bool

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "pt-1a2b3c4d5e6f7a8b",
        "aggregate_version": 3,
        "occurred_at": datetime(2025, 11, 21, 15, 0, tzinfo=UTC),
        "timetable_id": "pt-1a2b3c4d5e6f7a8b",
        "school": _SCHOOL_EXAMPLE,
        "starts_on": "2025-10-06",
        "planned_end_on": "2025-11-21",
        "ended_on": "2025-11-21",
        "outcome": "full_time",
        "ran_past_planned_end": False,
    }


EVENTS: tuple[type[IntegrationEvent], ...] = (
    ExclusionIssued,
    ExclusionWithdrawn,
    RepeatSuspensionFlagged,
    SuspensionLimitReached,
    SixthDayProvisionArranged,
    SixthDayProvisionMissed,
    PartTimeTimetableStarted,
    PartTimeTimetableEnded,
)
