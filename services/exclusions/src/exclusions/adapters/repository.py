"""Repositories of exclusions: load and save aggregates through the unit of work's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from exclusions.adapters.orm import alerts, exclusions, part_time_timetables, pupil_years, roll, schools
from exclusions.domain.model import (
    BoardOutcome,
    Counted,
    Exclusion,
    PanelOutcome,
    PartTimeTimetable,
    Provision,
    PupilFlags,
    PupilYear,
    Reviews,
    TimetableOutcome,
)
from exclusions.domain.rules import BoardReviewReason, Kind, Responsibility, Session


class ConcurrentUpdate(Exception):
    pass


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite hands back naive datetimes
    return value


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _upsert(session: AsyncSession) -> Any:
    bind = session.bind
    assert bind is not None
    return postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert


class SchoolRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, urn: str) -> dict[str, Any] | None:
        row = (await self.session.execute(select(schools).where(schools.c.urn == urn))).mappings().first()
        return dict(row) if row else None

    async def upsert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Schools as the latest roll event describes them (one statement for a batch)."""
        if not rows:
            return
        latest = {r["urn"]: r for r in rows}
        insert_fn = _upsert(self.session)
        stmt = insert_fn(schools)
        stmt = stmt.on_conflict_do_update(
            index_elements=[schools.c.urn],
            set_={
                c: stmt.excluded[c] for c in ("laestab", "la_code", "name", "phase", "district", "updated_at")
            },
        )
        await self.session.execute(stmt, list(latest.values()))


class RollRepository:
    """The roll projection: one row per (school, UPN)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def entry(self, school_urn: str, upn: str) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    select(roll).where(roll.c.school_urn == school_urn, roll.c.upn == upn)
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def record_enrolments(self, rows: Sequence[dict[str, Any]]) -> None:
        """Apply enrolments; an older version of a pupil's enrolment than the stored one is ignored."""
        if not rows:
            return
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:
            key = (r["school_urn"], r["upn"])
            if key not in latest or r["enrolment_version"] >= latest[key]["enrolment_version"]:
                latest[key] = r
        insert_fn = _upsert(self.session)
        stmt = insert_fn(roll)
        stmt = stmt.on_conflict_do_update(
            index_elements=[roll.c.school_urn, roll.c.upn],
            set_={
                c: stmt.excluded[c]
                for c in ("child_ref", "on_roll_from", "on_roll_until", "enrolment_version", "last_event_at")
            },
            where=(roll.c.enrolment_version.is_(None))
            | (roll.c.enrolment_version < stmt.excluded.enrolment_version),
        )
        await self.session.execute(stmt, list(latest.values()))

    async def joined(self, school_urn: str, upn: str, child_ref: str, on: date, at: datetime) -> None:
        """A new-pupil return: on the roll from its starting day (unless a later change is known)."""
        insert_fn = _upsert(self.session)
        stmt = insert_fn(roll).values(
            school_urn=school_urn,
            upn=upn,
            child_ref=child_ref,
            on_roll_from=on,
            on_roll_until=None,
            enrolment_version=None,
            last_event_at=at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[roll.c.school_urn, roll.c.upn],
            set_={"child_ref": child_ref, "on_roll_from": on, "on_roll_until": None, "last_event_at": at},
            where=roll.c.last_event_at <= at,
        )
        await self.session.execute(stmt)

    async def left(self, school_urn: str, upn: str, on: date, at: datetime) -> None:
        """A deletion return with its deletion date: off the roll after that day."""
        await self.session.execute(
            update(roll)
            .where(roll.c.school_urn == school_urn, roll.c.upn == upn, roll.c.last_event_at <= at)
            .values(on_roll_until=on, last_event_at=at)
        )


# -- exclusions ---------------------------------------------------------------------------------


def _provision_json(p: Provision | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "provider": p.provider,
        "provider_urn": p.provider_urn,
        "starts_on": p.starts_on.isoformat(),
        "recorded_at": p.recorded_at.isoformat(),
        "on_time": p.on_time,
        "school_days_late": p.school_days_late,
    }


def _provision(data: dict[str, Any] | None) -> Provision | None:
    if not data:
        return None
    recorded = _utc(datetime.fromisoformat(data["recorded_at"]))
    assert recorded is not None
    return Provision(
        provider=data["provider"],
        provider_urn=data.get("provider_urn"),
        starts_on=date.fromisoformat(data["starts_on"]),
        recorded_at=recorded,
        on_time=bool(data["on_time"]),
        school_days_late=int(data["school_days_late"]),
    )


