"""The reporting domain: periods, the DfE absence measures, figures, suppression, indicators' RAG
and direction of travel. Plain Python over the kit's calendar and code table (no framework).

Reporting owns no aggregates that change by command: its state is read models built from other
services' events (see ``service_layer/projections.py``). What lives here are the rules those read
models and the reports follow, each small enough to test from a table of cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Final

from inclusion_kit.calendar import (
    AcademicYear,
    CalendarRangeError,
    HalfTermName,
    SchoolCalendar,
    TermName,
)
from inclusion_kit.codes import Regime, StatCategory, UnknownAttendanceCode, lookup
from reporting.domain.errors import InvalidPeriod

# --- periods ---------------------------------------------------------------------------------


class PeriodKind(StrEnum):
    ACADEMIC_YEAR = "academic_year"
    TERM = "term"
    HALF_TERM = "half_term"


@dataclass(frozen=True, slots=True)
class Period:
    """An academic year, a term or a half-term of the LA's calendar, first to last day inclusive.

    ``key`` names it in the read models: ``2025/26``, ``2025/26:autumn``, ``2025/26:autumn-1``.
    """

    kind: PeriodKind
    academic_year: AcademicYear
    name: str | None
    start: date
    end: date

    @property
    def key(self) -> str:
        return self.academic_year.label if self.name is None else f"{self.academic_year.label}:{self.name}"

    @property
    def label(self) -> str:
        return self.key.replace(":", " ")

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def period_of(
    calendar: SchoolCalendar, academic_year: str, term: str | None = None, half_term: str | None = None
) -> Period:
    """The period a report asks for; :class:`InvalidPeriod` names the parameter that is wrong."""
    try:
        year = AcademicYear.from_label(academic_year)
    except ValueError as exc:
        raise InvalidPeriod("academic_year", str(exc)) from None
    if term is not None and half_term is not None:
        raise InvalidPeriod("half_term", "give a term or a half-term, not both")
    try:
        if half_term is not None:
            try:
                wanted_half = HalfTermName(half_term)
            except ValueError:
                names = ", ".join(h.value for h in HalfTermName)
                raise InvalidPeriod("half_term", f"half_term must be one of {names}") from None
            found = next(p for p in calendar.half_terms(year) if p.name == wanted_half)
            return Period(PeriodKind.HALF_TERM, year, wanted_half.value, found.start, found.end)
        if term is not None:
            try:
                wanted_term = TermName(term)
            except ValueError:
                names = ", ".join(t.value for t in TermName)
                raise InvalidPeriod("term", f"term must be one of {names}") from None
            found = next(p for p in calendar.terms(year) if p.name == wanted_term)
            return Period(PeriodKind.TERM, year, wanted_term.value, found.start, found.end)
        calendar.terms(year)  # raises when the year is not configured
    except CalendarRangeError as exc:
        raise InvalidPeriod("academic_year", str(exc)) from None
    return Period(PeriodKind.ACADEMIC_YEAR, year, None, year.start, year.end)


def previous_periods(calendar: SchoolCalendar, period: Period, count: int) -> list[Period]:
    """Up to ``count`` periods of the same kind before ``period``, oldest first (as far as the
    calendar is configured): what the direction of travel is judged over."""
    result: list[Period] = []
    if period.kind is PeriodKind.ACADEMIC_YEAR:
        year = period.academic_year
        for _ in range(count):
            year = year.previous()
            try:
                result.append(period_of(calendar, year.label))
            except InvalidPeriod:
                break
        return list(reversed(result))
    sequence: list[Period] = []
    for year in calendar.academic_years:
        if period.kind is PeriodKind.TERM:
            sequence += [period_of(calendar, year.label, term=str(t.name)) for t in calendar.terms(year)]
        else:
            sequence += [
                period_of(calendar, year.label, half_term=str(h.name)) for h in calendar.half_terms(year)
            ]
    index = next(i for i, p in enumerate(sequence) if p.key == period.key)
    return sequence[max(0, index - count) : index]


class PeriodIndex:
    """The period keys a school day's attendance mark counts in (its half-term, term and academic
    year), cached per date: a county day's marks share one or two dates."""

    def __init__(self, calendar: SchoolCalendar) -> None:
        self.calendar = calendar
        self._cache: dict[date, tuple[str, ...]] = {}

    def keys_for(self, day: date) -> tuple[str, ...]:
        known = self._cache.get(day)
        if known is not None:
            return known
        year = AcademicYear.containing(day).label
        keys: tuple[str, ...] = (year,)
        try:
            half = self.calendar.half_term_of(day)
            term = self.calendar.term_of(day)
        except CalendarRangeError:
            half = term = None  # outside the configured years: the academic year still counts
        if term is not None:
            keys += (f"{year}:{term.name}",)
        if half is not None:
            keys += (f"{year}:{half.name}",)
        self._cache[day] = keys
        return keys


