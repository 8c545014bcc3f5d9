"""Repositories of cme-tracker: load and save aggregates through the unit of work's session.

Aggregates loaded to be changed are read ``FOR UPDATE`` (PostgreSQL), so two officers acting on
one case at once are serialised; an update also checks the version it loaded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cme_tracker.adapters.orm import (
    cme_case_history,
    cme_case_sources,
    cme_cases,
    cme_enquiries,
    ehe_registrations,
    enrolments,
    roll_deletions,
)
from cme_tracker.domain.model import (
    ACTIVE,
    CmeCase,
    EheRegistration,
    EheStatus,
    Enquiry,
    EnquiryKind,
    EnquiryResult,
    Outcome,
    Status,
)


class ConcurrentUpdate(Exception):
    pass


def utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite hands back naive datetimes
    return value


def _dob(child: dict[str, Any]) -> date | None:
    value = child.get("date_of_birth")
    return date.fromisoformat(value) if isinstance(value, str) else None


def _match_child(table: Any, child_ref: str, upn: str | None) -> Any:
    """The platform's reference first; the UPN where the sender gave one."""
    return or_(table.c.child_ref == child_ref, table.c.upn == upn) if upn else table.c.child_ref == child_ref


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: dict[str, CmeCase] = {}
        self._loaded_version: dict[str, int] = {}

    def add(self, case: CmeCase) -> None:
        self.seen[case.id] = case

    async def get(self, case_id: str, *, for_update: bool = False) -> CmeCase | None:
        stmt = select(cme_cases).where(cme_cases.c.id == case_id)
        return await self._one(stmt.with_for_update() if for_update else stmt)

    async def open_case_for(self, child_ref: str, upn: str | None) -> CmeCase | None:
        for case in self.seen.values():  # one opened earlier in this unit of work (a batch)
            if case.status in ACTIVE and (case.child_ref == child_ref or (upn and case.upn == upn)):
                return case
        stmt = (
            select(cme_cases)
            .where(_match_child(cme_cases, child_ref, upn), cme_cases.c.status.in_([s.value for s in ACTIVE]))
            .order_by(cme_cases.c.opened_at)
            .limit(1)
            .with_for_update()
        )
        return await self._one(stmt)

    async def _one(self, stmt: Any) -> CmeCase | None:
        row = (await self.session.execute(stmt)).mappings().first()
        if row is None:
            return None
        if row["id"] in self.seen:
            return self.seen[row["id"]]
        enquiries = (
            (
                await self.session.execute(
                    select(cme_enquiries)
                    .where(cme_enquiries.c.case_id == row["id"])
                    .order_by(cme_enquiries.c.made_on)
                )
            )
            .mappings()
            .all()
        )
        case = case_from_row(row, [enquiry_from_row(e) for e in enquiries])
        self.seen[case.id] = case
        self._loaded_version[case.id] = case.version
        return case

    async def source_taken(self, source: str, source_id: str) -> bool:
        found = await self.session.scalar(
            select(cme_case_sources.c.case_id).where(
                cme_case_sources.c.source == source, cme_case_sources.c.source_id == source_id
            )
        )
        return found is not None

    async def take_source(self, source: str, source_id: str, case_id: str, at: datetime) -> None:
        await self.session.execute(
            insert(cme_case_sources).values(
                source=source, source_id=source_id, case_id=case_id, received_at=at
            )
        )

    async def any_enquiry_about(self, child_ref: str, upn: str | None) -> bool:
        """Whether the LA has recorded any enquiry in any case about this child."""
        stmt = select(
            exists().where(cme_enquiries.c.case_id == cme_cases.c.id, _match_child(cme_cases, child_ref, upn))
        )
        return bool(await self.session.scalar(stmt))

    async def save(self) -> None:
        for case in self.seen.values():
            if not case.changed:
                continue
            values = case_to_row(case)
            if case.id not in self._loaded_version:
                await self.session.execute(insert(cme_cases).values(values))
                self._loaded_version[case.id] = case.version
            else:
                result = await self.session.execute(
                    update(cme_cases)
                    .where(cme_cases.c.id == case.id, cme_cases.c.version == self._loaded_version[case.id])
                    .values(values)
                )
                if not getattr(result, "rowcount", 1):
                    raise ConcurrentUpdate(f"case {case.id} changed meanwhile")
                self._loaded_version[case.id] = case.version
            if case.new_enquiries:
                await self.session.execute(
                    insert(cme_enquiries),
                    [
                        {
                            "id": e.id,
                            "case_id": case.id,
                            "kind": e.kind.value,
                            "made_on": e.made_on,
                            "made_by": e.made_by,
                            "result": e.result.value,
                            "notes": e.notes,
                            "recorded_at": e.recorded_at,
                            "recorded_by": e.recorded_by,
                        }
                        for e in case.new_enquiries
                    ],
                )
            if case.new_history:
                await self.session.execute(
                    insert(cme_case_history),
                    [
                        {
                            "case_id": case.id,
                            "at": h.at,
                            "action": h.action,
                            "actor": h.actor,
                            "details": h.details,
                        }
                        for h in case.new_history
                    ],
                )

    async def overdue_review_ids(self, today: date, limit: int, after: str = "") -> list[str]:
        """Active cases whose review date has passed, in id order (for the scheduled job)."""
        rows = await self.session.execute(
            select(cme_cases.c.id)
            .where(
                cme_cases.c.status.in_([s.value for s in ACTIVE]),
                cme_cases.c.next_review_due < today,
                cme_cases.c.id > after,
            )
            .order_by(cme_cases.c.id)
            .limit(limit)
        )
        return list(rows.scalars().all())

    def clear(self) -> None:
        for case in self.seen.values():
            case.new_enquiries.clear()
            case.new_history.clear()
            case.pending_events.clear()
            case.changed = False