def _reviews_json(r: Reviews) -> dict[str, Any]:
    return {
        "representations_received_on": _iso(r.representations_received_on),
        "board_outcome": r.board_outcome.value if r.board_outcome else None,
        "board_decided_on": _iso(r.board_decided_on),
        "parents_notified_of_decision_on": _iso(r.parents_notified_of_decision_on),
        "irp_application_due": _iso(r.irp_application_due),
        "irp_applied_on": _iso(r.irp_applied_on),
        "panel_outcome": r.panel_outcome.value if r.panel_outcome else None,
        "panel_decided_on": _iso(r.panel_decided_on),
        "board_notified_of_panel_on": _iso(r.board_notified_of_panel_on),
        "reconsideration_due": _iso(r.reconsideration_due),
        "reconsideration_outcome": r.reconsideration_outcome.value if r.reconsideration_outcome else None,
        "reconsidered_on": _iso(r.reconsidered_on),
    }


def _reviews(d: dict[str, Any]) -> Reviews:
    return Reviews(
        representations_received_on=_d(d.get("representations_received_on")),
        board_outcome=BoardOutcome(d["board_outcome"]) if d.get("board_outcome") else None,
        board_decided_on=_d(d.get("board_decided_on")),
        parents_notified_of_decision_on=_d(d.get("parents_notified_of_decision_on")),
        irp_application_due=_d(d.get("irp_application_due")),
        irp_applied_on=_d(d.get("irp_applied_on")),
        panel_outcome=PanelOutcome(d["panel_outcome"]) if d.get("panel_outcome") else None,
        panel_decided_on=_d(d.get("panel_decided_on")),
        board_notified_of_panel_on=_d(d.get("board_notified_of_panel_on")),
        reconsideration_due=_d(d.get("reconsideration_due")),
        reconsideration_outcome=(
            BoardOutcome(d["reconsideration_outcome"]) if d.get("reconsideration_outcome") else None
        ),
        reconsidered_on=_d(d.get("reconsidered_on")),
    )


def exclusion_row(e: Exclusion) -> dict[str, Any]:
    nxt = e.next_deadline()
    return {
        "id": e.id,
        "child_ref": e.child_ref,
        "upn": e.upn,
        "school_urn": e.school_urn,
        "kind": e.kind.value,
        "start_date": e.start_date,
        "start_session": e.start_session.value,
        "end_date": e.end_date,
        "sessions": e.sessions,
        "days": e.days,
        "days_by_term": e.days_by_term,
        "reason_codes": list(e.reason_codes),
        "academic_year": e.academic_year,
        "pupil": {
            "sen_provision": e.pupil.sen_provision,
            "ehc_plan": e.pupil.ehc_plan,
            "fsm_eligible": e.pupil.fsm_eligible,
            "looked_after": e.pupil.looked_after,
            "child_in_need": e.pupil.child_in_need,
            "child_protection_plan": e.pupil.child_protection_plan,
        },
        "parents_notified_at": e.parents_notified_at,
        "notified_at": e.notified_at,
        "misses_public_exam": e.misses_public_exam,
        "school_reference": e.school_reference,
        "submitted_by": e.submitted_by,
        "board_review_due": e.board_review_due,
        "board_review_reasons": [r.value for r in e.board_review_reasons],
        "representations_review_due": e.representations_review_due,
        "sixth_day_due": e.sixth_day_due,
        "provision_responsibility": e.provision_responsibility.value if e.provision_responsibility else None,
        "provision": _provision_json(e.provision),
        "provision_missed_on": e.provision_missed_on,
        "withdrawn_on": e.withdrawn_on,
        "withdrawal_reason": e.withdrawal_reason,
        "reinstated_on": e.reinstated_on,
        "reviews": _reviews_json(e.reviews),
        "next_deadline": nxt[0] if nxt else None,
        "next_deadline_kind": nxt[1].value if nxt else None,
        "updated_at": e.updated_at,
        "version": e.version,
    }