# --- attendance (DOMAIN.md §2) -----------------------------------------------------------------

# The counters a mark adds to: present (/, \, L), approved educational activity, authorised and
# unauthorised absence, not counted (removed from possible sessions), and late (L; also present).
PRESENT, AEA, AUTHORISED, UNAUTHORISED, NOT_COUNTED, LATE, UNKNOWN_CODE = range(7)
COUNTERS: Final = 7
_CATEGORY: Final = {
    StatCategory.PRESENT: PRESENT,
    StatCategory.AEA: AEA,
    StatCategory.AUTH: AUTHORISED,
    StatCategory.UNAUTH: UNAUTHORISED,
    StatCategory.NC: NOT_COUNTED,
}


@lru_cache(maxsize=512)
def mark_counters(code: str, regime: str) -> tuple[int, ...]:
    """The counters one mark adds to, by its DfE statistical category in its own regime (the
    2006 and 2024 code sets are never mixed; an unknown code is counted as such, never guessed)."""
    result = [0] * COUNTERS
    try:
        item = lookup(code, Regime(regime))
    except (UnknownAttendanceCode, ValueError):
        result[UNKNOWN_CODE] = 1
        return tuple(result)
    result[_CATEGORY[item.stat_category]] = 1
    if item.code == "L":
        result[LATE] = 1
    return tuple(result)


# A mark as the projector reads it: its date, code, the code it corrects (if any) and regime.
MarkKey = tuple[date, str, str | None, str]
Delta = tuple[int, ...]
_NO_COUNTERS: Final = (0,) * COUNTERS


class MarkDeltas:
    """What one event's marks add to each period's counters: for each period key its marks fall
    in, the sum of every mark's counters minus those of the code it corrects (a correction takes
    its previous code's session out and puts the new one in).

    A county day's events carry the same few sets of marks (the day's date, a present AM and PM,
    a few absence codes), so the answer is kept per distinct set of marks, up to ``cache_size``
    of them (then started afresh); events with more than ``cached_marks`` marks are worked out
    each time. Periods with a zero delta are kept: the enrolment's row exists either way."""

    def __init__(self, periods: PeriodIndex, *, cache_size: int = 4096, cached_marks: int = 8) -> None:
        self.periods = periods
        self.cache_size = cache_size
        self.cached_marks = cached_marks
        self._cache: dict[tuple[MarkKey, ...], tuple[tuple[str, Delta], ...]] = {}

    def of(self, marks: tuple[MarkKey, ...]) -> tuple[tuple[str, Delta], ...]:
        known = self._cache.get(marks)
        if known is not None:
            return known
        result = self._work_out(marks)
        if len(marks) <= self.cached_marks:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[marks] = result
        return result

    def _work_out(self, marks: tuple[MarkKey, ...]) -> tuple[tuple[str, Delta], ...]:
        sums: dict[str, list[int]] = {}
        for day, code, previous, regime in marks:
            new = mark_counters(code, regime)
            old = mark_counters(previous, regime) if previous else _NO_COUNTERS
            for period in self.periods.keys_for(day):
                row = sums.setdefault(period, [0] * COUNTERS)
                for i in range(COUNTERS):
                    row[i] += new[i] - old[i]
        return tuple((period, tuple(row)) for period, row in sums.items())


@dataclass(frozen=True, slots=True)
class SessionCounts:
    present: int = 0
    aea: int = 0
    authorised: int = 0
    unauthorised: int = 0

    @property
    def possible(self) -> int:
        """Possible sessions: present, approved educational activity and absence (NC excluded)."""
        return self.present + self.aea + self.authorised + self.unauthorised

    @property
    def absent(self) -> int:
        return self.authorised + self.unauthorised


