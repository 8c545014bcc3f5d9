"""Repositories of enforcement: load and save aggregates through the unit of work's session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from enforcement.adapters.orm import (
    attendance_marks,
    attendance_positions,
    notice_counters,
    parents,
    penalty_notices,
    penalty_requests,
    prosecution_cases,
    schools,
)
from enforcement.domain.model import (
    CaseStatus,
    CourtOutcome,
    Decision,
    LiableParent,
    NoticeStatus,
    OffenceSection,
    OffenceType,
    ParentOutcome,
    PenaltyNotice,
    PenaltyRequest,
    ProsecutionCase,
    RequestStatus,
    ServiceMethod,
    WithdrawalGround,
)
from enforcement.domain.policy import Amounts, SessionMark
from inclusion_kit.codes import StatCategory


class ConcurrentUpdate(Exception):
    pass


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite hands back naive datetimes
    return value


def _d(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value) if isinstance(value, str) else value


class SchoolRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, urn: str) -> dict[str, Any] | None:
        row = (await self.session.execute(select(schools).where(schools.c.urn == urn))).mappings().first()
        return dict(row) if row else None


class PupilLookup:
    """What enforcement knows of a pupil at a school, from the marks it counted."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def child_ref_for(self, school_urn: str, upn: str) -> str | None:
        p = attendance_positions
        found = await self.session.scalar(
            select(p.c.child_ref)
            .where(p.c.school_urn == school_urn, p.c.upn == upn)
            .order_by(p.c.academic_year.desc())
            .limit(1)
        )
        return str(found) if found else None

    async def marks(self, school_urn: str, child_ref: str, start: date, end: date) -> list[SessionMark]:
        m = attendance_marks
        rows = await self.session.execute(
            select(m.c.date, m.c.session, m.c.code, m.c.category, m.c.threshold)
            .where(m.c.school_urn == school_urn, m.c.child_ref == child_ref, m.c.date.between(start, end))
            .order_by(m.c.date, m.c.session)
        )
        return [
            SessionMark(r.date, r.session, r.code, StatCategory(r.category), r.threshold) for r in rows.all()
        ]


class ParentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ref_for(self, match_key: str, now: datetime) -> str:
        """The parent's reference: the existing one for the same person, else a new one."""
        existing = await self.session.scalar(
            select(parents.c.parent_ref).where(parents.c.match_key == match_key)
        )
        if existing:
            return str(existing)
        ref = "p-" + uuid.uuid4().hex[:16]
        await self.session.execute(
            insert(parents).values(parent_ref=ref, match_key=match_key, created_at=now)
        )
        return ref

    async def exists(self, parent_ref: str) -> bool:
        return bool(
            await self.session.scalar(select(parents.c.parent_ref).where(parents.c.parent_ref == parent_ref))
        )


class _Tracked:
    table: Table

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: dict[str, Any] = {}

    def add(self, item: Any) -> None:
        self.seen[item.id] = item

    async def _save_rows(self) -> None:
        for item in self.seen.values():
            if not item.changed:
                continue
            values = self.to_row(item)
            if item.loaded_version == 0:
                await self.session.execute(insert(self.table).values(values))
            else:
                result = await self.session.execute(
                    update(self.table)
                    .where(self.table.c.id == item.id, self.table.c.version == item.loaded_version)
                    .values(values)
                )
                if not getattr(result, "rowcount", 1):
                    raise ConcurrentUpdate(f"{self.table.name} {item.id} changed meanwhile")
            item.changed = False
            item.loaded_version = item.version

    def to_row(self, item: Any) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    async def save(self) -> None:
        await self._save_rows()


def _parent_json(p: LiableParent) -> dict[str, Any]:
    return {
        "parent_ref": p.parent_ref,
        "forename": p.forename,
        "surname": p.surname,
        "relationship": p.relationship,
        "address": p.address,
        "outcome": p.outcome.value,
        "rule": p.rule,
        "reason": p.reason,
        "sequence": p.sequence,
        "issue_due_by": p.issue_due_by.isoformat() if p.issue_due_by else None,
        "notice_id": p.notice_id,
    }


