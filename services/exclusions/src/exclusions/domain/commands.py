"""Commands exclusions accepts (plain dataclasses built by the entrypoints)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from exclusions.domain.model import BoardOutcome, PanelOutcome, PupilFlags, TimetableOutcome
from exclusions.domain.rules import Kind, Session


@dataclass(frozen=True)
class NotifyExclusion:
    school_urn: str
    upn: str
    kind: Kind
    start_date: date
    start_session: Session
    sessions: int | None  # suspensions
    lunchtimes: int | None  # lunchtime suspensions
    end_date: date | None  # optional cross-check of the length
    reason_codes: tuple[str, ...]
    pupil: PupilFlags
    parents_notified_at: datetime
    misses_public_exam: bool
    school_reference: str | None
    submitted_by: str


@dataclass(frozen=True)
class WithdrawExclusion:
    exclusion_id: str
    withdrawn_on: date
    reason: str | None


@dataclass(frozen=True)
class RecordProvision:
    exclusion_id: str
    provider: str
    provider_urn: str | None
    starts_on: date


@dataclass(frozen=True)
class RecordRepresentations:
    exclusion_id: str
    received_on: date


@dataclass(frozen=True)
class RecordBoardDecision:
    exclusion_id: str
    outcome: BoardOutcome
    decided_on: date
    parents_notice_sent_on: date
    notice_posted: bool
    reinstated_on: date | None


@dataclass(frozen=True)
class RecordPanelDecision:
    exclusion_id: str
    applied_on: date
    outcome: PanelOutcome
    decided_on: date
    board_notified_on: date


@dataclass(frozen=True)
class RecordReconsideration:
    exclusion_id: str
    outcome: BoardOutcome
    decided_on: date


ReviewCommand = RecordRepresentations | RecordBoardDecision | RecordPanelDecision | RecordReconsideration


@dataclass(frozen=True)
class NotifyPartTimeTimetable:
    school_urn: str
    upn: str
    starts_on: date
    planned_end_on: date | None
    hours_per_week: float
    reason: str
    parent_agreed_on: date | None
    review_dates: tuple[date, ...]
    submitted_by: str


@dataclass(frozen=True)
class ReviewPartTimeTimetable:
    timetable_id: str
    reviewed_on: date
    notes: str | None
    new_planned_end_on: date | None


@dataclass(frozen=True)
class EndPartTimeTimetable:
    timetable_id: str
    ended_on: date
    outcome: TimetableOutcome
