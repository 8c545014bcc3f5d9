"""Commands referral-api accepts (plain dataclasses built by the entrypoints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from referral_api.domain.model import Child, Decision, ReferralKind, Referrer


@dataclass(frozen=True)
class SubmitReferral:
    kind: ReferralKind
    child: Child
    referrer: Referrer
    school_urn: str | None
    summary: str | None
    details: dict[str, Any]
    submitted_by: str


@dataclass(frozen=True)
class TriageReferral:
    referral_id: str
    decision: Decision
    decided_by: str
    reason: str | None = None
    redirected_to: str | None = None
