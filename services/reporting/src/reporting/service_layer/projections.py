"""The projector: every topic's events into one generation of the read models.

Each apply function takes a run of events of one type (the dispatcher groups consecutive events of
a type) and writes them with a few set-based statements. Rules that keep the read models right
whatever the delivery:

* **Exactly once per generation.** The generation's ledger (``applied``) takes the events' ids
  first, in the same transaction; only ids new to it are applied. The consumer's inbox already
  drops redeliveries; the ledger also covers a generation fed by the live consumer and a rebuild
  at once around a switch.
* **Order-tolerant.** Topics are not ordered against each other (a rebuild may read every
  attendance mark before the roll), so records are upserted column by column (a withdrawal that
  arrives before its exclusion leaves a row the exclusion then completes), counters only add (a
  correction subtracts its ``previous_code`` and adds its code), and whole-state events (an
  enrolment) apply only when newer than what is stored (``aggregate_version``).
* **Tolerant readers.** Optional fields may be missing; unknown codes are counted as unknown,
  never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import add
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from inclusion_kit.calendar import london_date
from inclusion_kit.contracts.base import IntegrationEvent
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.contracts.events import attendance, cme, enforcement, exclusions, referrals, roll
from inclusion_kit.contracts.events.common import SchoolRef
from reporting.adapters.orm import COUNTERS, ProjectionTables
from reporting.adapters.repository import (
    add_attendance,
    fresh_event_ids,
    insert_ignore,
    upsert,
)
from reporting.domain.model import MarkDeltas, is_grt


def _value(enum_or_str: Any) -> str | None:
    if enum_or_str is None:
        return None
    return str(getattr(enum_or_str, "value", enum_or_str))


class Projector:
    """Writes events into one generation (``pt``) through the unit of work's session."""

    def __init__(self, session: AsyncSession, pt: ProjectionTables, marks: MarkDeltas) -> None:
        self.session = session
        self.pt = pt
        self.marks = marks

    async def apply(self, events: Sequence[IntegrationEvent], envelopes: Sequence[Envelope]) -> int:
        """Apply the events (all of one type) that this generation has not seen; returns how many."""
        fresh = await fresh_event_ids(self.session, self.pt, [e.id for e in envelopes])
        todo = [event for event, envelope in zip(events, envelopes, strict=True) if envelope.id in fresh]
        if not todo:
            return 0
        apply = _APPLY.get(type(todo[0]).event_type)
        if apply is not None:
            await apply(self, todo)
        return len(todo)

    # -- shared ------------------------------------------------------------------------------

    async def schools(self, refs: Sequence[SchoolRef | None]) -> None:
        """The school dimension (phase, district) from what events say; the latest wins."""
        latest: dict[str, dict[str, Any]] = {}
        for ref in refs:
            if ref is None:
                continue
            latest[ref.urn] = {
                "urn": ref.urn,
                "la_code": ref.la_code,
                "name": ref.name,
                "phase": _value(ref.phase) or "unknown",
                "district": ref.district,
            }
        await upsert(self.session, self.pt.schools, list(latest.values()), ("urn",), only_changed=True)

    # -- referrals topic ---------------------------------------------------------------------

    async def enrolments(self, events: Sequence[IntegrationEvent]) -> None:
        newest: dict[tuple[str, str], roll.PupilEnrolmentRecorded] = {}
        for event in events:
            assert isinstance(event, roll.PupilEnrolmentRecorded)
            key = (event.school.urn, event.upn)
            if key not in newest or newest[key].aggregate_version < event.aggregate_version:
                newest[key] = event
        await self.schools([e.school for e in newest.values()])
        t = self.pt.enrolments
        stored: dict[tuple[str, str], int] = {}
        keys = sorted(newest)
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            rows = await self.session.execute(
                select(t.c.school_urn, t.c.upn, t.c.version).where(tuple_(t.c.school_urn, t.c.upn).in_(part))
            )
            stored.update({(r.school_urn, r.upn): r.version for r in rows})
        changed = [e for k, e in newest.items() if stored.get(k, 0) < e.aggregate_version]
        if not changed:
            return
        await upsert(
            self.session,
            t,
            [
                {
                    "school_urn": e.school.urn,
                    "upn": e.upn,
                    "child_ref": e.child_ref,
                    "year_group": e.year_group,
                    "on_roll_from": e.on_roll_from,
                    "on_roll_until": e.on_roll_until,
                    "sen_provision": _value(e.characteristics.sen_provision) or "unknown",
                    "looked_after": e.characteristics.looked_after,
                    "child_in_need": e.characteristics.child_in_need,
                    "child_protection_plan": e.characteristics.child_protection_plan,
                    "ethnicity": e.characteristics.ethnicity,
                    "grt": is_grt(e.characteristics.ethnicity),
                    "version": e.aggregate_version,
                }
                for e in changed
            ],
            ("school_urn", "upn"),
        )
        f = self.pt.fsm_periods
        pairs = sorted((e.school.urn, e.upn) for e in changed)
        for start in range(0, len(pairs), 500):
            await self.session.execute(
                delete(f).where(tuple_(f.c.school_urn, f.c.upn).in_(pairs[start : start + 500]))
            )
        periods = {
            (e.school.urn, e.upn, p.start): p.end for e in changed for p in e.characteristics.fsm_periods
        }
        await insert_ignore(
            self.session,
            f,
            [
                {"school_urn": k[0], "upn": k[1], "start": k[2], "end": end}
                for k, end in sorted(periods.items())
            ],
        )

    async def referrals_received(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, referrals.ReferralReceived)
            rows.append(
                {
                    "referral_id": e.referral_id,
                    "child_ref": e.child_ref,
                    "kind": _value(e.kind),
                    "school_urn": e.school.urn if e.school else None,
                    "received_on": london_date(e.received_at),
                }
            )
        await self.schools([e.school for e in events if isinstance(e, referrals.ReferralReceived)])
        await upsert(self.session, self.pt.referrals, rows, ("referral_id",))

    async def referrals_triaged(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, referrals.ReferralTriaged)
            rows.append(
                {
                    "referral_id": e.referral_id,
                    "child_ref": e.child_ref,
                    "kind": _value(e.kind),
                    "decision": _value(e.decision),
                    "decided_on": london_date(e.decided_at),
                    "within_target": e.responded_within_target,
                }
            )
        await upsert(self.session, self.pt.referrals, rows, ("referral_id",))

    async def referrals_closed(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, referrals.ReferralClosed)
            rows.append(
                {
                    "referral_id": e.referral_id,
                    "child_ref": e.child_ref,
                    "closed_on": london_date(e.closed_at),
                }
            )
        await upsert(self.session, self.pt.referrals, rows, ("referral_id",))

    # -- attendance topic --------------------------------------------------------------------

    async def attendance(self, events: Sequence[IntegrationEvent]) -> None:
        """Marks into per-enrolment and per-school session counts for each period they fall in;
        a correction takes its previous code's session out and puts the new one in.

        The batch is summed here first (one delta per enrolment and period, whatever the number
        of events and marks), then written with one statement (PostgreSQL)."""
        deltas: dict[tuple[str, str, str], tuple[int, ...]] = {}
        schools: dict[str, SchoolRef] = {}
        of = self.marks.of
        for event in events:
            assert isinstance(event, attendance.AttendanceRecorded)
            school = event.school
            schools[school.urn] = school
            urn, upn = school.urn, event.upn
            marks = tuple((m.date, m.code, m.previous_code, m.regime) for m in event.marks)
            for period, delta in of(marks):
                key = (urn, upn, period)
                known = deltas.get(key)
                deltas[key] = delta if known is None else tuple(map(add, known, delta))
        await self.schools(list(schools.values()))
        await add_attendance(self.session, self.pt, deltas, COUNTERS)

    # -- exclusions topic --------------------------------------------------------------------

    async def exclusions_issued(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, exclusions.ExclusionIssued)
            sen = _value(e.pupil.sen_provision)
            deadlines = e.deadlines
            rows.append(
                {
                    "exclusion_id": e.exclusion_id,
                    "child_ref": e.child_ref,
                    "school_urn": e.school.urn,
                    "kind": _value(e.kind),
                    "start_date": e.start_date,
                    "academic_year": e.academic_year,
                    "days": e.days,
                    "reason_codes": ",".join(e.reason_codes)[:40],
                    "fsm": e.pupil.fsm_eligible,
                    "sen_provision": sen,
                    "ehc_plan": bool(e.pupil.ehc_plan or sen == "E"),
                    "looked_after": e.pupil.looked_after,
                    "child_in_need": e.pupil.child_in_need,
                    "provision_due": getattr(deadlines, "sixth_day_provision_due", None),
                    "version": e.aggregate_version,
                }
            )
        await self.schools([e.school for e in events if isinstance(e, exclusions.ExclusionIssued)])
        await upsert(self.session, self.pt.exclusions, rows, ("exclusion_id",))

    async def exclusions_withdrawn(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, exclusions.ExclusionWithdrawn)
            rows.append(
                {
                    "exclusion_id": e.exclusion_id,
                    "child_ref": e.child_ref,
                    "school_urn": e.school.urn,
                    "kind": _value(e.kind),
                    "start_date": e.start_date,
                    "academic_year": e.academic_year,
                    "withdrawn_on": e.withdrawn_on,
                }
            )
        await upsert(self.session, self.pt.exclusions, rows, ("exclusion_id",))

    async def provision_arranged(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, exclusions.SixthDayProvisionArranged)
            rows.append(
                {
                    "exclusion_id": e.exclusion_id,
                    "child_ref": e.child_ref,
                    "school_urn": e.school.urn,
                    "kind": _value(e.kind),
                    "provision_due": e.due_by,
                    "provision_on_time": e.on_time,
                }
            )
        await upsert(self.session, self.pt.exclusions, rows, ("exclusion_id",))

    async def provision_missed(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, exclusions.SixthDayProvisionMissed)
            rows.append(
                {
                    "exclusion_id": e.exclusion_id,
                    "child_ref": e.child_ref,
                    "school_urn": e.school.urn,
                    "kind": _value(e.kind),
                    "provision_due": e.due_by,
                    "provision_missed": True,
                }
            )
        await upsert(self.session, self.pt.exclusions, rows, ("exclusion_id",))

    async def repeat_suspensions(self, events: Sequence[IntegrationEvent]) -> None:
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for e in events:
            assert isinstance(e, exclusions.RepeatSuspensionFlagged)
            rows[(e.child_ref, e.academic_year)] = {
                "child_ref": e.child_ref,
                "academic_year": e.academic_year,
                "school_urn": e.school.urn,
                "flagged_on": e.flagged_on,
                "suspensions": e.suspensions_this_year,
            }
        await upsert(
            self.session, self.pt.repeat_suspensions, list(rows.values()), ("child_ref", "academic_year")
        )

    # -- cme topic ---------------------------------------------------------------------------

    async def cme_opened(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, cme.CmeCaseOpened)
            rows.append(
                {
                    "case_id": e.case_id,
                    "child_ref": e.child_ref,
                    "district": e.school.district if e.school else None,
                    "opened_on": e.opened_on,
                }
            )
        await upsert(self.session, self.pt.cme_cases, rows, ("case_id",))

    async def cme_located(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, cme.ChildLocated)
            rows.append(
                {
                    "case_id": e.case_id,
                    "child_ref": e.child_ref,
                    "located_on": e.located_on,
                    "days_to_located": e.days_to_located,
                }
            )
        await upsert(self.session, self.pt.cme_cases, rows, ("case_id",))

    async def cme_placed(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, cme.ChildPlacedOnRoll)
            rows.append(
                {
                    "case_id": e.case_id,
                    "child_ref": e.child_ref,
                    "placed_on": e.placed_on,
                    "days_to_placed": e.days_to_placed,
                    "placed_within_target": e.placed_within_target,
                }
            )
        await upsert(self.session, self.pt.cme_cases, rows, ("case_id",))

    async def cme_closed(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, cme.CmeCaseClosed)
            rows.append(
                {
                    "case_id": e.case_id,
                    "child_ref": e.child_ref,
                    "closed_on": e.closed_on,
                    "outcome": _value(e.outcome),
                }
            )
        await upsert(self.session, self.pt.cme_cases, rows, ("case_id",))

    async def cme_review_overdue(self, events: Sequence[IntegrationEvent]) -> None:
        counts: dict[str, dict[str, Any]] = {}
        for e in events:
            assert isinstance(e, cme.CmeReviewOverdue)
            row = counts.setdefault(
                e.case_id, {"case_id": e.case_id, "child_ref": e.child_ref, "reviews_overdue": 0}
            )
            row["reviews_overdue"] += 1
        await upsert(
            self.session,
            self.pt.cme_cases,
            list(counts.values()),
            ("case_id",),
            increment=("reviews_overdue",),
        )

    async def ehe_registered(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, cme.EheRegistered)
            rows.append(
                {
                    "registration_id": e.registration_id,
                    "child_ref": e.child_ref,
                    "district": e.previous_school.district if e.previous_school else None,
                    "registered_on": e.registered_on,
                    "first_contact_due": e.first_contact_due,
                    "visit_offer_due": e.visit_offer_due,
                }
            )
        await upsert(self.session, self.pt.ehe_registrations, rows, ("registration_id",))

    # -- enforcement topic -------------------------------------------------------------------

    async def absence_identified(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, enforcement.PersistentAbsenceIdentified)
            rows.append(
                {
                    "school_urn": e.school.urn,
                    "child_ref": e.child_ref,
                    "academic_year": e.academic_year,
                    "term": e.term,
                    "level": _value(e.level),
                    "basis": _value(e.basis),
                    "as_at": e.as_at,
                }
            )
        await self.schools(
            [e.school for e in events if isinstance(e, enforcement.PersistentAbsenceIdentified)]
        )
        await insert_ignore(self.session, self.pt.absence_identified, rows)

    async def notice_requested(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, enforcement.PenaltyNoticeRequested)
            rows.append(
                {
                    "request_id": e.request_id,
                    "child_ref": e.child_ref,
                    "school_urn": e.school.urn,
                    "offence_type": _value(e.offence_type),
                    "requested_on": london_date(e.requested_at),
                }
            )
        await self.schools([e.school for e in events if isinstance(e, enforcement.PenaltyNoticeRequested)])
        await upsert(self.session, self.pt.notice_requests, rows, ("request_id",))

    async def notice_declined(self, events: Sequence[IntegrationEvent]) -> None:
        whole, parents = [], []
        for e in events:
            assert isinstance(e, enforcement.PenaltyNoticeDeclined)
            if e.parent_ref is None:
                whole.append(
                    {
                        "request_id": e.request_id,
                        "child_ref": e.child_ref,
                        "declined_on": london_date(e.decided_at),
                    }
                )
            else:
                parents.append({"request_id": e.request_id, "child_ref": e.child_ref, "declined_parents": 1})
        await upsert(self.session, self.pt.notice_requests, whole, ("request_id",))
        await upsert(
            self.session, self.pt.notice_requests, parents, ("request_id",), increment=("declined_parents",)
        )

    async def notice_issued(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, enforcement.PenaltyNoticeIssued)
            rows.append(
                {
                    "notice_id": e.notice_id,
                    "child_ref": e.child_ref,
                    "request_id": e.request_id,
                    "school_urn": e.school.urn,
                    "issued_on": e.issued_on,
                    "issued_within_target": e.issued_within_target,
                }
            )
        await self.schools([e.school for e in events if isinstance(e, enforcement.PenaltyNoticeIssued)])
        await upsert(self.session, self.pt.penalty_notices, rows, ("notice_id",))

    async def notice_paid(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, enforcement.PenaltyNoticePaid)
            rows.append(
                {
                    "notice_id": e.notice_id,
                    "child_ref": e.child_ref,
                    "paid_on": e.paid_on,
                    "amount_pence": e.amount_pence,
                    "rate": _value(e.rate),
                }
            )
        await upsert(self.session, self.pt.penalty_notices, rows, ("notice_id",))

    async def notice_withdrawn(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, enforcement.PenaltyNoticeWithdrawn)
            rows.append(
                {
                    "notice_id": e.notice_id,
                    "child_ref": e.child_ref,
                    "withdrawn_on": e.withdrawn_on,
                    "withdrawal_ground": _value(e.ground),
                }
            )
        await upsert(self.session, self.pt.penalty_notices, rows, ("notice_id",))

    async def prosecution_started(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, enforcement.ProsecutionStarted)
            rows.append(
                {
                    "case_id": e.case_id,
                    "child_ref": e.child_ref,
                    "notice_id": e.notice_id,
                    "offence_section": _value(e.offence_section),
                    "started_on": e.started_on,
                }
            )
        await upsert(self.session, self.pt.prosecutions, rows, ("case_id",))

    async def prosecution_concluded(self, events: Sequence[IntegrationEvent]) -> None:
        rows = []
        for e in events:
            assert isinstance(e, enforcement.ProsecutionConcluded)
            rows.append(
                {
                    "case_id": e.case_id,
                    "child_ref": e.child_ref,
                    "concluded_on": e.concluded_on,
                    "outcome": _value(e.outcome),
                }
            )
        await upsert(self.session, self.pt.prosecutions, rows, ("case_id",))


