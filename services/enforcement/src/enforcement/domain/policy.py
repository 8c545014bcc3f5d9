"""Codes of conduct for penalty notices as versioned policies, chosen per LA and by date.

Each :class:`CodeOfConduct` is one version of the rules (DOMAIN.md §3.2, §10.2), built from data
(``enforcement/data/codes_of_conduct.yaml``, or an LA's own file): its threshold, the amounts and
when they are due, the limit on notices per parent per child, the notice-to-improve period, and the
deadlines. A :class:`PolicyBook` holds every version and answers "which code applies to this LA on
this date"; an LA's own version wins over a national one in force on the same date.

History is judged by the rules of its time. A request's offence period is split where the code in
force changes (:meth:`PolicyBook.segments`), and each part is judged by its own code (a period
from July to September 2024 is judged by the county's 2016 code up to 18 August 2024 and by the
national framework from 19 August 2024). The rules about the notice itself (the limit per parent,
the amounts, deemed receipt, the issue deadline) are those in force on the date of issue, since
the amending regulations apply to notices issued from their commencement.

UNVERIFIED choices, kept as data: that sessions before 19 August 2024 do not count toward the
national threshold (``counts_from``), the 2 working days of deemed receipt by post, and the 2016
code's period of attendance (the offence period of the request).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from enforcement.domain.errors import NoCodeOfConduct
from inclusion_kit.calendar import CalendarRangeError, SchoolCalendar
from inclusion_kit.codes import StatCategory


class ThresholdKind(enum.StrEnum):
    # National framework: N sessions of the threshold codes in a rolling M school weeks.
    ROLLING_SESSIONS = "rolling_sessions"
    # The county's 2016 code: attendance at or below a percentage, or aggravating factors.
    ATTENDANCE_PERCENT = "attendance_percent"


class Rule(enum.StrEnum):
    """Names of the rules a decision reports (stable: they appear in events and the API)."""

    NO_CODE_OF_CONDUCT = "no-code-of-conduct"
    NATIONAL_THRESHOLD = "national-threshold"
    ATTENDANCE_OR_AGGRAVATION = "attendance-or-aggravating-factors"
    UNAUTHORISED_ABSENCE = "unauthorised-absence"
    NOTICE_TO_IMPROVE_PERIOD = "notice-to-improve-period"
    NOTICE_LIMIT = "notice-limit-per-parent-per-child"
    OFFICER_DISCRETION = "officer-discretion"


@dataclass(frozen=True, slots=True)
class Amounts:
    """What a notice costs: ``reduced_pence`` if paid within ``reduced_within_days`` of receipt,
    else ``full_pence`` within ``full_within_days`` (no reduced rate when ``reduced_pence`` is None)."""

    full_pence: int
    full_within_days: int
    reduced_pence: int | None = None
    reduced_within_days: int | None = None


@dataclass(frozen=True, slots=True)
class CodeOfConduct:
    id: str
    title: str
    effective_from: date
    effective_to: date | None  # inclusive; None: still in force
    la_codes: frozenset[str]  # empty: every LA (the national framework)
    threshold: ThresholdKind
    first_notice: Amounts
    repeat_notice: Amounts | None = None  # a further notice within the lookback (None: as the first)
    threshold_sessions: int = 10
    threshold_school_weeks: int = 10
    threshold_codes: frozenset[str] = frozenset({"G", "N", "O", "U"})
    counts_from: date | None = None  # sessions before this date never count toward the threshold
    max_attendance_percent: float | None = None
    aggravating_factors: frozenset[str] = frozenset()
    notice_limit: int | None = None  # notices per parent per child in the lookback; None: no limit
    lookback_years: int = 3
    limit_counts_from: date | None = None  # notices issued before this date do not count
    nti_weeks: int | None = None  # the notice-to-improve improvement period (None: not used)
    nti_min_weeks: int = 3
    nti_max_weeks: int = 6
    issue_within_days: int = 7
    posted_receipt_working_days: int = 2
    prosecution_limit_months: int = 6

    def __post_init__(self) -> None:
        if self.nti_weeks is not None and not self.nti_min_weeks <= self.nti_weeks <= self.nti_max_weeks:
            raise ValueError(
                f"{self.id}: the notice-to-improve period must be {self.nti_min_weeks}-{self.nti_max_weeks} "
                f"weeks; got {self.nti_weeks}"
            )
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"{self.id}: effective_to is before effective_from")
        if self.threshold is ThresholdKind.ATTENDANCE_PERCENT and self.max_attendance_percent is None:
            raise ValueError(f"{self.id}: an attendance threshold needs max_attendance_percent")

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def applies_to(self, la_code: str) -> bool:
        return not self.la_codes or la_code in self.la_codes

    @property
    def is_national(self) -> bool:
        return not self.la_codes

    def with_overrides(self, **values: Any) -> CodeOfConduct:
        from dataclasses import replace

        return replace(self, **values)


@dataclass(frozen=True, slots=True)
class Segment:
    start: date
    end: date
    code: CodeOfConduct | None


class PolicyBook:
    """Every code-of-conduct version known, chosen per LA and by date."""

    def __init__(self, codes: Iterable[CodeOfConduct]) -> None:
        self.codes: tuple[CodeOfConduct, ...] = tuple(sorted(codes, key=lambda c: (c.effective_from, c.id)))
        ids = [c.id for c in self.codes]
        if len(ids) != len(set(ids)):
            raise ValueError("code-of-conduct ids must be unique")
        groups: dict[str, list[CodeOfConduct]] = {}
        for code in self.codes:
            for la in code.la_codes or {""}:  # "": the national versions
                groups.setdefault(la, []).append(code)
        for versions in groups.values():
            for a, b in pairwise(versions):
                if a.effective_to is None or a.effective_to >= b.effective_from:
                    raise ValueError(f"codes of conduct {a.id} and {b.id} overlap")

    def get(self, code_id: str) -> CodeOfConduct:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise KeyError(code_id)

    def in_force(self, la_code: str, day: date) -> CodeOfConduct:
        """The code in force for ``la_code`` on ``day``: the LA's own version, else the national one."""
        own = [c for c in self.codes if la_code in c.la_codes and c.in_force_on(day)]
        if own:
            return own[0]
        national = [c for c in self.codes if c.is_national and c.in_force_on(day)]
        if national:
            return national[0]
        raise NoCodeOfConduct(f"no code of conduct for LA {la_code} is configured for {day.isoformat()}")

    def segments(self, la_code: str, start: date, end: date) -> list[Segment]:
        """``start``..``end`` split where the code in force changes (a gap has ``code`` None)."""
        cuts = {c.effective_from for c in self.codes if c.applies_to(la_code)}
        cuts |= {
            c.effective_to + timedelta(days=1)
            for c in self.codes
            if c.applies_to(la_code) and c.effective_to is not None
        }
        bounds = [start, *sorted(d for d in cuts if start < d <= end), end + timedelta(days=1)]
        result: list[Segment] = []
        for first, after in pairwise(bounds):
            try:
                code: CodeOfConduct | None = self.in_force(la_code, first)
            except NoCodeOfConduct:
                code = None
            last = after - timedelta(days=1)
            if result and result[-1].code is code:
                result[-1] = Segment(result[-1].start, last, code)
            else:
                result.append(Segment(first, last, code))
        return result