def case_to_row(c: CmeCase) -> dict[str, Any]:
    return {
        "id": c.id,
        "child_ref": c.child_ref,
        "upn": c.upn,
        "child": c.child,
        "date_of_birth": _dob(c.child),
        "status": c.status.value,
        "opened_on": c.opened_on,
        "opened_at": c.opened_at,
        "source": c.source,
        "source_id": c.source_id,
        "school": c.school,
        "school_urn": (c.school or {}).get("urn"),
        "district": c.district,
        "next_review_due": c.next_review_due,
        "last_reviewed_on": c.last_reviewed_on,
        "located_on": c.located_on,
        "days_to_located": c.days_to_located,
        "school_days_to_located": c.school_days_to_located,
        "placed_on": c.placed_on,
        "placed_school": c.placed_school,
        "days_to_placed": c.days_to_placed,
        "school_days_to_placed": c.school_days_to_placed,
        "placed_within_target": c.placed_within_target,
        "closed_on": c.closed_on,
        "outcome": c.outcome.value if c.outcome else None,
        "other_la_code": c.other_la_code,
        "duplicate_of": c.duplicate_of,
        "overdue_review_due": c.overdue_review_due,
        "overdue_period": c.overdue_period,
        "updated_at": c.updated_at,
        "version": c.version,
    }


