"""Domain event -> public integration event: the only place referral-api builds contracts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from inclusion_kit.contracts import IntegrationEvent
from inclusion_kit.contracts.events import common as public
from inclusion_kit.contracts.events import referrals as contracts
from inclusion_kit.contracts.events import roll as roll_contracts
from referral_api.domain import events
from referral_api.domain.model import Child, Referral, ReferralKind
from referral_api.domain.roll import RollChange

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


def child_identity(child: Child) -> public.ChildIdentity:
    return public.ChildIdentity(
        upn=child.upn,
        forename=child.forename,
        surname=child.surname,
        date_of_birth=child.date_of_birth,
        sex=child.sex,
        address=public.Address(**child.address) if child.address else None,
    )


async def roll_change_contract(change: RollChange, schools: SchoolRepository) -> IntegrationEvent:
    school = school_ref(await schools.get(change.school_urn))
    assert school is not None  # checked when the return was accepted
    d = change.details
    base = {
        "child_ref": change.child_ref,
        "aggregate_id": change.id,
        "aggregate_version": change.version,
        "occurred_at": change.received_at,
        "roll_change_id": change.id,
        "school": school,
        "child": child_identity(change.child),
        "received_at": change.received_at,
    }
    if change.kind == "deletion":
        destination = d.get("destination")
        if destination:
            next_school = (
                school_ref(await schools.get(destination["school_urn"]))
                if destination.get("school_urn")
                else None
            )
            destination = roll_contracts.Destination(school=next_school, **destination)
        return roll_contracts.PupilRemovedFromRoll(
            **base,
            ground=roll_contracts.DeletionGround(d["ground"]),
            ground_met_on=d["ground_met_on"],
            deleted_on=d.get("deleted_on"),
            destination=destination,
            parents=[roll_contracts.ParentContact(**p) for p in d.get("parents", [])],
            parent_notice_received_on=d.get("parent_notice_received_on"),
            education_unknown=d["education_unknown"],
            year_group=await schools.year_group(change.school_urn, change.child_ref),
            evidence=roll_contracts.DeletionEvidence(
                leave_ended_on=d.get("leave_ended_on"),
                absence_from=d.get("absence_from"),
                absence_to=d.get("absence_to"),
                absence_codes=d.get("absence_codes", []),
                excluded_on=d.get("excluded_on"),
                enquiries=[roll_contracts.Enquiry(**e) for e in d.get("enquiries", [])],
            ),
        )
    return roll_contracts.PupilAddedToRoll(
        **base,
        starting_day=d["starting_day"],
        entered_on=d["entered_on"],
        return_due_by=d["return_due_by"],
        returned_late=d["returned_late"],
        year_group=d.get("year_group"),
        previous_school_urn=d.get("previous_school_urn"),
    )
