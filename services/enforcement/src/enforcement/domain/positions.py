"""Attendance positions and persistent absence (DOMAIN.md §2: the DfE methodology).

The unit is the **enrolment** (a pupil at a school), not the pupil: a pupil who moves school has
two positions. For each enrolment, sessions are counted by academic year, by term and by school
week:

- **possible**: every mark whose code is not "not counted" (NC: ``X``, ``D``, ``Z``, ``#``, ``Q``,
  ``Y``/``Y1``-``Y7``); present, approved educational activity (AEA), authorised and unauthorised
  absence all count as possible sessions;
- **present** (``/``, ``\\``, ``L``), **approved activity** (AEA: attendance, not absence),
  **authorised** and **unauthorised** absence;
- **threshold** sessions: the unauthorised codes that count toward the penalty-notice threshold
  (``G``, ``N``, ``O``, ``U``).

Both code regimes are read through ``inclusion_kit.codes``: a mark keeps its code and regime, and
its category comes from that regime's table (``J`` in 2006 is attendance, ``J1`` in 2024 absence).

**Absence rate** = (authorised + unauthorised) / possible. **Persistent absence**: at or above 10%
of the enrolment's own possible sessions year to date; **severe**: at or above 50%. A position is
only judged once it has ``min_possible_sessions`` possible sessions, so that one early absence
does not flag a child (DOMAIN.md §2's in-year caution).

Events are raised **once per crossing per term**: when the rate crosses from below to at or above
a level, unless an event for that level was already raised in the same term (a pupil hovering at
the line does not raise one every day). A pupil who stays above the level into the next term raises
no new event; one who drops below and crosses again in a later term does.

**Early warning (on track to cross by the end of term).** For a pupil below 10%, the rest of the
term is projected at the pupil's own term-to-date absence rate::

    r          = term_absent / term_possible            (this term so far)
    remaining  = sessions left in the term after the latest mark (the LA's school calendar)
    projected  = (absent + r * remaining) / (possible + remaining)

The pupil is on track when ``projected`` reaches 10%, with at least ``min_possible_sessions``
possible sessions year to date and ``early_warning_min_term_sessions`` this term (a rate from two
days is no trend). One early warning per term at most, and none in a term in which the pupil was
already identified as persistently absent. The projection assumes every remaining school day is a
possible session (a school's own INSET days are not known to the LA calendar).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from inclusion_kit.calendar import SchoolCalendar
from inclusion_kit.codes import CodeTable, Regime, StatCategory

COUNT_FIELDS = ("possible", "present", "aea", "authorised", "unauthorised", "threshold")
OUTSIDE_TERM = "outside_term"


@dataclass(frozen=True, slots=True)
class MarkFacts:
    """What a mark contributes and where it is counted."""

    category: StatCategory
    threshold: bool
    academic_year: str
    term: str
    week: date
    remaining_sessions: int  # school sessions in the term after this day


def contribution(category: StatCategory | str, threshold: bool) -> tuple[int, int, int, int, int, int]:
    """The mark's counts in the order of :data:`COUNT_FIELDS`."""
    c = StatCategory(category)
    return (
        int(c is not StatCategory.NC),
        int(c is StatCategory.PRESENT),
        int(c is StatCategory.AEA),
        int(c is StatCategory.AUTH),
        int(c is StatCategory.UNAUTH),
        int(c is StatCategory.UNAUTH and threshold),
    )


class MarkClassifier:
    """Categories from the code tables and places from the LA calendar, memoised: a county day
    holds a handful of dates and codes."""

    def __init__(self, calendar: SchoolCalendar, codes: CodeTable) -> None:
        self.calendar = calendar
        self.codes = codes
        self._code = lru_cache(maxsize=256)(self._code_uncached)
        self._day = lru_cache(maxsize=4096)(self._day_uncached)

    def _code_uncached(self, code: str, regime: str) -> tuple[StatCategory, bool, str]:
        known = self.codes.lookup(code, Regime(regime))
        return known.stat_category, known.counts_toward_penalty_threshold, known.code

    def _day_uncached(self, day: date) -> tuple[str, str, date, int]:
        year = self.calendar.academic_year_of(day).label
        term = self.calendar.term_of(day)
        week = self.calendar.school_week_of(day) or day - timedelta(days=day.weekday())
        if term is None:
            return year, OUTSIDE_TERM, week, 0
        remaining = (
            2 * self.calendar.count_school_days(day + timedelta(days=1), term.end) if day < term.end else 0
        )
        return year, term.name.value, week, remaining

    def code(self, code: str, regime: str) -> tuple[StatCategory, bool, str]:
        """(category, counts toward the threshold, the code as the table spells it)."""
        return self._code(code, regime)

    def facts(self, day: date, code: str, regime: str) -> MarkFacts:
        category, threshold, _ = self._code(code, regime)
        year, term, week, remaining = self._day(day)
        return MarkFacts(category, threshold, year, term, week, remaining)


@dataclass(frozen=True, slots=True)
class AbsenceRules:
    """Thresholds of persistent and severe absence; per-LA configuration."""

    persistent_percent: float = 10.0
    severe_percent: float = 50.0
    min_possible_sessions: int = 20
    early_warning_min_term_sessions: int = 10


def at_or_above(absent: int, possible: int, percent: float, min_possible: int) -> bool:
    return possible > 0 and possible >= min_possible and absent * 100 >= percent * possible


def projected_percent(
    absent: int, possible: int, term_absent: int, term_possible: int, remaining: int
) -> float | None:
    if term_possible <= 0 or possible + remaining <= 0:
        return None
    rate = term_absent / term_possible
    return 100.0 * (absent + rate * remaining) / (possible + remaining)


@dataclass(frozen=True, slots=True)
class Flags:
    """What a position remembers between updates to raise each crossing once per term."""

    pa_reached: bool = False
    sa_reached: bool = False
    pa_event_term: str | None = None
    sa_event_term: str | None = None
    warn_event_term: str | None = None


@dataclass(frozen=True, slots=True)
class Raised:
    level: str  # "persistent" or "severe"
    basis: str  # "reached" or "projected"
    projected: float | None = None


def assess(
    flags: Flags,
    *,
    absent: int,
    possible: int,
    term: str,
    term_absent: int,
    term_possible: int,
    remaining: int,
    rules: AbsenceRules,
) -> tuple[Flags, list[Raised]]:
    """The position's new flags and the events to raise (the SQL of the PostgreSQL store computes
    exactly this, set-based; the tests hold the two to the same answers)."""
    pa = at_or_above(absent, possible, rules.persistent_percent, rules.min_possible_sessions)
    sa = at_or_above(absent, possible, rules.severe_percent, rules.min_possible_sessions)
    raised: list[Raised] = []
    pa_term, sa_term, warn_term = flags.pa_event_term, flags.sa_event_term, flags.warn_event_term
    if pa and not flags.pa_reached and flags.pa_event_term != term:
        raised.append(Raised("persistent", "reached"))
        pa_term = term
    if sa and not flags.sa_reached and flags.sa_event_term != term:
        raised.append(Raised("severe", "reached"))
        sa_term = term
    if (
        not pa
        and possible >= rules.min_possible_sessions
        and term_possible >= rules.early_warning_min_term_sessions
        and warn_term != term
        and pa_term != term
    ):
        projected = projected_percent(absent, possible, term_absent, term_possible, remaining)
        if projected is not None and projected >= rules.persistent_percent:
            raised.append(Raised("persistent", "projected", round(projected, 2)))
            warn_term = term
    return Flags(pa, sa, pa_term, sa_term, warn_term), raised
