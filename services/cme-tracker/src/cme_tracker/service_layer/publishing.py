"""Domain event -> public integration event: the only place cme-tracker builds contracts."""

from __future__ import annotations

from typing import Any

from cme_tracker.domain import events
from cme_tracker.domain.model import CmeCase, EheRegistration
from inclusion_kit.contracts import IntegrationEvent
from inclusion_kit.contracts.events import cme as contracts
from inclusion_kit.contracts.events.common import SchoolRef


def school_ref(value: dict[str, Any] | None) -> SchoolRef | None:
    return SchoolRef.model_validate(value) if value else None


def case_contract(event: events.Event, case: CmeCase) -> IntegrationEvent:
    base: dict[str, Any] = {
        "child_ref": case.child_ref,
        "aggregate_id": case.id,
        "aggregate_version": event.version,
        "occurred_at": case.updated_at,
        "case_id": case.id,
    }
    if isinstance(event, events.CaseOpened):
        return contracts.CmeCaseOpened(
            **base,
            source=contracts.CaseSource(case.source),
            source_id=case.source_id,
            opened_on=case.opened_on,
            school=school_ref(case.school),
            upn=case.upn,
            next_review_due=case.next_review_due,
        )
    if isinstance(event, events.EnquiryRecorded):
        enquiry = next(e for e in case.enquiries if e.id == event.enquiry_id)
        return contracts.CmeEnquiryRecorded(
            **base,
            enquiry_id=enquiry.id,
            kind=contracts.EnquiryKind(enquiry.kind.value),
            made_on=enquiry.made_on,
            result=contracts.EnquiryResult(enquiry.result.value),
            checklist_complete=event.checklist_complete,
        )
    if isinstance(event, events.ChildLocated):
        assert case.located_on is not None and case.days_to_located is not None
        return contracts.ChildLocated(
            **base,
            located_on=case.located_on,
            days_to_located=case.days_to_located,
            school_days_to_located=case.school_days_to_located,
        )
    if isinstance(event, events.ChildPlaced):
        assert case.placed_on is not None and case.days_to_placed is not None
        school = school_ref(case.placed_school)
        assert school is not None
        return contracts.ChildPlacedOnRoll(
            **base,
            school=school,
            placed_on=case.placed_on,
            roll_change_id=event.roll_change_id,
            days_to_placed=case.days_to_placed,
            school_days_to_placed=case.school_days_to_placed,
            placed_within_target=bool(case.placed_within_target),
        )
    if isinstance(event, events.CaseClosed):
        assert case.closed_on is not None and case.outcome is not None
        return contracts.CmeCaseClosed(
            **base,
            outcome=contracts.CaseOutcome(case.outcome.value),
            closed_on=case.closed_on,
            other_la_code=case.other_la_code,
            duplicate_of=case.duplicate_of,
            days_open=max(0, (case.closed_on - case.opened_on).days),
        )
    if isinstance(event, events.ReviewOverdue):
        return contracts.CmeReviewOverdue(
            **base,
            review_due=event.review_due,
            period=event.period,
            days_overdue=event.days_overdue,
            district=case.district,
        )
    raise TypeError(f"no contract for {type(event).__name__}")


def ehe_contract(event: events.Event, reg: EheRegistration) -> IntegrationEvent:
    if isinstance(event, events.EheRegistered):
        return contracts.EheRegistered(
            child_ref=reg.child_ref,
            aggregate_id=reg.id,
            aggregate_version=event.version,
            occurred_at=reg.updated_at,
            registration_id=reg.id,
            source=contracts.CaseSource(reg.source),
            source_id=reg.source_id,
            registered_on=reg.registered_on,
            parent_notice_received_on=reg.parent_notice_received_on,
            previous_school=school_ref(reg.school),
            first_contact_due=reg.first_contact_due,
            visit_offer_due=reg.visit_offer_due,
            next_review_due=reg.next_review_due,
        )
    raise TypeError(f"no contract for {type(event).__name__}")