# --- judging an offence period ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionMark:
    """One register session as enforcement holds it."""

    day: date
    session: str
    code: str
    category: StatCategory
    threshold: bool  # counts toward the penalty threshold (G, N, O, U)


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: Rule
    met: bool
    detail: str


@dataclass(frozen=True, slots=True)
class SegmentJudgement:
    code_of_conduct: str | None
    start: date
    end: date
    results: tuple[RuleResult, ...]
    last_offence_date: date | None = None

    @property
    def met(self) -> bool:
        return self.code_of_conduct is not None and all(r.met for r in self.results)

    @property
    def failed(self) -> RuleResult | None:
        return next((r for r in self.results if not r.met), None)


@dataclass(frozen=True, slots=True)
class Judgement:
    """A request judged segment by segment; eligible when some segment meets its code's rules."""

    segments: tuple[SegmentJudgement, ...]

    @property
    def eligible(self) -> bool:
        return any(s.met for s in self.segments)

    @property
    def deciding(self) -> SegmentJudgement:
        """The segment that makes it eligible (the latest), else the latest that failed."""
        met = [s for s in self.segments if s.met]
        return met[-1] if met else self.segments[-1]

    @property
    def last_offence_date(self) -> date | None:
        dates = [s.last_offence_date for s in self.segments if s.met and s.last_offence_date]
        return max(dates) if dates else None


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the school's request states, for judging it."""

    la_code: str
    period_start: date
    period_end: date
    offence_type: str
    notice_to_improve_issued_on: date | None = None
    aggravating_factors: frozenset[str] = field(default_factory=frozenset)


