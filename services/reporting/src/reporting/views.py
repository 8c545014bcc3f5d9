"""Read-side queries of reporting: figures from the active generation of the read models.

Every report is for a :class:`~reporting.domain.model.Period` and a breakdown (``by``), within the
caller's :class:`Scope` (an officer limited to districts sees those districts only). Queries
aggregate in SQL down to schools (a few hundred rows) and the LA, area, district and phase
figures are summed from there, so a board answers from small tables whatever the county's size.
Rows are plain dicts of counts and the rates built on them; :func:`suppress` withholds small
numbers for publication.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from inclusion_kit.calendar import SchoolCalendar
from reporting.adapters.orm import ProjectionTables
from reporting.domain.indicators import Areas, Indicator, IndicatorTable, Measure
from reporting.domain.model import (
    Period,
    PeriodKind,
    PupilGroup,
    direction_of_travel,
    per_hundred,
    percent,
    previous_periods,
    rag,
    suppressed,
)

UNKNOWN: Final = "unknown"
ATTENDANCE_BY: Final = ("la", "area", "district", "phase", "school", "year_group", "group")
EXCLUSIONS_BY: Final = ("la", "area", "district", "phase", "school", "reason")
CASES_BY: Final = ("la", "area", "district")


@dataclass(frozen=True)
class Scope:
    """The districts a caller may see (casefolded); None: every district."""

    districts: frozenset[str] | None = None

    def allows(self, district: str | None) -> bool:
        if self.districts is None:
            return True
        return district is not None and district.casefold() in self.districts


@dataclass(frozen=True)
class School:
    urn: str
    name: str | None
    phase: str
    district: str | None
    area: str | None


@dataclass(frozen=True)
class Filters:
    phase: str | None = None
    district: str | None = None
    area: str | None = None
    school_urn: str | None = None

    def keeps(self, school: School) -> bool:
        return (
            (self.phase is None or school.phase == self.phase)
            and (self.district is None or (school.district or "").casefold() == self.district.casefold())
            and (self.area is None or (school.area or "").casefold() == self.area.casefold())
            and (self.school_urn is None or school.urn == self.school_urn)
        )


# Rates and the counts they are built on: what suppression must withhold together.
RATES: Final[dict[str, tuple[str, str]]] = {
    "attendance_rate": ("attended_sessions", "possible_sessions"),
    "overall_absence_rate": ("absence_sessions", "possible_sessions"),
    "authorised_absence_rate": ("authorised_sessions", "possible_sessions"),
    "unauthorised_absence_rate": ("unauthorised_sessions", "possible_sessions"),
    "persistent_absence_rate": ("persistent_absentees", "enrolments"),
    "severe_absence_rate": ("severe_absentees", "enrolments"),
    "suspension_rate": ("suspensions", "pupils"),
    "permanent_exclusion_rate": ("permanent_exclusions", "pupils"),
    "permanent_fsm_share": ("permanent_fsm", "permanent_exclusions"),
    "permanent_ehc_plan_share": ("permanent_ehc_plan", "permanent_exclusions"),
    "permanent_sen_support_share": ("permanent_sen_support", "permanent_exclusions"),
    "sixth_day_on_time_share": ("sixth_day_on_time", "sixth_day_due"),
    "found_within_two_weeks_share": ("found_within_two_weeks", "cases_opened"),
    "placed_within_target_share": ("placed_within_target", "found"),
    "responded_within_target_share": ("responded_within_target", "triaged"),
}
# Counts about children (what suppression applies to); sessions are not children.
CHILD_COUNTS: Final = frozenset(
    {
        "enrolments",
        "persistent_absentees",
        "severe_absentees",
        "pupils",
        "suspensions",
        "permanent_exclusions",
        "pupils_suspended",
        "pupils_with_three_or_more_suspensions",
        "repeat_suspension_flags",
        "permanent_fsm",
        "permanent_ehc_plan",
        "permanent_sen_support",
        "sixth_day_due",
        "sixth_day_on_time",
        "sixth_day_missed",
        "cases_opened",
        "open_caseload",
        "found",
        "found_within_two_weeks",
        "placed",
        "placed_within_target",
        "closed",
        "reviews_overdue",
        "ehe_registrations",
        "ehe_first_contacts_due",
        "ehe_visit_offers_due",
        "requests",
        "requests_declined",
        "parents_declined",
        "notices_issued",
        "notices_issued_within_target",
        "notices_paid",
        "notices_withdrawn",
        "prosecutions_started",
        "prosecutions_concluded",
        "convictions",
        "persistent_identified",
        "severe_identified",
        "received",
        "triaged",
        "responded_within_target",
    }
)


def suppress(row: dict[str, Any], threshold: int) -> dict[str, Any]:
    """Withhold counts of children from 1 to ``threshold - 1`` and every rate built on one (the
    denominator too: a rate over three children discloses them). Withheld values are None and
    named in ``suppressed``."""
    out = dict(row)
    hidden = sorted(
        k for k, v in row.items() if k in CHILD_COUNTS and isinstance(v, int) and suppressed(v, threshold)
    )
    for key in hidden:
        out[key] = None
    for rate, (numerator, denominator) in RATES.items():
        if rate in out and (numerator in hidden or denominator in hidden):
            out[rate] = None
            hidden.append(rate)
    out["suppressed"] = sorted(set(hidden))
    return out


class Reports:
    """Reports over one generation's read models."""

    def __init__(
        self,
        session: AsyncSession,
        pt: ProjectionTables,
        calendar: SchoolCalendar,
        areas: Areas,
        *,
        found_within_days: int = 14,
        today: date | None = None,
    ) -> None:
        self.session = session
        self.pt = pt
        self.calendar = calendar
        self.areas = areas
        self.found_within_days = found_within_days
        self.today = today or date.today()
        self._schools: dict[str, School] | None = None
        self._memo: dict[Any, Any] = {}

    async def _rows(self, stmt: Any) -> list[Any]:
        return list((await self.session.execute(stmt)).all())

    # -- schools -----------------------------------------------------------------------------

    async def schools(self) -> dict[str, School]:
        if self._schools is None:
            t = self.pt.schools
            rows = await self.session.execute(select(t.c.urn, t.c.name, t.c.phase, t.c.district))
            self._schools = {
                r.urn: School(r.urn, r.name, r.phase, r.district, self.areas.area_of(r.district))
                for r in rows
            }
        return self._schools

    async def _school(self, urn: str | None) -> School:
        schools = await self.schools()
        if urn is not None and urn in schools:
            return schools[urn]
        return School(urn or UNKNOWN, None, UNKNOWN, None, None)

    @staticmethod
    def _key(school: School, by: str) -> str:
        if by == "la":
            return "all"
        if by == "area":
            return school.area or UNKNOWN
        if by == "district":
            return school.district or UNKNOWN
        if by == "phase":
            return school.phase
        return school.urn

    async def _visible(self, scope: Scope, filters: Filters) -> dict[str, School]:
        return {
            u: s for u, s in (await self.schools()).items() if scope.allows(s.district) and filters.keeps(s)
        }

    # -- attendance --------------------------------------------------------------------------

    async def attendance(
        self, period: Period, by: str, scope: Scope, filters: Filters
    ) -> list[dict[str, Any]]:
        if by in ("year_group", "group"):
            return await self._attendance_by_pupil(period, by, scope, filters)
        visible = await self._visible(scope, filters)
        rows = await self._school_attendance(period)
        sums: dict[str, list[int]] = defaultdict(lambda: [0] * 8)
        labels: dict[str, str | None] = {}
        for r in rows:
            school = visible.get(r.school_urn)
            if school is None:
                continue
            key = self._key(school, by)
            labels[key] = school.name if by == "school" else None
            acc = sums[key]
            for i, value in enumerate(r[1:]):
                acc[i] += int(value)
        result = []
        for key in sorted(sums):
            present, aea, authorised, unauthorised, late, enrolments, persistent, severe = sums[key]
            row: dict[str, Any] = {by: key} if by != "la" else {"la": "all"}
            if by == "school":
                row["school_name"] = labels[key]
            row.update(
                _attendance_figures(
                    present, aea, authorised, unauthorised, late, enrolments, persistent, severe
                )
            )
            result.append(row)
        return result

    async def _school_attendance(self, period: Period) -> list[Any]:
        """Per-school sums for a period (a few hundred rows), read once per request."""
        if period.key not in self._memo:
            t = self.pt.attendance_school
            self._memo[period.key] = await self._rows(
                select(
                    t.c.school_urn,
                    t.c.present,
                    t.c.aea,
                    t.c.authorised,
                    t.c.unauthorised,
                    t.c.late,
                    t.c.enrolments,
                    t.c.persistent,
                    t.c.severe,
                ).where(t.c.period == period.key)
            )
        rows: list[Any] = self._memo[period.key]
        return rows

    async def _attendance_by_pupil(
        self, period: Period, by: str, scope: Scope, filters: Filters
    ) -> list[dict[str, Any]]:
        a, e, f = self.pt.attendance_enrolment, self.pt.enrolments, self.pt.fsm_periods
        visible = sorted(await self._visible(scope, filters))
        possible = a.c.present + a.c.aea + a.c.authorised + a.c.unauthorised
        absent = a.c.authorised + a.c.unauthorised
        fsm = exists().where(
            f.c.school_urn == a.c.school_urn,
            f.c.upn == a.c.upn,
            f.c.start <= period.end,
            or_(f.c.end.is_(None), f.c.end >= period.start),
        )
        groups: dict[str, Any] = {
            PupilGroup.FSM: fsm,
            PupilGroup.SEN_SUPPORT: e.c.sen_provision == "K",
            PupilGroup.EHC_PLAN: e.c.sen_provision == "E",
            PupilGroup.LOOKED_AFTER: e.c.looked_after.is_(True),
            PupilGroup.CHILD_IN_NEED: e.c.child_in_need.is_(True),
            PupilGroup.GRT: e.c.grt.is_(True),
        }

        def sums(where: Any) -> list[Any]:
            def total(column: Any) -> Any:
                return func.coalesce(func.sum(case((where, column), else_=0)), 0)

            counted = and_(where, possible > 0)
            return [
                total(a.c.present),
                total(a.c.aea),
                total(a.c.authorised),
                total(a.c.unauthorised),
                total(a.c.late),
                func.coalesce(func.sum(case((counted, 1), else_=0)), 0),
                func.coalesce(func.sum(case((and_(counted, absent * 10 >= possible), 1), else_=0)), 0),
                func.coalesce(func.sum(case((and_(counted, absent * 2 >= possible), 1), else_=0)), 0),
            ]

        base = a.outerjoin(e, and_(e.c.school_urn == a.c.school_urn, e.c.upn == a.c.upn))
        condition = and_(a.c.period == period.key, a.c.school_urn.in_(visible))
        result: list[dict[str, Any]] = []
        if by == "year_group":
            year = func.coalesce(e.c.year_group, literal(UNKNOWN))
            stmt = (
                select(year.label("key"), *sums(literal(True)))
                .select_from(base)
                .where(condition)
                .group_by(year)
            )
            for r in await self._rows(stmt):
                result.append({"year_group": r[0], **_attendance_figures(*(int(v) for v in r[1:]))})
            return sorted(result, key=lambda row: _year_order(row["year_group"]))
        columns = []
        for flag in groups.values():
            columns += sums(flag)
        columns += sums(literal(True))
        r = (await self.session.execute(select(*columns).select_from(base).where(condition))).one()
        values = [int(v) for v in r]
        for index, group in enumerate([*groups, "all_pupils"]):
            result.append({"group": str(group), **_attendance_figures(*values[index * 8 : index * 8 + 8])})
        return result

    # -- exclusions --------------------------------------------------------------------------

    async def exclusions(
        self, period: Period, by: str, scope: Scope, filters: Filters
    ) -> list[dict[str, Any]]:
        x = self.pt.exclusions
        visible = await self._visible(scope, filters)
        counted = and_(x.c.start_date.between(period.start, period.end), x.c.withdrawn_on.is_(None))
        permanent = x.c.kind == "permanent"
        suspension = x.c.kind.in_(["suspension", "lunchtime"])
        judged = and_(
            permanent,
            x.c.provision_due.is_not(None),
            or_(x.c.provision_on_time.is_not(None), x.c.provision_missed.is_(True)),
        )

        def total(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        names = (
            "suspensions",
            "permanent_exclusions",
            "permanent_fsm",
            "permanent_ehc_plan",
            "permanent_sen_support",
            "sixth_day_due",
            "sixth_day_on_time",
            "sixth_day_missed",
        )
        # Aggregated in SQL per school (and per reason combination): a county year is tens of
        # thousands of suspensions, a few hundred rows leave the database.
        reasons = x.c.reason_codes if by == "reason" else literal("")
        rows = await self._rows(
            select(
                x.c.school_urn,
                reasons.label("reasons"),
                total(suspension),
                total(permanent),
                total(and_(permanent, x.c.fsm.is_(True))),
                total(and_(permanent, x.c.ehc_plan.is_(True))),
                total(and_(permanent, x.c.sen_provision == "K")),
                total(judged),
                total(and_(judged, x.c.provision_on_time.is_(True))),
                total(and_(judged, x.c.provision_missed.is_(True), x.c.provision_on_time.is_not(True))),
            )
            .where(counted)
            .group_by(x.c.school_urn, "reasons")
        )
        # Pupils suspended, and with three or more suspensions, per school (and reasons).
        per_child = (
            select(
                x.c.school_urn,
                reasons.label("reasons"),
                x.c.child_ref,
                func.count().label("n"),
            )
            .where(counted, suspension)
            .group_by(x.c.school_urn, "reasons", x.c.child_ref)
            .subquery()
        )
        children = await self._rows(
            select(
                per_child.c.school_urn,
                per_child.c.reasons,
                func.count(),
                func.coalesce(func.sum(case((per_child.c.n >= 3, 1), else_=0)), 0),
            ).group_by(per_child.c.school_urn, per_child.c.reasons)
        )
        acc: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

        def keys(urn: str | None, reasons: str | None) -> list[str]:
            school = visible.get(urn) if urn else None
            if school is None:
                return []
            return _reasons(reasons) if by == "reason" else [self._key(school, by)]

        for r in rows:
            for key in keys(r[0], r[1]):
                for name, value in zip(names, r[2:], strict=True):
                    acc[key][name] += int(value)
        for r in children:
            for key in keys(r[0], r[1]):
                acc[key]["pupils_suspended"] += int(r[2])
                acc[key]["pupils_with_three_or_more_suspensions"] += int(r[3])
        if by != "reason":
            flags = self.pt.repeat_suspensions
            flagged = await self._rows(
                select(flags.c.school_urn, func.count())
                .where(flags.c.flagged_on.between(period.start, period.end))
                .group_by(flags.c.school_urn)
            )
            for urn, count in (await self._pupils(period, visible)).items():
                acc[self._key(visible[urn], by)]["pupils"] += count
            for urn, count in flagged:
                for key in keys(urn, None):
                    acc[key]["repeat_suspension_flags"] += int(count)
        result = []
        for key in sorted(acc):
            b = acc[key]
            if not any(b.get(name) for name in names):
                continue  # a school with pupils but no exclusion adds only to the denominators
            row: dict[str, Any] = {by: key} if by != "la" else {"la": "all"}
            row.update({name: b.get(name, 0) for name in names})
            row["pupils_suspended"] = b.get("pupils_suspended", 0)
            row["pupils_with_three_or_more_suspensions"] = b.get("pupils_with_three_or_more_suspensions", 0)
            if by != "reason":
                row["repeat_suspension_flags"] = b.get("repeat_suspension_flags", 0)
                row["pupils"] = b.get("pupils", 0)
                row["suspension_rate"] = per_hundred(row["suspensions"], row["pupils"])
                row["permanent_exclusion_rate"] = per_hundred(row["permanent_exclusions"], row["pupils"])
            total_permanent = row["permanent_exclusions"]
            row["permanent_fsm_share"] = percent(row["permanent_fsm"], total_permanent)
            row["permanent_ehc_plan_share"] = percent(row["permanent_ehc_plan"], total_permanent)
            row["permanent_sen_support_share"] = percent(row["permanent_sen_support"], total_permanent)
            row["sixth_day_on_time_share"] = percent(row["sixth_day_on_time"], row["sixth_day_due"])
            result.append(row)
        return result

    async def _pupils(self, period: Period, visible: dict[str, School]) -> dict[str, int]:
        """Pupils per school for rates: enrolments with possible sessions in the period (the
        attendance read model's denominator; the roll's own headcount needs no census day)."""
        t = self.pt.attendance_school
        rows = await self.session.execute(
            select(t.c.school_urn, t.c.enrolments).where(t.c.period == period.key)
        )
        return {r.school_urn: int(r.enrolments) for r in rows if r.school_urn in visible}

    # -- CME and EHE -------------------------------------------------------------------------

    def _area_key(self, district: str | None, by: str) -> str:
        if by == "la":
            return "all"
        if by == "area":
            return self.areas.area_of(district) or UNKNOWN
        return district or UNKNOWN

    def _keeps_district(self, district: str | None, scope: Scope, filters: Filters) -> bool:
        if not scope.allows(district):
            return False
        if filters.district is not None and (district or "").casefold() != filters.district.casefold():
            return False
        return (
            filters.area is None or (self.areas.area_of(district) or "").casefold() == filters.area.casefold()
        )

    async def cme(self, period: Period, by: str, scope: Scope, filters: Filters) -> list[dict[str, Any]]:
        c, h = self.pt.cme_cases, self.pt.ehe_registrations
        start, end = period.start, period.end
        in_period = c.c.opened_on.between(start, end)
        found_in_time = and_(in_period, c.c.days_to_located <= self.found_within_days)
        stmt = select(
            c.c.district,
            func.sum(case((in_period, 1), else_=0)),
            func.sum(
                case(
                    (and_(c.c.opened_on <= end, or_(c.c.closed_on.is_(None), c.c.closed_on > end)), 1),
                    else_=0,
                )
            ),
            func.sum(case((and_(in_period, c.c.located_on.is_not(None)), 1), else_=0)),
            func.sum(case((found_in_time, 1), else_=0)),
            func.sum(case((and_(in_period, c.c.placed_on.is_not(None)), 1), else_=0)),
            func.sum(case((and_(in_period, c.c.placed_within_target.is_(True)), 1), else_=0)),
            func.sum(case((c.c.closed_on.between(start, end), 1), else_=0)),
            func.sum(case((and_(c.c.opened_on <= end, c.c.reviews_overdue > 0), 1), else_=0)),
        ).group_by(c.c.district)
        acc: dict[str, list[int]] = defaultdict(lambda: [0] * 11)
        for r in await self._rows(stmt):
            if not self._keeps_district(r[0], scope, filters):
                continue
            row = acc[self._area_key(r[0], by)]
            for i, value in enumerate(r[1:]):
                row[i] += int(value or 0)
        ehe = select(
            h.c.district,
            func.sum(case((h.c.registered_on.between(start, end), 1), else_=0)),
            func.sum(case((h.c.first_contact_due.between(start, end), 1), else_=0)),
            func.sum(case((h.c.visit_offer_due.between(start, end), 1), else_=0)),
        ).group_by(h.c.district)
        for r in await self._rows(ehe):
            if not self._keeps_district(r[0], scope, filters):
                continue
            row = acc[self._area_key(r[0], by)]
            for i, value in enumerate(r[1:]):
                row[8 + i] += int(value or 0)
        result = []
        for key in sorted(acc):
            opened, open_now, found, in_time, placed, within, closed, overdue, ehe_new, contact, visit = acc[
                key
            ]
            result.append(
                {
                    by: key,
                    "cases_opened": opened,
                    "open_caseload": open_now,
                    "found": found,
                    "found_within_two_weeks": in_time,
                    "found_within_two_weeks_share": percent(in_time, opened),
                    "placed": placed,
                    "placed_within_target": within,
                    "placed_within_target_share": percent(within, found),
                    "closed": closed,
                    "reviews_overdue": overdue,
                    "ehe_registrations": ehe_new,
                    "ehe_first_contacts_due": contact,
                    "ehe_visit_offers_due": visit,
                }
            )
        return result

    # -- enforcement -------------------------------------------------------------------------

    async def enforcement(
        self, period: Period, by: str, scope: Scope, filters: Filters
    ) -> list[dict[str, Any]]:
        q, n, p, a = (
            self.pt.notice_requests,
            self.pt.penalty_notices,
            self.pt.prosecutions,
            self.pt.absence_identified,
        )
        start, end = period.start, period.end
        visible = await self._visible(scope, filters)
        acc: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

        def add(urn: str | None, name: str, value: Any) -> None:
            school = visible.get(urn) if urn else None
            if school is not None:
                acc[self._key(school, by)][name] += int(value or 0)

        for r in await self._rows(
            select(
                q.c.school_urn,
                func.sum(case((q.c.requested_on.between(start, end), 1), else_=0)),
                func.sum(case((q.c.declined_on.between(start, end), 1), else_=0)),
                func.sum(case((q.c.requested_on.between(start, end), q.c.declined_parents), else_=0)),
            ).group_by(q.c.school_urn)
        ):
            add(r[0], "requests", r[1])
            add(r[0], "requests_declined", r[2])
            add(r[0], "parents_declined", r[3])
        for r in await self._rows(
            select(
                n.c.school_urn,
                func.sum(case((n.c.issued_on.between(start, end), 1), else_=0)),
                func.sum(
                    case(
                        (and_(n.c.issued_on.between(start, end), n.c.issued_within_target.is_(True)), 1),
                        else_=0,
                    )
                ),
                func.sum(case((n.c.paid_on.between(start, end), 1), else_=0)),
                func.sum(case((n.c.withdrawn_on.between(start, end), 1), else_=0)),
            ).group_by(n.c.school_urn)
        ):
            add(r[0], "notices_issued", r[1])
            add(r[0], "notices_issued_within_target", r[2])
            add(r[0], "notices_paid", r[3])
            add(r[0], "notices_withdrawn", r[4])
        for r in await self._rows(
            select(
                n.c.school_urn,
                func.sum(case((p.c.started_on.between(start, end), 1), else_=0)),
                func.sum(case((p.c.concluded_on.between(start, end), 1), else_=0)),
                func.sum(
                    case((and_(p.c.concluded_on.between(start, end), p.c.outcome == "convicted"), 1), else_=0)
                ),
            )
            .select_from(p.outerjoin(n, n.c.notice_id == p.c.notice_id))
            .group_by(n.c.school_urn)
        ):
            add(r[0], "prosecutions_started", r[1])
            add(r[0], "prosecutions_concluded", r[2])
            add(r[0], "convictions", r[3])
        for r in await self._rows(
            select(
                a.c.school_urn,
                func.sum(case((a.c.level == "persistent", 1), else_=0)),
                func.sum(case((a.c.level == "severe", 1), else_=0)),
            )
            .where(a.c.as_at.between(start, end), a.c.basis == "reached")
            .group_by(a.c.school_urn)
        ):
            add(r[0], "persistent_identified", r[1])
            add(r[0], "severe_identified", r[2])
        names = (
            "requests",
            "requests_declined",
            "parents_declined",
            "notices_issued",
            "notices_issued_within_target",
            "notices_paid",
            "notices_withdrawn",
            "prosecutions_started",
            "prosecutions_concluded",
            "convictions",
            "persistent_identified",
            "severe_identified",
        )
        return [{by: key, **{name: acc[key].get(name, 0) for name in names}} for key in sorted(acc)]

    # -- referrals ---------------------------------------------------------------------------

    async def referrals(
        self, period: Period, by: str, scope: Scope, filters: Filters
    ) -> list[dict[str, Any]]:
        r_ = self.pt.referrals
        visible = await self._visible(scope, filters)
        rows = await self.session.execute(
            select(
                r_.c.school_urn,
                r_.c.kind,
                func.count(),
                func.sum(case((r_.c.decided_on.is_not(None), 1), else_=0)),
                func.sum(case((r_.c.within_target.is_(True), 1), else_=0)),
            )
            .where(r_.c.received_on.between(period.start, period.end))
            .group_by(r_.c.school_urn, r_.c.kind)
        )
        acc: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for urn, kind, received, triaged, within in rows:
            school = visible.get(urn) if urn else None
            if school is None:
                if urn is not None or scope.districts is not None or filters != Filters():
                    continue
                key = "all" if by == "la" else UNKNOWN  # agency referrals without a school
            else:
                key = self._key(school, by)
            row = acc[(key, kind or UNKNOWN)]
            row[0] += int(received)
            row[1] += int(triaged or 0)
            row[2] += int(within or 0)
        return [
            {
                by: key,
                "kind": kind,
                "received": v[0],
                "triaged": v[1],
                "responded_within_target": v[2],
                "responded_within_target_share": percent(v[2], v[1]),
            }
            for (key, kind), v in sorted(acc.items())
        ]

    # -- indicators --------------------------------------------------------------------------

    async def measure(
        self, indicator: Indicator, period: Period, scope: Scope
    ) -> tuple[float | None, int, int]:
        """(value, numerator, denominator) of an indicator's measure for a period."""
        filters = Filters(phase=indicator.phase)
        m = indicator.measure
        if m in (Measure.ATTENDANCE, Measure.PERSISTENT_ABSENCE, Measure.SEVERE_ABSENCE):
            rows = await self.attendance(period, "la", scope, filters)
            if not rows:
                return None, 0, 0
            row = rows[0]
            if m is Measure.ATTENDANCE:
                num, den = row["attended_sessions"], row["possible_sessions"]
            elif m is Measure.PERSISTENT_ABSENCE:
                num, den = row["persistent_absentees"], row["enrolments"]
            else:
                num, den = row["severe_absentees"], row["enrolments"]
            return percent(num, den), num, den
        if m in (Measure.PERMANENT_EXCLUSIONS, Measure.SUSPENSIONS):
            x = self.pt.exclusions
            kinds = ["permanent"] if m is Measure.PERMANENT_EXCLUSIONS else ["suspension", "lunchtime"]
            visible = await self._visible(scope, filters)
            counted = await self._rows(
                select(x.c.school_urn, func.count())
                .where(
                    x.c.start_date.between(period.start, period.end),
                    x.c.withdrawn_on.is_(None),
                    x.c.kind.in_(kinds),
                )
                .group_by(x.c.school_urn)
            )
            count = sum(int(n) for urn, n in counted if urn in visible)
            return float(count), count, 0
        memo = ("cme", period.key)
        if memo not in self._memo:
            self._memo[memo] = await self.cme(period, "la", scope, Filters())
        rows = self._memo[memo]
        if not rows:
            return None, 0, 0
        row = rows[0]
        if m is Measure.CME_FOUND_WITHIN_TWO_WEEKS:
            num, den = row["found_within_two_weeks"], row["cases_opened"]
        else:
            num, den = row["placed_within_target"], row["found"]
        return percent(num, den), num, den

    async def board(self, table: IndicatorTable, period: Period, scope: Scope) -> list[dict[str, Any]]:
        history = previous_periods(self.calendar, period, table.trend_periods)
        result = []
        for indicator in table.indicators:
            value, numerator, denominator = await self.measure(indicator, period, scope)
            trend = []
            for earlier in history:
                past, _n, _d = await self.measure(indicator, earlier, scope)
                trend.append((earlier.key, past if (past or _n or _d) else None))
            target, target_year = indicator.target_for(period.academic_year)
            judged = not indicator.annual or period.kind is PeriodKind.ACADEMIC_YEAR
            has_data = value is not None and (numerator > 0 or denominator > 0 or indicator.unit == "count")
            result.append(
                {
                    "id": indicator.id,
                    "title": indicator.title,
                    "unit": indicator.unit,
                    "polarity": indicator.polarity.value,
                    "period": period.key,
                    "value": value if has_data else None,
                    "numerator": numerator,
                    "denominator": denominator if indicator.unit == "percent" else None,
                    "floor": indicator.floor,
                    "target": target,
                    "target_year": target_year,
                    "benchmark": indicator.benchmark,
                    "outturn": indicator.outturn.model_dump() if indicator.outturn else None,
                    "rag": (
                        rag(value, indicator.floor, target, indicator.polarity)
                        if judged and has_data
                        else None
                    ),
                    "direction": direction_of_travel(
                        [v for _, v in trend] + [value if has_data else None],
                        indicator.polarity,
                        indicator.stable_within,
                    ).value,
                    "trend": [{"period": key, "value": v} for key, v in trend],
                }
            )
        return result


def _attendance_figures(
    present: int,
    aea: int,
    authorised: int,
    unauthorised: int,
    late: int,
    enrolments: int,
    persistent: int,
    severe: int,
) -> dict[str, Any]:
    possible = present + aea + authorised + unauthorised
    absent = authorised + unauthorised
    return {
        "enrolments": enrolments,
        "possible_sessions": possible,
        "attended_sessions": present + aea,
        "absence_sessions": absent,
        "authorised_sessions": authorised,
        "unauthorised_sessions": unauthorised,
        "late_sessions": late,
        "attendance_rate": percent(present + aea, possible),
        "overall_absence_rate": percent(absent, possible),
        "authorised_absence_rate": percent(authorised, possible),
        "unauthorised_absence_rate": percent(unauthorised, possible),
        "persistent_absentees": persistent,
        "persistent_absence_rate": percent(persistent, enrolments),
        "severe_absentees": severe,
        "severe_absence_rate": percent(severe, enrolments),
    }


def _reasons(codes: str | None) -> list[str]:
    return [c for c in (codes or "").split(",") if c] or [UNKNOWN]


_YEARS: Final = ["N1", "N2", "R", *[str(i) for i in range(1, 15)]]


def _year_order(year: str) -> tuple[int, str]:
    return (_YEARS.index(year), year) if year in _YEARS else (len(_YEARS), year)