def _parent(data: dict[str, Any]) -> LiableParent:
    return LiableParent(
        parent_ref=data["parent_ref"],
        forename=data["forename"],
        surname=data["surname"],
        relationship=data.get("relationship"),
        address=data.get("address"),
        outcome=ParentOutcome(data.get("outcome", "pending")),
        rule=data.get("rule"),
        reason=data.get("reason"),
        sequence=data.get("sequence"),
        issue_due_by=_d(data.get("issue_due_by")),
        notice_id=data.get("notice_id"),
    )


def request_to_row(r: PenaltyRequest) -> dict[str, Any]:
    d = r.decision
    return {
        "id": r.id,
        "child_ref": r.child_ref,
        "school_urn": r.school_urn,
        "la_code": r.la_code,
        "upn": r.upn,
        "offence_type": r.offence_type.value,
        "period_start": r.period_start,
        "period_end": r.period_end,
        "parents": [_parent_json(p) for p in r.parents],
        "notice_to_improve_issued_on": r.notice_to_improve_issued_on,
        "aggravating_factors": list(r.aggravating_factors),
        "evidence": r.evidence,
        "status": r.status.value,
        "decision": None
        if d is None
        else {
            "decided_at": d.decided_at.isoformat(),
            "decided_by": d.decided_by,
            "eligible": d.eligible,
            "code_of_conduct": d.code_of_conduct,
            "rule": d.rule,
            "reason": d.reason,
            "segments": d.segments,
            "last_offence_date": d.last_offence_date.isoformat() if d.last_offence_date else None,
            "offence_section": d.offence_section,
        },
        "requested_at": r.requested_at,
        "requested_by": r.requested_by,
        "updated_at": r.updated_at,
        "version": r.version,
    }


def request_from_row(row: Any) -> PenaltyRequest:
    d = row["decision"]
    requested = _utc(row["requested_at"])
    assert requested is not None
    request = PenaltyRequest(
        id=row["id"],
        child_ref=row["child_ref"],
        school_urn=row["school_urn"],
        la_code=row["la_code"],
        upn=row["upn"],
        offence_type=OffenceType(row["offence_type"]),
        period_start=row["period_start"],
        period_end=row["period_end"],
        parents=[_parent(p) for p in row["parents"]],
        requested_at=requested,
        requested_by=row["requested_by"],
        notice_to_improve_issued_on=row["notice_to_improve_issued_on"],
        aggravating_factors=list(row["aggravating_factors"] or []),
        evidence=row["evidence"] or {},
        status=RequestStatus(row["status"]),
        decision=None
        if d is None
        else Decision(
            decided_at=datetime.fromisoformat(d["decided_at"]),
            decided_by=d["decided_by"],
            eligible=d["eligible"],
            code_of_conduct=d.get("code_of_conduct"),
            rule=d.get("rule"),
            reason=d["reason"],
            segments=d.get("segments", []),
            last_offence_date=_d(d.get("last_offence_date")),
            offence_section=d.get("offence_section", "s444(1)"),
        ),
        updated_at=_utc(row["updated_at"]),
        version=row["version"],
    )
    request.loaded_version = row["version"]
    return request