_APPLY: dict[str, Any] = {
    roll.PupilEnrolmentRecorded.event_type: Projector.enrolments,
    referrals.ReferralReceived.event_type: Projector.referrals_received,
    referrals.ReferralTriaged.event_type: Projector.referrals_triaged,
    referrals.ReferralClosed.event_type: Projector.referrals_closed,
    attendance.AttendanceRecorded.event_type: Projector.attendance,
    exclusions.ExclusionIssued.event_type: Projector.exclusions_issued,
    exclusions.ExclusionWithdrawn.event_type: Projector.exclusions_withdrawn,
    exclusions.SixthDayProvisionArranged.event_type: Projector.provision_arranged,
    exclusions.SixthDayProvisionMissed.event_type: Projector.provision_missed,
    exclusions.RepeatSuspensionFlagged.event_type: Projector.repeat_suspensions,
    cme.CmeCaseOpened.event_type: Projector.cme_opened,
    cme.ChildLocated.event_type: Projector.cme_located,
    cme.ChildPlacedOnRoll.event_type: Projector.cme_placed,
    cme.CmeCaseClosed.event_type: Projector.cme_closed,
    cme.CmeReviewOverdue.event_type: Projector.cme_review_overdue,
    cme.EheRegistered.event_type: Projector.ehe_registered,
    enforcement.PersistentAbsenceIdentified.event_type: Projector.absence_identified,
    enforcement.PenaltyNoticeRequested.event_type: Projector.notice_requested,
    enforcement.PenaltyNoticeDeclined.event_type: Projector.notice_declined,
    enforcement.PenaltyNoticeIssued.event_type: Projector.notice_issued,
    enforcement.PenaltyNoticePaid.event_type: Projector.notice_paid,
    enforcement.PenaltyNoticeWithdrawn.event_type: Projector.notice_withdrawn,
    enforcement.ProsecutionStarted.event_type: Projector.prosecution_started,
    enforcement.ProsecutionConcluded.event_type: Projector.prosecution_concluded,
}
# Every event type the read models are built from (the consumer handles these, skips the rest).
PROJECTED_TYPES: tuple[str, ...] = tuple(_APPLY)