def judge(
    book: PolicyBook,
    facts: RequestFacts,
    marks: Sequence[SessionMark],
    calendar: SchoolCalendar,
    decided_on: date,
) -> Judgement:
    """Judge every part of the offence period by the code in force at its time."""
    parts: list[SegmentJudgement] = []
    for segment in book.segments(facts.la_code, facts.period_start, facts.period_end):
        inside = [m for m in marks if segment.start <= m.day <= segment.end]
        if segment.code is None:
            parts.append(
                SegmentJudgement(
                    None,
                    segment.start,
                    segment.end,
                    (
                        RuleResult(
                            Rule.NO_CODE_OF_CONDUCT,
                            False,
                            f"no code of conduct for LA {facts.la_code} covers "
                            f"{segment.start.isoformat()} to {segment.end.isoformat()}",
                        ),
                    ),
                )
            )
        elif segment.code.threshold is ThresholdKind.ROLLING_SESSIONS:
            parts.append(_judge_national(segment.code, segment, facts, inside, calendar, decided_on))
        else:
            parts.append(_judge_attendance(segment.code, segment, facts, inside))
    return Judgement(tuple(parts))


@dataclass(frozen=True, slots=True)
class Window:
    start: date
    end: date
    sessions: int
    last_session: date | None


def best_rolling_window(
    code: CodeOfConduct, marks: Sequence[SessionMark], calendar: SchoolCalendar, start: date, end: date
) -> Window | None:
    """The rolling window of ``threshold_school_weeks`` school weeks, ending in a school week from
    ``start`` to ``end``, holding the most threshold sessions dated within ``start``..``end``.

    A school week is a week with at least one school session (the kit calendar), so a window skips
    half-terms and holidays and may span terms and academic years. None when no school week ends
    in the period."""
    counted = sorted(m.day for m in marks if m.threshold and m.code in code.threshold_codes)
    if code.counts_from is not None:
        start = max(start, code.counts_from)
        counted = [d for d in counted if d >= code.counts_from]
    counted = [d for d in counted if start <= d <= end]
    best: Window | None = None
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        try:
            week = calendar.school_week_of(monday)
        except CalendarRangeError:
            week = None
        if week is not None:
            try:
                first = calendar.rolling_school_weeks_start(monday, code.threshold_school_weeks)
            except CalendarRangeError:
                first = calendar.first_date
            window_end = min(end, monday + timedelta(days=6))
            window_start = max(first, start)
            inside = [d for d in counted if window_start <= d <= window_end]
            if best is None or len(inside) > best.sessions:
                best = Window(first, window_end, len(inside), inside[-1] if inside else None)
        monday += timedelta(days=7)
    return best


