"""Domain event -> public integration event: the only place referral-api builds contracts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from inclusion_kit.contracts import IntegrationEvent
from inclusion_kit.contracts.events import common as public
from inclusion_kit.contracts.events import referrals as contracts
from referral_api.domain import events
from referral_api.domain.model import Referral, ReferralKind

if TYPE_CHECKING:
    from referral_api.adapters.repository import SchoolRepository


def school_ref(row: dict[str, Any] | None) -> public.SchoolRef | None:
    if row is None:
        return None
    return public.SchoolRef(
        urn=row["urn"],
        laestab=row["laestab"],
        la_code=row["la_code"],
        name=row["name"],
        phase=public.Phase(row["phase"]),
        district=row["district"],
    )


async def to_contract(event: events.Event, referral: Referral, schools: SchoolRepository) -> IntegrationEvent:
    school = school_ref(await schools.get(referral.school_urn)) if referral.school_urn else None
    kind = contracts.ReferralKind(referral.kind.value)
    now = datetime.now(UTC)
    base = {
        "child_ref": referral.child_ref,
        "aggregate_id": referral.id,
        "aggregate_version": event.version,
        "referral_id": referral.id,
        "kind": kind,
    }
    if isinstance(event, events.ReferralReceived):
        referrer_school = (
            school_ref(await schools.get(referral.referrer.school_urn))
            if referral.referrer.school_urn
            else None
        )
        child = referral.child
        return contracts.ReferralReceived(
            **base,
            occurred_at=referral.received_at,
            child=public.ChildIdentity(
                upn=child.upn,
                forename=child.forename,
                surname=child.surname,
                date_of_birth=child.date_of_birth,
                sex=child.sex,
                address=public.Address(**child.address) if child.address else None,
            ),
            referrer=public.Referrer(
                kind=public.ReferrerKind(referral.referrer.kind),
                school=referrer_school,
                agency_type=public.AgencyType(referral.referrer.agency_type)
                if referral.referrer.agency_type
                else None,
                agency_name=referral.referrer.agency_name,
            ),
            school=school,
            summary=referral.summary,
            received_at=referral.received_at,
            response_due=referral.response_due,
            missing_education=(
                contracts.MissingEducationDetails(**referral.details)
                if referral.kind is ReferralKind.CHILD_MISSING_EDUCATION
                else None
            ),
            home_education=(
                contracts.HomeEducationDetails(**referral.details)
                if referral.kind is ReferralKind.ELECTIVE_HOME_EDUCATION
                else None
            ),
            attendance_concern=(
                contracts.AttendanceConcernDetails(**referral.details)
                if referral.kind is ReferralKind.ATTENDANCE_CONCERN
                else None
            ),
        )
    if isinstance(event, events.ReferralTriaged):
        return contracts.ReferralTriaged(
            **base,
            occurred_at=referral.decided_at or now,
            decision=contracts.TriageDecision(referral.status.value),
            redirected_to=referral.redirected_to,
            reason=referral.decision_reason,
            decided_at=referral.decided_at or now,
            responded_within_target=referral.responded_within_target(),
            school=school,
        )
    if isinstance(event, events.ReferralClosed):
        return contracts.ReferralClosed(
            **base,
            occurred_at=referral.decided_at or now,
            reason=referral.decision_reason or "closed",
            closed_at=referral.decided_at or now,
        )
    raise TypeError(f"no contract for {type(event).__name__}")
