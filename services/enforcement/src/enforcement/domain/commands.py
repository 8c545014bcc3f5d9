"""Commands enforcement accepts (plain dataclasses built by the entrypoints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from enforcement.domain.model import (
    CourtOutcome,
    OffenceSection,
    OffenceType,
    ServiceMethod,
    WithdrawalGround,
)


@dataclass(frozen=True)
class ParentDetails:
    """A liable parent as the school names them (personal data)."""

    forename: str
    surname: str
    relationship: str | None = None
    address: dict[str, str | None] | None = None

    def match_key(self) -> str:
        """Who this is, for the limit per parent per child across requests: name and postcode,
        case- and space-insensitive."""
        postcode = ((self.address or {}).get("postcode") or "").replace(" ", "").casefold()
        return "|".join(
            (" ".join(self.surname.split()).casefold(), " ".join(self.forename.split()).casefold(), postcode)
        )


@dataclass(frozen=True)
class RequestPenaltyNotice:
    school_urn: str
    upn: str
    offence_type: OffenceType
    period_start: date
    period_end: date
    parents: list[ParentDetails]
    requested_by: str
    notice_to_improve_issued_on: date | None = None
    aggravating_factors: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DecideRequest:
    request_id: str
    decided_by: str
    decline_reason: str | None = None
    offence_section: OffenceSection = OffenceSection.S444_1


@dataclass(frozen=True)
class IssueNotice:
    request_id: str
    parent_ref: str
    issued_by: str
    service_method: ServiceMethod
    served_on: date | None = None  # default: the day of issue


@dataclass(frozen=True)
class RecordPayment:
    notice_id: str
    paid_on: date
    amount_pence: int


@dataclass(frozen=True)
class WithdrawNotice:
    notice_id: str
    ground: WithdrawalGround
    note: str | None = None
    withdrawn_on: date | None = None


@dataclass(frozen=True)
class LayInformation:
    case_id: str
    laid_on: date
    hearing_on: date | None = None


@dataclass(frozen=True)
class RecordCourtOutcome:
    case_id: str
    outcome: CourtOutcome
    concluded_on: date
    fine_pence: int | None = None
    costs_pence: int | None = None
    orders: list[str] = field(default_factory=list)