def _judge_national(
    code: CodeOfConduct,
    segment: Segment,
    facts: RequestFacts,
    marks: Sequence[SessionMark],
    calendar: SchoolCalendar,
    decided_on: date,
) -> SegmentJudgement:
    results: list[RuleResult] = []
    if (
        facts.offence_type == "irregular_attendance"
        and code.nti_weeks is not None
        and facts.notice_to_improve_issued_on is not None
    ):
        ends = facts.notice_to_improve_issued_on + timedelta(weeks=code.nti_weeks)
        results.append(
            RuleResult(
                Rule.NOTICE_TO_IMPROVE_PERIOD,
                decided_on >= ends,
                f"the notice to improve of {facts.notice_to_improve_issued_on.isoformat()} gives "
                f"{code.nti_weeks} weeks to improve, to {ends.isoformat()}",
            )
        )
    window = best_rolling_window(code, marks, calendar, segment.start, segment.end)
    sessions = window.sessions if window else 0
    codes = "/".join(sorted(code.threshold_codes))
    if window is None:
        detail = "no school week in the period"
    else:
        detail = (
            f"{sessions} sessions of {codes} in the rolling {code.threshold_school_weeks} school weeks "
            f"{window.start.isoformat()} to {window.end.isoformat()}; {code.threshold_sessions} needed"
        )
        if code.counts_from is not None and window.start < code.counts_from:
            detail += f" (sessions before {code.counts_from.isoformat()} do not count)"
    results.append(RuleResult(Rule.NATIONAL_THRESHOLD, sessions >= code.threshold_sessions, detail))
    last = window.last_session if window and sessions >= code.threshold_sessions else None
    return SegmentJudgement(code.id, segment.start, segment.end, tuple(results), last)


def _judge_attendance(
    code: CodeOfConduct, segment: Segment, facts: RequestFacts, marks: Sequence[SessionMark]
) -> SegmentJudgement:
    possible = [m for m in marks if m.category is not StatCategory.NC]
    attended = sum(1 for m in possible if m.category in (StatCategory.PRESENT, StatCategory.AEA))
    unauthorised = sorted(m.day for m in possible if m.category is StatCategory.UNAUTH)
    results = [
        RuleResult(
            Rule.UNAUTHORISED_ABSENCE,
            bool(unauthorised),
            f"{len(unauthorised)} sessions of unauthorised absence in the period",
        )
    ]
    assert code.max_attendance_percent is not None
    percent = 100.0 * attended / len(possible) if possible else None
    factors = sorted(facts.aggravating_factors & code.aggravating_factors)
    low = percent is not None and percent <= code.max_attendance_percent
    if percent is None:
        detail = "no possible sessions in the period"
    else:
        detail = f"attendance {percent:.1f}% over {len(possible)} possible sessions"
        detail += f" (at or below {code.max_attendance_percent:g}% needed"
        detail += f", or an aggravating factor: {', '.join(sorted(code.aggravating_factors))})"
    if factors:
        detail += f"; aggravating factors: {', '.join(factors)}"
    results.append(RuleResult(Rule.ATTENDANCE_OR_AGGRAVATION, low or bool(factors), detail))
    last = unauthorised[-1] if unauthorised else None
    return SegmentJudgement(code.id, segment.start, segment.end, tuple(results), last)


# --- the notice itself -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeTerms:
    """A notice's sequence for this parent and child, and what it costs."""

    code_of_conduct: str
    sequence: int
    amounts: Amounts


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - day 28 exists in every month


def notice_terms(
    code: CodeOfConduct, earlier_issue_dates: Iterable[date], on: date
) -> NoticeTerms | RuleResult:
    """The terms of a notice to one parent for one child proposed for ``on``, given the dates of
    that parent's earlier notices for that child that were not withdrawn; or the failed limit rule.

    The limit looks back over the ``lookback_years`` ending with the proposed issue date (the
    regulation's wording, DOMAIN.md §9.5), counting only notices issued from ``limit_counts_from``.
    """
    since = years_before(on, code.lookback_years)
    counted = sorted(
        d
        for d in earlier_issue_dates
        if since < d <= on and (code.limit_counts_from is None or d >= code.limit_counts_from)
    )
    if code.notice_limit is not None and len(counted) >= code.notice_limit:
        return RuleResult(
            Rule.NOTICE_LIMIT,
            False,
            f"{len(counted)} notices to this parent for this child in the {code.lookback_years} years "
            f"ending {on.isoformat()} (first {counted[0].isoformat()}); at most {code.notice_limit}: "
            "consider prosecution or another legal intervention",
        )
    sequence = len(counted) + 1
    amounts = code.first_notice if sequence == 1 or code.repeat_notice is None else code.repeat_notice
    return NoticeTerms(code.id, sequence, amounts)