def exclusion_from_row(row: Any) -> Exclusion:
    parents = _utc(row["parents_notified_at"])
    notified = _utc(row["notified_at"])
    assert parents is not None and notified is not None
    return Exclusion(
        id=row["id"],
        child_ref=row["child_ref"],
        upn=row["upn"],
        school_urn=row["school_urn"],
        kind=Kind(row["kind"]),
        start_date=row["start_date"],
        start_session=Session(row["start_session"]),
        end_date=row["end_date"],
        sessions=row["sessions"],
        days=float(row["days"]),
        days_by_term={k: float(v) for k, v in (row["days_by_term"] or {}).items()},
        reason_codes=tuple(row["reason_codes"]),
        academic_year=row["academic_year"],
        pupil=PupilFlags(**row["pupil"]),
        parents_notified_at=parents,
        notified_at=notified,
        misses_public_exam=row["misses_public_exam"],
        school_reference=row["school_reference"],
        submitted_by=row["submitted_by"],
        board_review_due=row["board_review_due"],
        board_review_reasons=tuple(BoardReviewReason(r) for r in row["board_review_reasons"]),
        representations_review_due=row["representations_review_due"],
        sixth_day_due=row["sixth_day_due"],
        provision_responsibility=(
            Responsibility(row["provision_responsibility"]) if row["provision_responsibility"] else None
        ),
        provision=_provision(row["provision"]),
        provision_missed_on=row["provision_missed_on"],
        withdrawn_on=row["withdrawn_on"],
        withdrawal_reason=row["withdrawal_reason"],
        reinstated_on=row["reinstated_on"],
        reviews=_reviews(row["reviews"] or {}),
        updated_at=_utc(row["updated_at"]),
        version=row["version"],
        persisted_version=row["version"],
    )


async def _save_versioned(
    session: AsyncSession, table: Any, key: Any, aggregate: Any, row: dict[str, Any]
) -> None:
    if aggregate.persisted_version == 0:
        await session.execute(insert(table).values(row))
    elif aggregate.version != aggregate.persisted_version:
        result = await session.execute(
            update(table).where(key, table.c.version == aggregate.persisted_version).values(row)
        )
        if not getattr(result, "rowcount", 1):
            raise ConcurrentUpdate(f"{table.name} {row.get('id', '')} changed meanwhile")
    else:
        return
    aggregate.persisted_version = aggregate.version


class ExclusionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: dict[str, Exclusion] = {}

    def add(self, exclusion: Exclusion) -> None:
        self.seen[exclusion.id] = exclusion

    async def get(self, exclusion_id: str, *, for_update: bool = False) -> Exclusion | None:
        stmt = select(exclusions).where(exclusions.c.id == exclusion_id)
        row = (await self.session.execute(stmt)).mappings().first()
        if row is None:
            return None
        exclusion = exclusion_from_row(row)
        self.seen[exclusion.id] = exclusion
        return exclusion

    async def of_pupil_in_year(self, child_ref: str, academic_year: str) -> list[Exclusion]:
        rows = (
            (
                await self.session.execute(
                    select(exclusions)
                    .where(exclusions.c.child_ref == child_ref, exclusions.c.academic_year == academic_year)
                    .order_by(exclusions.c.start_date, exclusions.c.notified_at)
                )
            )
            .mappings()
            .all()
        )
        return [exclusion_from_row(r) for r in rows]

    async def save(self) -> None:
        for e in self.seen.values():
            await _save_versioned(self.session, exclusions, exclusions.c.id == e.id, e, exclusion_row(e))


def counted(items: Sequence[Exclusion]) -> list[Counted]:
    return [Counted(e.id, e.kind, e.days, e.days_by_term) for e in items if e.withdrawn_on is None]


class PupilYearRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: dict[tuple[str, str], PupilYear] = {}

    async def lock(self, child_ref: str, academic_year: str) -> None:
        """Serialise writes that count one pupil's year (the cap and the flags): two notifications
        at once would otherwise both pass the cap. PostgreSQL: a transaction-scoped advisory lock;
        SQLite serialises writers already."""
        bind = self.session.bind
        if bind is not None and bind.dialect.name == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                {"k": f"exclusions:pupil-year:{child_ref}:{academic_year}"},
            )

    async def get_or_new(self, child_ref: str, academic_year: str) -> PupilYear:
        key = (child_ref, academic_year)
        if key in self.seen:
            return self.seen[key]
        row = (
            (
                await self.session.execute(
                    select(pupil_years).where(
                        and_(
                            pupil_years.c.child_ref == child_ref, pupil_years.c.academic_year == academic_year
                        )
                    )
                )
            )
            .mappings()
            .first()
        )
        year = (
            PupilYear(
                child_ref=child_ref,
                academic_year=academic_year,
                repeat_flagged_on=row["repeat_flagged_on"],
                limit_reached_on=row["limit_reached_on"],
                version=row["version"],
                persisted_version=row["version"],
                updated_at=_utc(row["updated_at"]),
            )
            if row
            else PupilYear(child_ref=child_ref, academic_year=academic_year)
        )
        self.seen[key] = year
        return year

    async def save(self) -> None:
        for y in self.seen.values():
            if y.version == y.persisted_version:
                continue
            row = {
                "child_ref": y.child_ref,
                "academic_year": y.academic_year,
                "repeat_flagged_on": y.repeat_flagged_on,
                "limit_reached_on": y.limit_reached_on,
                "updated_at": y.updated_at,
                "version": y.version,
            }
            key = (pupil_years.c.child_ref == y.child_ref) & (pupil_years.c.academic_year == y.academic_year)
            await _save_versioned(self.session, pupil_years, key, y, row)


# -- part-time timetables -----------------------------------------------------------------------


def timetable_row(t: PartTimeTimetable) -> dict[str, Any]:
    return {
        "id": t.id,
        "child_ref": t.child_ref,
        "upn": t.upn,
        "school_urn": t.school_urn,
        "starts_on": t.starts_on,
        "planned_end_on": t.planned_end_on,
        "hours_per_week": t.hours_per_week,
        "reason": t.reason,
        "parent_agreed_on": t.parent_agreed_on,
        "review_dates": [d.isoformat() for d in t.review_dates],
        "reviews": t.reviews,
        "review_due": t.review_due,
        "ended_on": t.ended_on,
        "outcome": t.outcome.value if t.outcome else None,
        "notified_at": t.notified_at,
        "submitted_by": t.submitted_by,
        "updated_at": t.updated_at,
        "version": t.version,
    }


def timetable_from_row(row: Any) -> PartTimeTimetable:
    notified = _utc(row["notified_at"])
    assert notified is not None
    return PartTimeTimetable(
        id=row["id"],
        child_ref=row["child_ref"],
        upn=row["upn"],
        school_urn=row["school_urn"],
        starts_on=row["starts_on"],
        planned_end_on=row["planned_end_on"],
        hours_per_week=float(row["hours_per_week"]),
        reason=row["reason"],
        parent_agreed_on=row["parent_agreed_on"],
        review_dates=tuple(date.fromisoformat(d) for d in row["review_dates"]),
        review_due=row["review_due"],
        notified_at=notified,
        submitted_by=row["submitted_by"],
        reviews=list(row["reviews"] or []),
        ended_on=row["ended_on"],
        outcome=TimetableOutcome(row["outcome"]) if row["outcome"] else None,
        updated_at=_utc(row["updated_at"]),
        version=row["version"],
        persisted_version=row["version"],
    )


class TimetableRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: dict[str, PartTimeTimetable] = {}

    def add(self, timetable: PartTimeTimetable) -> None:
        self.seen[timetable.id] = timetable

    async def get(self, timetable_id: str) -> PartTimeTimetable | None:
        row = (
            (
                await self.session.execute(
                    select(part_time_timetables).where(part_time_timetables.c.id == timetable_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        timetable = timetable_from_row(row)
        self.seen[timetable.id] = timetable
        return timetable

    async def running(self, school_urn: str, child_ref: str) -> str | None:
        t = part_time_timetables
        found = await self.session.scalar(
            select(t.c.id).where(
                t.c.school_urn == school_urn, t.c.child_ref == child_ref, t.c.ended_on.is_(None)
            )
        )
        return str(found) if found else None

    async def save(self) -> None:
        for t in self.seen.values():
            await _save_versioned(
                self.session, part_time_timetables, part_time_timetables.c.id == t.id, t, timetable_row(t)
            )


class AlertRepository:
    """Alerts the scheduler raises: each (kind, subject, due date) once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def raise_many(self, rows: Sequence[dict[str, Any]]) -> int:
        if not rows:
            return 0
        insert_fn = _upsert(self.session)
        stmt = insert_fn(alerts).on_conflict_do_nothing(
            index_elements=[alerts.c.kind, alerts.c.subject_id, alerts.c.due_on]
        )
        result = await self.session.execute(stmt.returning(alerts.c.id), list(rows))
        return len(result.scalars().all())
