"""Domain events of cme-tracker: internal facts, mapped to public contracts in service_layer/publishing.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Event:
    aggregate_id: str
    version: int


@dataclass(frozen=True)
class CaseOpened(Event):
    pass


@dataclass(frozen=True)
class EnquiryRecorded(Event):
    enquiry_id: str
    checklist_complete: bool


@dataclass(frozen=True)
class ChildLocated(Event):
    pass


@dataclass(frozen=True)
class ChildPlaced(Event):
    roll_change_id: str | None


@dataclass(frozen=True)
class CaseClosed(Event):
    pass


@dataclass(frozen=True)
class ReviewOverdue(Event):
    review_due: date
    period: int
    days_overdue: int


@dataclass(frozen=True)
class EheRegistered(Event):
    pass
