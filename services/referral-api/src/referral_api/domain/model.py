"""Aggregates of referral-api. Each carries a version and records the domain events it raises."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from referral_api.domain import events
from referral_api.domain.errors import IllegalTransition

# DOMAIN.md §10.3: referrals are answered within 10 (school) days of receipt. Per-LA configuration
# lives in settings; this is the shipped default.
DEFAULT_RESPONSE_SCHOOL_DAYS = 10


class ReferralKind(enum.StrEnum):
    ATTENDANCE_CONCERN = "attendance_concern"
    CHILD_MISSING_EDUCATION = "child_missing_education"
    ELECTIVE_HOME_EDUCATION = "elective_home_education"
    EARLY_HELP = "early_help"
    OTHER_AGENCY_CONCERN = "other_agency_concern"


class ReferralStatus(enum.StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REDIRECTED = "redirected"
    CLOSED = "closed"


class Decision(enum.StrEnum):
    ACCEPT = "accepted"
    REDIRECT = "redirected"
    CLOSE = "closed"


@dataclass
class Child:
    """The child as the referrer identifies them (personal data)."""

    forename: str
    surname: str
    date_of_birth: date
    upn: str | None = None
    sex: str | None = None
    address: dict[str, str | None] | None = None


@dataclass
class Referrer:
    kind: str  # "school" or "agency"
    school_urn: str | None = None
    agency_type: str | None = None
    agency_name: str | None = None


@dataclass
class Referral:
    id: str
    child_ref: str
    kind: ReferralKind
    child: Child
    referrer: Referrer
    school_urn: str | None
    summary: str | None
    details: dict[str, Any]
    received_at: datetime
    response_due: date
    submitted_by: str
    status: ReferralStatus = ReferralStatus.RECEIVED
    decision_reason: str | None = None
    redirected_to: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    updated_at: datetime | None = None
    version: int = 0
    pending_events: list[events.Event] = field(default_factory=list, repr=False)

    @classmethod
    def receive(
        cls,
        *,
        id: str,
        child_ref: str,
        kind: ReferralKind,
        child: Child,
        referrer: Referrer,
        school_urn: str | None,
        summary: str | None,
        details: dict[str, Any],
        received_at: datetime,
        response_due: date,
        submitted_by: str,
    ) -> Referral:
        referral = cls(
            id=id,
            child_ref=child_ref,
            kind=kind,
            child=child,
            referrer=referrer,
            school_urn=school_urn,
            summary=summary,
            details=details,
            received_at=received_at,
            response_due=response_due,
            submitted_by=submitted_by,
            updated_at=received_at,
            version=1,
        )
        referral.pending_events.append(events.ReferralReceived(aggregate_id=id, version=1))
        return referral

    def triage(
        self,
        decision: Decision,
        *,
        at: datetime,
        by: str,
        reason: str | None = None,
        redirected_to: str | None = None,
    ) -> None:
        """Accept, redirect to a named service, or close with a reason; only once."""
        if self.status is not ReferralStatus.RECEIVED:
            raise IllegalTransition(f"referral is already {self.status.value}; it can be triaged once")
        if decision is Decision.REDIRECT and not redirected_to:
            raise IllegalTransition("a redirect names the service it goes to")
        if decision is Decision.CLOSE and not reason:
            raise IllegalTransition("closing a referral needs a reason")
        self.status = {
            Decision.ACCEPT: ReferralStatus.ACCEPTED,
            Decision.REDIRECT: ReferralStatus.REDIRECTED,
            Decision.CLOSE: ReferralStatus.CLOSED,
        }[decision]
        self.decision_reason = reason
        self.redirected_to = redirected_to if decision is Decision.REDIRECT else None
        self.decided_at = at
        self.decided_by = by
        self.updated_at = at
        self.version += 1
        self.pending_events.append(events.ReferralTriaged(aggregate_id=self.id, version=self.version))
        if decision is Decision.CLOSE:
            self.version += 1
            self.pending_events.append(events.ReferralClosed(aggregate_id=self.id, version=self.version))

    def responded_within_target(self) -> bool:
        return self.decided_at is not None and self.decided_at.date() <= self.response_due
