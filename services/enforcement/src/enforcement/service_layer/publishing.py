"""Domain event -> public integration event: the only place enforcement builds contracts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from enforcement.adapters.positions import Crossing
from enforcement.domain import events
from enforcement.domain.model import PenaltyNotice, PenaltyRequest, ProsecutionCase
from enforcement.domain.positions import AbsenceRules
from inclusion_kit.contracts import IntegrationEvent
from inclusion_kit.contracts.events import common as public
from inclusion_kit.contracts.events import enforcement as contracts

if TYPE_CHECKING:
    from enforcement.service_layer.unit_of_work import UnitOfWork


def school_ref(row: dict[str, Any] | None, urn: str) -> public.SchoolRef:
    if row is None:
        return public.SchoolRef(urn=urn)
    return public.SchoolRef(
        urn=row["urn"],
        laestab=row["laestab"],
        la_code=row["la_code"],
        name=row["name"],
        phase=public.Phase(row["phase"]),
        district=row["district"],
    )


def school_row(school: public.SchoolRef, now: datetime) -> dict[str, Any]:
    return {
        "urn": school.urn,
        "laestab": school.laestab,
        "la_code": school.la_code,
        "name": school.name,
        "phase": school.phase.value,
        "district": school.district,
        "updated_at": now,
    }


def persistent_absence(
    crossing: Crossing, school: public.SchoolRef, rules: AbsenceRules, now: datetime
) -> list[IntegrationEvent]:
    absent = crossing.authorised + crossing.unauthorised
    percent = round(100.0 * absent / crossing.possible, 2) if crossing.possible else 0.0
    found: list[IntegrationEvent] = []
    year_id = crossing.academic_year.replace("/", "-")
    for raised in crossing.raised:
        level = contracts.AbsenceLevel(raised.level)
        found.append(
            contracts.PersistentAbsenceIdentified(
                child_ref=crossing.child_ref,
                aggregate_id=f"{crossing.school_urn}/{crossing.child_ref}/{year_id}",
                aggregate_version=crossing.version,
                occurred_at=now,
                school=school,
                upn=crossing.upn,
                academic_year=crossing.academic_year,
                term=crossing.term,
                level=level,
                basis=contracts.IdentificationBasis(raised.basis),
                threshold_percent=rules.persistent_percent
                if level is contracts.AbsenceLevel.PERSISTENT
                else rules.severe_percent,
                as_at=crossing.as_at,
                possible_sessions=crossing.possible,
                absence_sessions=absent,
                authorised_sessions=crossing.authorised,
                unauthorised_sessions=crossing.unauthorised,
                absence_percent=min(100.0, percent),
                projected_percent=None if raised.projected is None else min(100.0, raised.projected),
            )
        )
    return found


async def to_contract(event: events.Event, aggregate: Any, uow: UnitOfWork) -> IntegrationEvent:
    now = datetime.now(UTC)
    base = {
        "aggregate_id": aggregate.id,
        "aggregate_version": event.version,
        "child_ref": aggregate.child_ref,
    }
    if isinstance(aggregate, PenaltyRequest):
        r = aggregate
        if isinstance(event, events.PenaltyNoticeRequested):
            return contracts.PenaltyNoticeRequested(
                **base,
                occurred_at=r.requested_at,
                request_id=r.id,
                school=school_ref(await uow.schools.get(r.school_urn), r.school_urn),
                offence_type=contracts.OffenceType(r.offence_type.value),
                period_start=r.period_start,
                period_end=r.period_end,
                parents=len(r.parents),
                parent_refs=[p.parent_ref for p in r.parents],
                notice_to_improve_issued_on=r.notice_to_improve_issued_on,
                requested_at=r.requested_at,
            )
        if isinstance(event, events.PenaltyNoticeDeclined):
            decided = r.decision.decided_at if r.decision else now
            return contracts.PenaltyNoticeDeclined(
                **base,
                occurred_at=decided,
                request_id=r.id,
                parent_ref=event.parent_ref,
                code_of_conduct=event.code_of_conduct,
                rule=event.rule,
                reason=event.reason[:2000],
                decided_at=decided,
            )
    if isinstance(aggregate, PenaltyNotice):
        n = aggregate
        common = {**base, "notice_id": n.id, "notice_number": n.number, "parent_ref": n.parent_ref}
        if isinstance(event, events.PenaltyNoticeIssued):
            return contracts.PenaltyNoticeIssued(
                **common,
                occurred_at=n.created_at,
                request_id=n.request_id,
                school=school_ref(await uow.schools.get(n.school_urn), n.school_urn),
                code_of_conduct=n.code_of_conduct,
                sequence=n.sequence,
                issued_on=n.issued_on,
                issued_within_target=n.issued_within_target,
                service_method=contracts.ServiceMethod(n.service_method.value),
                served_on=n.served_on,
                received_on=n.received_on,
                reduced_amount_pence=n.amounts.reduced_pence,
                reduced_due_by=n.reduced_due_by,
                full_amount_pence=n.amounts.full_pence,
                full_due_by=n.full_due_by,
            )
        if isinstance(event, events.PenaltyNoticePaid):
            assert n.paid_on is not None and n.paid_pence is not None
            return contracts.PenaltyNoticePaid(
                **common,
                occurred_at=n.updated_at or now,
                paid_on=n.paid_on,
                amount_pence=n.paid_pence,
                rate=contracts.PaymentRate(n.payment_rate or "unknown"),
            )
        if isinstance(event, events.PenaltyNoticeWithdrawn):
            assert n.withdrawn_on is not None and n.withdrawal_ground is not None
            return contracts.PenaltyNoticeWithdrawn(
                **common,
                occurred_at=n.updated_at or now,
                withdrawn_on=n.withdrawn_on,
                ground=contracts.WithdrawalGround(n.withdrawal_ground.value),
            )
    if isinstance(aggregate, ProsecutionCase):
        c = aggregate
        if isinstance(event, events.ProsecutionStarted):
            return contracts.ProsecutionStarted(
                **base,
                occurred_at=c.created_at,
                case_id=c.id,
                notice_id=c.notice_id,
                parent_ref=c.parent_ref,
                offence_section=contracts.OffenceSection(c.offence_section.value),
                last_offence_date=c.last_offence_date,
                time_limit=c.time_limit,
                started_on=c.started_on,
            )
        if isinstance(event, events.ProsecutionConcluded):
            assert c.outcome is not None and c.concluded_on is not None
            return contracts.ProsecutionConcluded(
                **base,
                occurred_at=c.updated_at or now,
                case_id=c.id,
                parent_ref=c.parent_ref,
                outcome=contracts.CourtOutcome(c.outcome.value),
                concluded_on=c.concluded_on,
                fine_pence=c.fine_pence,
                costs_pence=c.costs_pence,
                orders=c.orders,
            )
    raise TypeError(f"no contract for {type(event).__name__} on {type(aggregate).__name__}")