PERSISTENT_PERCENT: Final = 10
SEVERE_PERCENT: Final = 50


def is_persistent(counts: SessionCounts) -> bool:
    """An enrolment missing >= 10% of its own possible sessions (integer arithmetic: no float edge)."""
    return counts.possible > 0 and counts.absent * 100 >= PERSISTENT_PERCENT * counts.possible


def is_severe(counts: SessionCounts) -> bool:
    return counts.possible > 0 and counts.absent * 100 >= SEVERE_PERCENT * counts.possible


def status_moves(before: Sequence[int], after: Sequence[int]) -> tuple[int, int, int]:
    """How an enrolment's row moved the school's counts (counted, persistent, severe) when its
    counters went from ``before`` to ``after``: each -1, 0 or +1."""
    was = SessionCounts(before[PRESENT], before[AEA], before[AUTHORISED], before[UNAUTHORISED])
    now = SessionCounts(after[PRESENT], after[AEA], after[AUTHORISED], after[UNAUTHORISED])
    return (
        int(now.possible > 0) - int(was.possible > 0),
        int(is_persistent(now)) - int(is_persistent(was)),
        int(is_severe(now)) - int(is_severe(was)),
    )


# --- pupil groups ----------------------------------------------------------------------------

# Gypsy/Roma and Traveller of Irish heritage, with the extended codes that roll up to them.
GRT_CODES: Final = frozenset({"WROM", "WIRT", "WROG", "WROR", "WROO"})


def is_grt(ethnicity: str | None) -> bool:
    return ethnicity is not None and ethnicity.upper() in GRT_CODES


class PupilGroup(StrEnum):
    FSM = "fsm"
    SEN_SUPPORT = "sen_support"
    EHC_PLAN = "ehc_plan"
    LOOKED_AFTER = "looked_after"
    CHILD_IN_NEED = "child_in_need"
    GRT = "grt"


# --- figures ---------------------------------------------------------------------------------


def percent(numerator: int | float, denominator: int | float, places: int = 1) -> float | None:
    """numerator / denominator x 100 rounded half away from zero; None when there is no denominator."""
    if not denominator:
        return None
    value = numerator * 100 / denominator
    scaled = abs(value) * 10**places + 0.5 + 1e-9
    sign = 1 if value >= 0 else -1
    return float(sign * int(scaled) / 10**places)


def per_hundred(count: int, pupils: int) -> float | None:
    """A rate per 100 pupils to two places (DfE publishes exclusion rates so)."""
    return percent(count, pupils, places=2)


def suppressed(value: int | None, threshold: int) -> bool:
    """Small-number suppression for published figures: a count from 1 to ``threshold - 1``."""
    return value is not None and 0 < value < threshold


# --- indicators ------------------------------------------------------------------------------


class Polarity(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Rag(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"


class Direction(StrEnum):
    IMPROVING = "improving"
    STABLE = "stable"
    WORSENING = "worsening"
    NOT_ENOUGH_DATA = "not_enough_data"


def rag(value: float | None, floor: float | None, target: float | None, polarity: Polarity) -> Rag | None:
    """Green at or beyond the target, amber at or beyond the floor, red short of the floor.

    "Beyond" follows the polarity: for attendance higher is better; for persistent absence and
    permanent exclusions lower is. With no target the floor alone separates green from red."""
    if value is None or (floor is None and target is None):
        return None

    def meets(limit: float) -> bool:
        return value >= limit if polarity is Polarity.HIGHER_IS_BETTER else value <= limit

    if target is not None and meets(target):
        return Rag.GREEN
    if floor is not None and meets(floor):
        return Rag.AMBER if target is not None else Rag.GREEN
    return Rag.RED


def direction_of_travel(values: Sequence[float | None], polarity: Polarity, tolerance: float) -> Direction:
    """The trend over the last periods (oldest first, the current one last): the least-squares
    slope of the known values, judged against ``tolerance`` per period (changes smaller than that
    are "stable"). Needs two known values."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return Direction.NOT_ENOUGH_DATA
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    if abs(slope) <= tolerance:
        return Direction.STABLE
    better = slope > 0 if polarity is Polarity.HIGHER_IS_BETTER else slope < 0
    return Direction.IMPROVING if better else Direction.WORSENING