def case_from_row(row: Any, enquiries: list[Enquiry] | None = None) -> CmeCase:
    opened_at = utc(row["opened_at"])
    updated_at = utc(row["updated_at"])
    assert opened_at is not None and updated_at is not None
    return CmeCase(
        id=row["id"],
        child_ref=row["child_ref"],
        upn=row["upn"],
        child=row["child"],
        status=Status(row["status"]),
        opened_on=row["opened_on"],
        opened_at=opened_at,
        source=row["source"],
        source_id=row["source_id"],
        school=row["school"],
        district=row["district"],
        next_review_due=row["next_review_due"],
        updated_at=updated_at,
        last_reviewed_on=row["last_reviewed_on"],
        located_on=row["located_on"],
        days_to_located=row["days_to_located"],
        school_days_to_located=row["school_days_to_located"],
        placed_on=row["placed_on"],
        placed_school=row["placed_school"],
        days_to_placed=row["days_to_placed"],
        school_days_to_placed=row["school_days_to_placed"],
        placed_within_target=row["placed_within_target"],
        closed_on=row["closed_on"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        other_la_code=row["other_la_code"],
        duplicate_of=row["duplicate_of"],
        overdue_review_due=row["overdue_review_due"],
        overdue_period=row["overdue_period"],
        version=row["version"],
        enquiries=list(enquiries or []),
    )


def enquiry_from_row(row: Any) -> Enquiry:
    recorded_at = utc(row["recorded_at"])
    assert recorded_at is not None
    return Enquiry(
        id=row["id"],
        kind=EnquiryKind(row["kind"]),
        made_on=row["made_on"],
        made_by=row["made_by"],
        result=EnquiryResult(row["result"]),
        notes=row["notes"],
        recorded_at=recorded_at,
        recorded_by=row["recorded_by"],
    )


class EheRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: dict[str, EheRegistration] = {}
        self._loaded_version: dict[str, int] = {}

    def add(self, registration: EheRegistration) -> None:
        self.seen[registration.id] = registration

    async def get(self, registration_id: str, *, for_update: bool = False) -> EheRegistration | None:
        stmt = select(ehe_registrations).where(ehe_registrations.c.id == registration_id)
        return await self._one(stmt.with_for_update() if for_update else stmt)

    async def active_for(self, child_ref: str, upn: str | None) -> EheRegistration | None:
        for reg in self.seen.values():  # one registered earlier in this unit of work (a batch)
            if reg.status is EheStatus.ACTIVE and (reg.child_ref == child_ref or (upn and reg.upn == upn)):
                return reg
        stmt = (
            select(ehe_registrations)
            .where(
                _match_child(ehe_registrations, child_ref, upn),
                ehe_registrations.c.status == EheStatus.ACTIVE.value,
            )
            .limit(1)
            .with_for_update()
        )
        return await self._one(stmt)

    async def source_taken(self, source: str, source_id: str) -> bool:
        if any(r.source == source and r.source_id == source_id for r in self.seen.values()):
            return True
        found = await self.session.scalar(
            select(ehe_registrations.c.id).where(
                ehe_registrations.c.source == source, ehe_registrations.c.source_id == source_id
            )
        )
        return found is not None

    async def _one(self, stmt: Any) -> EheRegistration | None:
        row = (await self.session.execute(stmt)).mappings().first()
        if row is None:
            return None
        if row["id"] in self.seen:
            return self.seen[row["id"]]
        reg = ehe_from_row(row)
        self.seen[reg.id] = reg
        self._loaded_version[reg.id] = reg.version
        return reg

    async def save(self) -> None:
        for reg in self.seen.values():
            if not reg.changed:
                continue
            values = ehe_to_row(reg)
            if reg.id not in self._loaded_version:
                await self.session.execute(insert(ehe_registrations).values(values))
            else:
                values["version"] = reg.version = reg.version + (0 if reg.pending_events else 1)
                result = await self.session.execute(
                    update(ehe_registrations)
                    .where(
                        ehe_registrations.c.id == reg.id,
                        ehe_registrations.c.version == self._loaded_version[reg.id],
                    )
                    .values(values)
                )
                if not getattr(result, "rowcount", 1):
                    raise ConcurrentUpdate(f"registration {reg.id} changed meanwhile")
            self._loaded_version[reg.id] = reg.version

    def clear(self) -> None:
        for reg in self.seen.values():
            reg.pending_events.clear()
            reg.changed = False


def ehe_to_row(r: EheRegistration) -> dict[str, Any]:
    return {
        "id": r.id,
        "child_ref": r.child_ref,
        "upn": r.upn,
        "child": r.child,
        "status": r.status.value,
        "source": r.source,
        "source_id": r.source_id,
        "registered_on": r.registered_on,
        "parent_notice_received_on": r.parent_notice_received_on,
        "school": r.school,
        "school_urn": (r.school or {}).get("urn"),
        "district": r.district,
        "first_contact_due": r.first_contact_due,
        "first_contact_on": r.first_contact_on,
        "visit_offer_due": r.visit_offer_due,
        "visit_offered_on": r.visit_offered_on,
        "next_review_due": r.next_review_due,
        "last_reviewed_on": r.last_reviewed_on,
        "ended_on": r.ended_on,
        "end_reason": r.end_reason,
        "updated_at": r.updated_at,
        "version": r.version,
    }


def ehe_from_row(row: Any) -> EheRegistration:
    updated_at = utc(row["updated_at"])
    assert updated_at is not None
    return EheRegistration(
        id=row["id"],
        child_ref=row["child_ref"],
        upn=row["upn"],
        child=row["child"],
        status=EheStatus(row["status"]),
        source=row["source"],
        source_id=row["source_id"],
        registered_on=row["registered_on"],
        parent_notice_received_on=row["parent_notice_received_on"],
        school=row["school"],
        district=row["district"],
        first_contact_due=row["first_contact_due"],
        visit_offer_due=row["visit_offer_due"],
        next_review_due=row["next_review_due"],
        updated_at=updated_at,
        first_contact_on=row["first_contact_on"],
        visit_offered_on=row["visit_offered_on"],
        last_reviewed_on=row["last_reviewed_on"],
        ended_on=row["ended_on"],
        end_reason=row["end_reason"],
        version=row["version"],
    )


class WatchRepository:
    """The off-rolling watch's facts: deletions seen and the rolls they are compared with."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record_deletion(self, values: dict[str, Any]) -> bool:
        """Insert once per roll change; False when it was already recorded."""
        dialect = self.session.bind.dialect.name if self.session.bind is not None else "postgresql"
        insert_fn: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        result = await self.session.execute(insert_fn(roll_deletions).values(values).on_conflict_do_nothing())
        return bool(getattr(result, "rowcount", 1))

    async def record_enrolment(self, values: dict[str, Any]) -> None:
        """Keep the latest version of a pupil's enrolment at a school (older versions are ignored)."""
        key = and_(
            enrolments.c.school_urn == values["school_urn"], enrolments.c.child_ref == values["child_ref"]
        )
        known = await self.session.scalar(select(enrolments.c.version).where(key))
        if known is None:
            await self.session.execute(insert(enrolments).values(values))
        elif values["version"] > known:
            await self.session.execute(update(enrolments).where(key).values(values))

    async def year_group_of(self, school_urn: str, child_ref: str) -> str | None:
        value = await self.session.scalar(
            select(enrolments.c.year_group).where(
                enrolments.c.school_urn == school_urn, enrolments.c.child_ref == child_ref
            )
        )
        return str(value) if value is not None else None