class RequestRepository(_Tracked):
    table = penalty_requests

    def to_row(self, item: Any) -> dict[str, Any]:
        return request_to_row(item)

    async def get(self, request_id: str) -> PenaltyRequest | None:
        if request_id in self.seen:
            return self.seen[request_id]  # type: ignore[no-any-return]
        row = (
            (await self.session.execute(select(penalty_requests).where(penalty_requests.c.id == request_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        request = request_from_row(row)
        self.seen[request.id] = request
        return request


def _amounts_json(a: Amounts) -> dict[str, Any]:
    return {
        "full_pence": a.full_pence,
        "full_within_days": a.full_within_days,
        "reduced_pence": a.reduced_pence,
        "reduced_within_days": a.reduced_within_days,
    }


def notice_to_row(n: PenaltyNotice) -> dict[str, Any]:
    return {
        "id": n.id,
        "number": n.number,
        "request_id": n.request_id,
        "child_ref": n.child_ref,
        "school_urn": n.school_urn,
        "parent_ref": n.parent_ref,
        "code_of_conduct": n.code_of_conduct,
        "sequence": n.sequence,
        "amounts": _amounts_json(n.amounts),
        "offence_type": n.offence_type.value,
        "issued_on": n.issued_on,
        "issued_by": n.issued_by,
        "issue_due_by": n.issue_due_by,
        "service_method": n.service_method.value,
        "served_on": n.served_on,
        "received_on": n.received_on,
        "reduced_due_by": n.reduced_due_by,
        "full_due_by": n.full_due_by,
        "last_offence_date": n.last_offence_date,
        "status": n.status.value,
        "paid_on": n.paid_on,
        "paid_pence": n.paid_pence,
        "payment_rate": n.payment_rate,
        "withdrawn_on": n.withdrawn_on,
        "withdrawal_ground": n.withdrawal_ground.value if n.withdrawal_ground else None,
        "withdrawal_note": n.withdrawal_note,
        "prosecution_case_id": n.prosecution_case_id,
        "created_at": n.created_at,
        "updated_at": n.updated_at,
        "version": n.version,
    }


def notice_from_row(row: Any) -> PenaltyNotice:
    a = row["amounts"]
    created = _utc(row["created_at"])
    assert created is not None
    notice = PenaltyNotice(
        id=row["id"],
        number=row["number"],
        request_id=row["request_id"],
        child_ref=row["child_ref"],
        school_urn=row["school_urn"],
        parent_ref=row["parent_ref"],
        code_of_conduct=row["code_of_conduct"],
        sequence=row["sequence"],
        amounts=Amounts(
            a["full_pence"], a["full_within_days"], a.get("reduced_pence"), a.get("reduced_within_days")
        ),
        offence_type=OffenceType(row["offence_type"]),
        issued_on=row["issued_on"],
        issued_by=row["issued_by"],
        issue_due_by=row["issue_due_by"],
        service_method=ServiceMethod(row["service_method"]),
        served_on=row["served_on"],
        received_on=row["received_on"],
        reduced_due_by=row["reduced_due_by"],
        full_due_by=row["full_due_by"],
        last_offence_date=row["last_offence_date"],
        created_at=created,
        status=NoticeStatus(row["status"]),
        paid_on=row["paid_on"],
        paid_pence=row["paid_pence"],
        payment_rate=row["payment_rate"],
        withdrawn_on=row["withdrawn_on"],
        withdrawal_ground=WithdrawalGround(row["withdrawal_ground"]) if row["withdrawal_ground"] else None,
        withdrawal_note=row["withdrawal_note"],
        prosecution_case_id=row["prosecution_case_id"],
        updated_at=_utc(row["updated_at"]),
        version=row["version"],
    )
    notice.loaded_version = row["version"]
    return notice


class NoticeRepository(_Tracked):
    table = penalty_notices

    def to_row(self, item: Any) -> dict[str, Any]:
        return notice_to_row(item)

    async def get(self, notice_id: str) -> PenaltyNotice | None:
        if notice_id in self.seen:
            return self.seen[notice_id]  # type: ignore[no-any-return]
        row = (
            (await self.session.execute(select(penalty_notices).where(penalty_notices.c.id == notice_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        notice = notice_from_row(row)
        self.seen[notice.id] = notice
        return notice

    async def issue_dates(self, parent_ref: str, child_ref: str) -> list[date]:
        """Dates of this parent's notices for this child that count toward the limit (withdrawn
        notices do not)."""
        n = penalty_notices
        rows = await self.session.execute(
            select(n.c.issued_on).where(
                n.c.parent_ref == parent_ref,
                n.c.child_ref == child_ref,
                n.c.status != NoticeStatus.WITHDRAWN.value,
            )
        )
        return [r.issued_on for r in rows.all()]

    async def overdue(self, today: date, limit: int = 500) -> list[PenaltyNotice]:
        """Issued notices past their last due date, oldest first."""
        n = penalty_notices
        rows = (
            (
                await self.session.execute(
                    select(n)
                    .where(n.c.status == NoticeStatus.ISSUED.value, n.c.full_due_by < today)
                    .order_by(n.c.full_due_by, n.c.id)
                    .limit(limit)
                )
            )
            .mappings()
            .all()
        )
        found = []
        for row in rows:
            notice = notice_from_row(row)
            self.seen[notice.id] = notice
            found.append(notice)
        return found

    async def next_number(self, la_code: str, year: int) -> str:
        """The next notice number of the LA's year of issue, e.g. ``886-2025-000042``."""
        scope = f"{la_code}-{year}"
        c = notice_counters
        result = await self.session.execute(
            update(c).where(c.c.scope == scope).values(last=c.c.last + 1).returning(c.c.last)
        )
        last = result.scalar()
        if last is None:
            await self.session.execute(insert(c).values(scope=scope, last=1))
            last = 1
        return f"{scope}-{int(last):06d}"


def case_to_row(c: ProsecutionCase) -> dict[str, Any]:
    return {
        "id": c.id,
        "notice_id": c.notice_id,
        "child_ref": c.child_ref,
        "school_urn": c.school_urn,
        "parent_ref": c.parent_ref,
        "offence_section": c.offence_section.value,
        "last_offence_date": c.last_offence_date,
        "time_limit": c.time_limit,
        "started_on": c.started_on,
        "status": c.status.value,
        "laid_on": c.laid_on,
        "hearing_on": c.hearing_on,
        "outcome": c.outcome.value if c.outcome else None,
        "concluded_on": c.concluded_on,
        "fine_pence": c.fine_pence,
        "costs_pence": c.costs_pence,
        "orders": list(c.orders),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "version": c.version,
    }


def case_from_row(row: Any) -> ProsecutionCase:
    created = _utc(row["created_at"])
    assert created is not None
    case = ProsecutionCase(
        id=row["id"],
        notice_id=row["notice_id"],
        child_ref=row["child_ref"],
        school_urn=row["school_urn"],
        parent_ref=row["parent_ref"],
        offence_section=OffenceSection(row["offence_section"]),
        last_offence_date=row["last_offence_date"],
        time_limit=row["time_limit"],
        started_on=row["started_on"],
        created_at=created,
        status=CaseStatus(row["status"]),
        laid_on=row["laid_on"],
        hearing_on=row["hearing_on"],
        outcome=CourtOutcome(row["outcome"]) if row["outcome"] else None,
        concluded_on=row["concluded_on"],
        fine_pence=row["fine_pence"],
        costs_pence=row["costs_pence"],
        orders=list(row["orders"] or []),
        updated_at=_utc(row["updated_at"]),
        version=row["version"],
    )
    case.loaded_version = row["version"]
    return case


class CaseRepository(_Tracked):
    table = prosecution_cases

    def to_row(self, item: Any) -> dict[str, Any]:
        return case_to_row(item)

    async def get(self, case_id: str) -> ProsecutionCase | None:
        if case_id in self.seen:
            return self.seen[case_id]  # type: ignore[no-any-return]
        row = (
            (await self.session.execute(select(prosecution_cases).where(prosecution_cases.c.id == case_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        case = case_from_row(row)
        self.seen[case.id] = case
        return case


def all_pending(repos: Sequence[_Tracked]) -> list[Any]:
    return [item for repo in repos for item in repo.seen.values() if item.pending_events]
