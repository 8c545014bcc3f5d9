"""Domain events of exclusions: internal facts.

Mapped to public contracts in service_layer/publishing.py (the only place contracts are built).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Event:
    aggregate_id: str
    version: int


@dataclass(frozen=True)
class ExclusionIssued(Event):
    suspension_days_this_year: float
    suspensions_this_year: int


@dataclass(frozen=True)
class ExclusionWithdrawn(Event):
    suspension_days_this_year: float


@dataclass(frozen=True)
class ProvisionArranged(Event):
    pass


@dataclass(frozen=True)
class ProvisionMissed(Event):
    detected_on: date


@dataclass(frozen=True)
class RepeatSuspensionFlagged(Event):
    school_urn: str
    upn: str
    exclusion_ids: tuple[str, ...]
    suspensions: int
    days: float
    flagged_on: date


@dataclass(frozen=True)
class SuspensionLimitReached(Event):
    school_urn: str
    upn: str
    days: float
    warning_days: float


@dataclass(frozen=True)
class PartTimeTimetableStarted(Event):
    pass


@dataclass(frozen=True)
class PartTimeTimetableEnded(Event):
    pass
