"""Commands cme-tracker accepts (plain dataclasses built by the entrypoints and consumers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from cme_tracker.domain.model import EnquiryKind, EnquiryResult, Outcome


@dataclass(frozen=True)
class ChildNeedsFinding:
    """A referral or deletion return says nobody knows where the child is educated."""

    child_ref: str
    upn: str | None
    child: dict[str, Any]
    source: str  # "referral" | "deletion_return"
    source_id: str
    received_on: date
    school: dict[str, Any] | None
    summary: dict[str, Any]


@dataclass(frozen=True)
class RegisterHomeEducation:
    child_ref: str
    upn: str | None
    child: dict[str, Any]
    source: str  # "referral" | "deletion_return" | "cme_case"
    source_id: str
    registered_on: date
    parent_notice_received_on: date | None
    school: dict[str, Any] | None


@dataclass(frozen=True)
class ChildJoinedRoll:
    child_ref: str
    upn: str | None
    roll_change_id: str
    school: dict[str, Any]
    starting_day: date


@dataclass(frozen=True)
class RecordEnquiry:
    case_id: str
    kind: EnquiryKind
    made_on: date
    made_by: str
    result: EnquiryResult
    notes: str | None
    recorded_by: str


@dataclass(frozen=True)
class LocateChild:
    case_id: str
    located_on: date
    notes: str | None
    recorded_by: str


@dataclass(frozen=True)
class ReviewCase:
    case_id: str
    reviewed_on: date
    notes: str | None
    recorded_by: str


@dataclass(frozen=True)
class CloseCase:
    case_id: str
    outcome: Outcome
    closed_on: date
    other_la_code: str | None
    duplicate_of: str | None
    notes: str | None
    recorded_by: str


@dataclass(frozen=True)
class RecordPlacement:
    case_id: str
    school: dict[str, Any]
    placed_on: date
    recorded_by: str


@dataclass(frozen=True)
class EheAction:
    registration_id: str
    action: str  # "first_contact" | "visit_offered" | "review" | "end"
    on: date
    notes: str | None
    recorded_by: str
    reason: str | None = None
