"""Domain events of referral-api: internal facts.

Mapped to public contracts in service_layer/publishing.py (the only place contracts are built).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    aggregate_id: str
    version: int


@dataclass(frozen=True)
class ReferralReceived(Event):
    pass


@dataclass(frozen=True)
class ReferralTriaged(Event):
    pass


@dataclass(frozen=True)
class ReferralClosed(Event):
    pass


@dataclass(frozen=True)
class PupilRemovedFromRoll(Event):
    """A deletion return was recorded."""


@dataclass(frozen=True)
class PupilAddedToRoll(Event):
    """A new-pupil return was recorded."""
