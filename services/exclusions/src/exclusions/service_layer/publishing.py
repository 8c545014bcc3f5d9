"""Domain event -> public integration event: the only place exclusions builds contracts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from exclusions.domain import events
from exclusions.domain.model import Exclusion, PartTimeTimetable, PupilYear
from exclusions.domain.rules import CAP_DAYS
from inclusion_kit.contracts import IntegrationEvent
from inclusion_kit.contracts.events import common as public
from inclusion_kit.contracts.events import exclusions as contracts
from inclusion_kit.contracts.events.roll import SenProvision

if TYPE_CHECKING:
    from exclusions.adapters.repository import SchoolRepository


def school_ref(urn: str, row: dict[str, Any] | None) -> public.SchoolRef:
    if row is None:  # every school we accept a notification for is known from the roll events
        return public.SchoolRef(urn=urn)
    return public.SchoolRef(
        urn=row["urn"],
        laestab=row["laestab"],
        la_code=row["la_code"],
        name=row["name"],
        phase=public.Phase(row["phase"] or "unknown"),
        district=row["district"],
    )


def _deadlines(e: Exclusion) -> contracts.ExclusionDeadlines:
    return contracts.ExclusionDeadlines(
        board_review_due=e.board_review_due,
        board_review_reasons=[contracts.BoardReviewReason(r.value) for r in e.board_review_reasons],
        representations_review_due=e.representations_review_due,
        sixth_day_provision_due=e.sixth_day_due,
        provision_responsibility=(
            contracts.ProvisionResponsibility(e.provision_responsibility.value)
            if e.provision_responsibility
            else None
        ),
    )


async def exclusion_contract(
    event: events.Event, e: Exclusion, schools: SchoolRepository, now: datetime
) -> IntegrationEvent:
    school = school_ref(e.school_urn, await schools.get(e.school_urn))
    base: dict[str, Any] = {
        "child_ref": e.child_ref,
        "aggregate_id": e.id,
        "aggregate_version": event.version,
        "exclusion_id": e.id,
        "school": school,
        "kind": contracts.ExclusionKind(e.kind.value),
    }
    if isinstance(event, events.ExclusionIssued):
        return contracts.ExclusionIssued(
            **base,
            occurred_at=e.notified_at,
            upn=e.upn,
            start_date=e.start_date,
            start_session=contracts.Session(e.start_session.value),
            end_date=e.end_date,
            sessions=e.sessions,
            days=e.days,
            reason_codes=list(e.reason_codes),
            academic_year=e.academic_year,
            pupil=contracts.PupilFlags(
                sen_provision=SenProvision(e.pupil.sen_provision),
                ehc_plan=e.pupil.ehc_plan,
                fsm_eligible=e.pupil.fsm_eligible,
                looked_after=e.pupil.looked_after,
                child_in_need=e.pupil.child_in_need,
                child_protection_plan=e.pupil.child_protection_plan,
            ),
            parents_notified_at=e.parents_notified_at,
            notified_at=e.notified_at,
            misses_public_exam=e.misses_public_exam,
            suspension_days_this_year=event.suspension_days_this_year,
            suspensions_this_year=event.suspensions_this_year,
            deadlines=_deadlines(e),
        )
    if isinstance(event, events.ExclusionWithdrawn):
        assert e.withdrawn_on is not None
        return contracts.ExclusionWithdrawn(
            **base,
            occurred_at=e.updated_at or now,
            start_date=e.start_date,
            academic_year=e.academic_year,
            withdrawn_on=e.withdrawn_on,
            reason=e.withdrawal_reason,
            suspension_days_this_year=event.suspension_days_this_year,
        )
    if isinstance(event, events.ProvisionArranged):
        p = e.provision
        assert p is not None and e.sixth_day_due is not None and e.provision_responsibility is not None
        return contracts.SixthDayProvisionArranged(
            **base,
            occurred_at=p.recorded_at,
            responsibility=contracts.ProvisionResponsibility(e.provision_responsibility.value),
            provider=p.provider,
            provider_urn=p.provider_urn,
            starts_on=p.starts_on,
            due_by=e.sixth_day_due,
            on_time=p.on_time,
            school_days_late=p.school_days_late,
        )
    if isinstance(event, events.ProvisionMissed):
        assert e.sixth_day_due is not None and e.provision_responsibility is not None
        return contracts.SixthDayProvisionMissed(
            **base,
            occurred_at=e.updated_at or now,
            responsibility=contracts.ProvisionResponsibility(e.provision_responsibility.value),
            due_by=e.sixth_day_due,
            detected_on=event.detected_on,
        )
    raise TypeError(f"no contract for {type(event).__name__}")


async def pupil_year_contract(
    event: events.Event, year: PupilYear, schools: SchoolRepository, now: datetime
) -> IntegrationEvent:
    base: dict[str, Any] = {
        "child_ref": year.child_ref,
        "aggregate_id": year.id,
        "aggregate_version": event.version,
        "occurred_at": year.updated_at or now,
        "academic_year": year.academic_year,
    }
    if isinstance(event, events.RepeatSuspensionFlagged):
        return contracts.RepeatSuspensionFlagged(
            **base,
            school=school_ref(event.school_urn, await schools.get(event.school_urn)),
            upn=event.upn,
            suspensions_this_year=event.suspensions,
            suspension_days_this_year=event.days,
            exclusion_ids=list(event.exclusion_ids),
            flagged_on=event.flagged_on,
        )
    if isinstance(event, events.SuspensionLimitReached):
        return contracts.SuspensionLimitReached(
            **base,
            school=school_ref(event.school_urn, await schools.get(event.school_urn)),
            upn=event.upn,
            suspension_days_this_year=event.days,
            warning_days=event.warning_days,
            cap_days=CAP_DAYS,
            remaining_days=max(0.0, CAP_DAYS - event.days),
        )
    raise TypeError(f"no contract for {type(event).__name__}")


async def timetable_contract(
    event: events.Event, t: PartTimeTimetable, schools: SchoolRepository, now: datetime
) -> IntegrationEvent:
    base: dict[str, Any] = {
        "child_ref": t.child_ref,
        "aggregate_id": t.id,
        "aggregate_version": event.version,
        "timetable_id": t.id,
        "school": school_ref(t.school_urn, await schools.get(t.school_urn)),
    }
    if isinstance(event, events.PartTimeTimetableStarted):
        return contracts.PartTimeTimetableStarted(
            **base,
            occurred_at=t.notified_at,
            upn=t.upn,
            starts_on=t.starts_on,
            planned_end_on=t.planned_end_on,
            hours_per_week=t.hours_per_week,
            reason=t.reason,
            parent_agreed_on=t.parent_agreed_on,
            review_dates=list(t.review_dates),
        )
    if isinstance(event, events.PartTimeTimetableEnded):
        assert t.ended_on is not None and t.outcome is not None
        return contracts.PartTimeTimetableEnded(
            **base,
            occurred_at=t.updated_at or now,
            starts_on=t.starts_on,
            planned_end_on=t.planned_end_on,
            ended_on=t.ended_on,
            outcome=contracts.TimetableOutcome(t.outcome.value),
            ran_past_planned_end=t.ran_past_planned_end,
        )
    raise TypeError(f"no contract for {type(event).__name__}")
