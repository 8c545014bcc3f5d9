"""Repositories of referral-api: load and save aggregates through the unit of work's session."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.adapters.orm import children, referrals, roll, roll_changes, schools
from referral_api.domain.model import Child, Referral, ReferralKind, ReferralStatus, Referrer
from referral_api.domain.roll import RollChange


class ConcurrentUpdate(Exception):
    pass


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite hands back naive datetimes
    return value


class SchoolRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, urn: str) -> dict[str, Any] | None:
        row = (await self.session.execute(select(schools).where(schools.c.urn == urn))).mappings().first()
        return dict(row) if row else None

    async def year_group(self, school_urn: str, child_ref: str) -> str | None:
        """The child's year group on the school's roll, where a roll import gave one."""
        value = await self.session.scalar(
            select(roll.c.year_group).where(roll.c.school_urn == school_urn, roll.c.child_ref == child_ref)
        )
        return str(value) if value else None


class ChildRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def reference_for(self, upn: str | None, now: datetime) -> str:
        """The child's platform reference: the existing one for a known UPN, else a new one."""
        if upn:
            existing = await self.session.scalar(select(children.c.child_ref).where(children.c.upn == upn))
            if existing:
                return str(existing)
        child_ref = "c-" + uuid.uuid4().hex[:16]
        await self.session.execute(insert(children).values(child_ref=child_ref, upn=upn, created_at=now))
        return child_ref


class ReferralRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: dict[str, Referral] = {}

    def add(self, referral: Referral) -> None:
        self.seen[referral.id] = referral

    async def get(self, referral_id: str) -> Referral | None:
        row = (
            (await self.session.execute(select(referrals).where(referrals.c.id == referral_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        referral = to_domain(row)
        self.seen[referral.id] = referral
        return referral

    async def save(self) -> None:
        """Write every aggregate seen in this unit of work (insert new, update changed)."""
        for referral in self.seen.values():
            values = _to_row(referral)
            if referral.version == 1 and referral.pending_events:
                await self.session.execute(insert(referrals).values(values))
                continue
            if not referral.pending_events:
                continue
            previous = referral.version - len(referral.pending_events)
            result = await self.session.execute(
                update(referrals)
                .where(referrals.c.id == referral.id, referrals.c.version == previous)
                .values(values)
            )
            if not getattr(result, "rowcount", 1):
                raise ConcurrentUpdate(f"referral {referral.id} changed meanwhile")


def _to_row(r: Referral) -> dict[str, Any]:
    return {
        "id": r.id,
        "child_ref": r.child_ref,
        "kind": r.kind.value,
        "status": r.status.value,
        "school_urn": r.school_urn,
        "referrer": {
            "kind": r.referrer.kind,
            "school_urn": r.referrer.school_urn,
            "agency_type": r.referrer.agency_type,
            "agency_name": r.referrer.agency_name,
        },
        "child": {
            "forename": r.child.forename,
            "surname": r.child.surname,
            "date_of_birth": r.child.date_of_birth.isoformat(),
            "upn": r.child.upn,
            "sex": r.child.sex,
            "address": r.child.address,
        },
        "summary": r.summary,
        "details": r.details,
        "received_at": r.received_at,
        "response_due": r.response_due,
        "submitted_by": r.submitted_by,
        "decision_reason": r.decision_reason,
        "redirected_to": r.redirected_to,
        "decided_at": r.decided_at,
        "decided_by": r.decided_by,
        "updated_at": r.updated_at,
        "version": r.version,
    }


def to_domain(row: Any) -> Referral:
    child = row["child"]
    referrer = row["referrer"]
    received = _utc(row["received_at"])
    assert received is not None
    return Referral(
        id=row["id"],
        child_ref=row["child_ref"],
        kind=ReferralKind(row["kind"]),
        child=Child(
            forename=child["forename"],
            surname=child["surname"],
            date_of_birth=date.fromisoformat(child["date_of_birth"]),
            upn=child.get("upn"),
            sex=child.get("sex"),
            address=child.get("address"),
        ),
        referrer=Referrer(
            kind=referrer["kind"],
            school_urn=referrer.get("school_urn"),
            agency_type=referrer.get("agency_type"),
            agency_name=referrer.get("agency_name"),
        ),
        school_urn=row["school_urn"],
        summary=row["summary"],
        details=row["details"] or {},
        received_at=received,
        response_due=row["response_due"],
        submitted_by=row["submitted_by"],
        status=ReferralStatus(row["status"]),
        decision_reason=row["decision_reason"],
        redirected_to=row["redirected_to"],
        decided_at=_utc(row["decided_at"]),
        decided_by=row["decided_by"],
        updated_at=_utc(row["updated_at"]),
        version=row["version"],
    )


def child_to_json(child: Child) -> dict[str, Any]:
    return {
        "forename": child.forename,
        "surname": child.surname,
        "date_of_birth": child.date_of_birth.isoformat(),
        "upn": child.upn,
        "sex": child.sex,
        "address": child.address,
    }


def child_from_json(data: dict[str, Any]) -> Child:
    return Child(
        forename=data["forename"],
        surname=data["surname"],
        date_of_birth=date.fromisoformat(data["date_of_birth"]),
        upn=data.get("upn"),
        sex=data.get("sex"),
        address=data.get("address"),
    )


class RollChangeRepository:
    """Roll changes are recorded once and never edited; the roll itself follows them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: dict[str, RollChange] = {}

    def add(self, change: RollChange) -> None:
        self.seen[change.id] = change

    async def get(self, change_id: str) -> RollChange | None:
        row = (
            (await self.session.execute(select(roll_changes).where(roll_changes.c.id == change_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        received = _utc(row["received_at"])
        assert received is not None
        return RollChange(
            id=row["id"],
            kind=row["kind"],
            school_urn=row["school_urn"],
            child_ref=row["child_ref"],
            child=child_from_json(row["child"]),
            details=row["details"],
            received_at=received,
            submitted_by=row["submitted_by"],
            version=row["version"],
        )

    async def save(self) -> None:
        for change in self.seen.values():
            if not change.pending_events:
                continue
            await self.session.execute(
                insert(roll_changes).values(
                    id=change.id,
                    kind=change.kind,
                    school_urn=change.school_urn,
                    child_ref=change.child_ref,
                    child=child_to_json(change.child),
                    details=change.details,
                    received_at=change.received_at,
                    submitted_by=change.submitted_by,
                    updated_at=change.received_at,
                    version=change.version,
                )
            )
            await self._follow_roll(change)

    async def _follow_roll(self, change: RollChange) -> None:
        key = (roll.c.school_urn == change.school_urn) & (roll.c.child_ref == change.child_ref)
        if change.kind == "admission":
            starting = date.fromisoformat(change.details["starting_day"])
            existing = await self.session.scalar(select(roll.c.child_ref).where(key))
            if existing is None:
                await self.session.execute(
                    insert(roll).values(
                        school_urn=change.school_urn,
                        child_ref=change.child_ref,
                        upn=change.child.upn,
                        on_roll_from=starting,
                        left_on=None,
                    )
                )
            else:  # re-admitted
                await self.session.execute(
                    update(roll).where(key).values(on_roll_from=starting, left_on=None, upn=change.child.upn)
                )
        elif change.details.get("deleted_on"):
            await self.session.execute(
                update(roll).where(key).values(left_on=date.fromisoformat(change.details["deleted_on"]))
            )
