"""Domain events of referral-api: internal facts.

Mapped to public contracts in service_layer/publishing.py (the only place contracts are built).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    referral_id: str
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
