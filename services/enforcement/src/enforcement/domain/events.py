"""Domain events of enforcement: internal facts.

Mapped to public contracts in service_layer/publishing.py (the only place contracts are built).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    aggregate_id: str
    version: int


@dataclass(frozen=True)
class PenaltyNoticeRequested(Event):
    pass


@dataclass(frozen=True)
class PenaltyNoticeDeclined(Event):
    """For the whole request (``parent_ref`` None) or for one parent."""

    parent_ref: str | None
    code_of_conduct: str
    rule: str
    reason: str


@dataclass(frozen=True)
class PenaltyNoticeIssued(Event):
    pass


@dataclass(frozen=True)
class PenaltyNoticePaid(Event):
    pass


@dataclass(frozen=True)
class PenaltyNoticeWithdrawn(Event):
    pass


@dataclass(frozen=True)
class ProsecutionStarted(Event):
    pass


@dataclass(frozen=True)
class ProsecutionConcluded(Event):
    pass