def working_days_after(day: date, n: int, bank_holidays: Mapping[date, str]) -> date:
    """The ``n``-th working day (Monday to Friday, not a bank holiday) after ``day``."""
    current = day
    while n > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in bank_holidays:
            n -= 1
    return current


def received_on(code: CodeOfConduct, served_on: date, method: str, bank_holidays: Mapping[date, str]) -> date:
    """When a notice is received: the day it is handed over, or deemed received after posting."""
    if method == "hand":
        return served_on
    return working_days_after(served_on, code.posted_receipt_working_days, bank_holidays)


@dataclass(frozen=True, slots=True)
class DueAmount:
    pence: int
    rate: str  # "reduced" or "full"


def amount_due_on(
    amounts: Amounts,
    received: date,
    paid_on: date,
) -> DueAmount | None:
    """What settles the notice if paid on ``paid_on`` (None: too late, it can no longer be paid).

    "Within 21 days of receipt" counts from the day of receipt: received on the 1st, the 22nd is
    the last day of the reduced rate. A posted notice may arrive before its deemed receipt: a
    payment before that date is within the reduced rate."""
    days = max(0, (paid_on - received).days)
    if amounts.reduced_pence is not None and amounts.reduced_within_days is not None:
        if days <= amounts.reduced_within_days:
            return DueAmount(amounts.reduced_pence, "reduced")
    if days <= amounts.full_within_days:
        return DueAmount(amounts.full_pence, "full")
    return None


def due_dates(amounts: Amounts, received: date) -> tuple[date | None, date]:
    reduced = (
        received + timedelta(days=amounts.reduced_within_days)
        if amounts.reduced_pence is not None and amounts.reduced_within_days is not None
        else None
    )
    return reduced, received + timedelta(days=amounts.full_within_days)


# --- building from data ---------------------------------------------------------------------


def _amounts(data: Mapping[str, Any]) -> Amounts:
    return Amounts(
        full_pence=int(data["full_pence"]),
        full_within_days=int(data["full_within_days"]),
        reduced_pence=None if data.get("reduced_pence") is None else int(data["reduced_pence"]),
        reduced_within_days=None
        if data.get("reduced_within_days") is None
        else int(data["reduced_within_days"]),
    )


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def code_from_mapping(data: Mapping[str, Any]) -> CodeOfConduct:
    """One version from plain data (YAML or JSON), checked."""
    known = set(CodeOfConduct.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"code of conduct {data.get('id')!r}: unknown fields {sorted(unknown)}")
    effective_from = _date(data["effective_from"])
    assert effective_from is not None
    return CodeOfConduct(
        id=str(data["id"]),
        title=str(data["title"]),
        effective_from=effective_from,
        effective_to=_date(data.get("effective_to")),
        la_codes=frozenset(str(x) for x in data.get("la_codes") or ()),
        threshold=ThresholdKind(data["threshold"]),
        first_notice=_amounts(data["first_notice"]),
        repeat_notice=_amounts(data["repeat_notice"]) if data.get("repeat_notice") else None,
        threshold_sessions=int(data.get("threshold_sessions", 10)),
        threshold_school_weeks=int(data.get("threshold_school_weeks", 10)),
        threshold_codes=frozenset(data.get("threshold_codes") or ("G", "N", "O", "U")),
        counts_from=_date(data.get("counts_from")),
        max_attendance_percent=(
            None if data.get("max_attendance_percent") is None else float(data["max_attendance_percent"])
        ),
        aggravating_factors=frozenset(data.get("aggravating_factors") or ()),
        notice_limit=None if data.get("notice_limit") is None else int(data["notice_limit"]),
        lookback_years=int(data.get("lookback_years", 3)),
        limit_counts_from=_date(data.get("limit_counts_from")),
        nti_weeks=None if data.get("nti_weeks") is None else int(data["nti_weeks"]),
        nti_min_weeks=int(data.get("nti_min_weeks", 3)),
        nti_max_weeks=int(data.get("nti_max_weeks", 6)),
        issue_within_days=int(data.get("issue_within_days", 7)),
        posted_receipt_working_days=int(data.get("posted_receipt_working_days", 2)),
        prosecution_limit_months=int(data.get("prosecution_limit_months", 6)),
    )
