"""School calendar: school days, school weeks, terms and academic years, per LA (ARCHITECTURE §7).

Reference data and date arithmetic only; deadlines themselves (sixth day, 15-day reviews, the
45-day cap, 10 school weeks) are business rules that live in the services and call this module.

Definitions used throughout:

* **School day**: a Monday-Friday inside a configured term, not in that term's half-term break,
  not an England bank holiday (from the maintained ``holidays`` package, England subdivision),
  not an INSET day and not an extra closure (e.g. a polling day). Weekends are never school days.
* **Term dates are configuration** (:class:`TermDates`, loaded from YAML per LA). Each school may
  differ, notably on INSET days; the LA file holds the LA's published pattern.
* **Academic year**: 1 August to 31 July, labelled ``"2025/26"`` (DfE statistics). Exclusion
  guidance counts from "the first school day after 31 July"; no school day falls between 1 August
  and the start of the autumn term, so counting school days gives the same result either way.
* **School week**: a Monday-based week containing at least one school day (DOMAIN §3.2).
* Asking about a date outside the configured academic years raises :class:`CalendarRangeError`;
  the calendar never guesses.
* Time: store UTC, decide dates in Europe/London (:func:`london_date`, :func:`london_today`).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any, Final, Self
from zoneinfo import ZoneInfo

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inclusion_kit.pupils import LACode

__all__ = [
    "LONDON",
    "AcademicYear",
    "AcademicYearTerms",
    "CalendarRangeError",
    "Closure",
    "DateRange",
    "HalfTermName",
    "SchoolCalendar",
    "TermConfig",
    "TermDates",
    "TermName",
    "TermPeriod",
    "academic_year_of",
    "load_calendar",
    "london_date",
    "london_today",
]

LONDON: Final = ZoneInfo("Europe/London")


# --- time ------------------------------------------------------------------------------------


def london_date(dt_utc: datetime) -> date:
    """The Europe/London calendar date of an aware instant (e.g. 23:30 UTC in BST is the next day).

    Naive datetimes are rejected: their zone would be a guess.
    """
    if dt_utc.tzinfo is None or dt_utc.utcoffset() is None:
        raise ValueError("london_date needs a timezone-aware datetime (store UTC)")
    return dt_utc.astimezone(LONDON).date()


def london_today(now: datetime | None = None) -> date:
    """Today's date in Europe/London; ``now`` (aware) may be injected for tests and replays."""
    return london_date(now if now is not None else datetime.now(UTC))


# --- academic years --------------------------------------------------------------------------

_LABEL_RE: Final = re.compile(r"^([0-9]{4})/([0-9]{2})$")


@dataclass(frozen=True, order=True, slots=True)
class AcademicYear:
    """An academic year, 1 August ``start_year`` to 31 July ``start_year + 1``."""

    start_year: int

    @classmethod
    def containing(cls, day: date) -> AcademicYear:
        return cls(day.year if day.month >= 8 else day.year - 1)

    @classmethod
    def from_label(cls, label: str) -> AcademicYear:
        """Parse ``"2025/26"``; the second part must be the following year."""
        match = _LABEL_RE.fullmatch(label.strip())
        if not match or (int(match[1]) + 1) % 100 != int(match[2]):
            raise ValueError(f"academic year label must look like '2025/26'; got {label!r}")
        return cls(int(match[1]))

    @property
    def label(self) -> str:
        return f"{self.start_year}/{(self.start_year + 1) % 100:02d}"

    @property
    def start(self) -> date:
        return date(self.start_year, 8, 1)

    @property
    def end(self) -> date:
        return date(self.start_year + 1, 7, 31)

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def next(self) -> AcademicYear:
        return AcademicYear(self.start_year + 1)

    def previous(self) -> AcademicYear:
        return AcademicYear(self.start_year - 1)

    def __str__(self) -> str:
        return self.label


def academic_year_of(day: date) -> AcademicYear:
    """The academic year (1 Aug-31 Jul) containing ``day``. Pure arithmetic: needs no configuration."""
    return AcademicYear.containing(day)


# --- configuration ---------------------------------------------------------------------------


class TermName(StrEnum):
    AUTUMN = "autumn"
    SPRING = "spring"
    SUMMER = "summer"


class HalfTermName(StrEnum):
    AUTUMN_1 = "autumn-1"
    AUTUMN_2 = "autumn-2"
    SPRING_1 = "spring-1"
    SPRING_2 = "spring-2"
    SUMMER_1 = "summer-1"
    SUMMER_2 = "summer-2"


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DateRange(_Config):
    """Inclusive range of dates."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"range ends ({self.end}) before it starts ({self.start})")
        return self

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


class TermConfig(DateRange):
    """A term, first to last day inclusive (INSET days at its edges included), with its half-term break."""

    half_term: DateRange

    @model_validator(mode="after")
    def _half_term_inside(self) -> Self:
        # Strictly inside, so that both half-terms have at least one day.
        if not (self.start < self.half_term.start and self.half_term.end < self.end):
            raise ValueError(
                f"half-term {self.half_term.start}..{self.half_term.end} must lie strictly inside "
                f"the term {self.start}..{self.end}"
            )
        return self


class Closure(_Config):
    """A one-off whole-school closure day, e.g. a polling day."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    day: date = Field(alias="date")
    reason: str = Field(min_length=1)


class AcademicYearTerms(_Config):
    autumn: TermConfig
    spring: TermConfig
    summer: TermConfig
    inset_days: tuple[date, ...] = ()
    closures: tuple[Closure, ...] = ()

    @model_validator(mode="after")
    def _terms_in_order(self) -> Self:
        if not (self.autumn.end < self.spring.start and self.spring.end < self.summer.start):
            raise ValueError("terms must be in the order autumn, spring, summer without overlapping")
        for label, days in (("INSET day", self.inset_days), ("closure", tuple(c.day for c in self.closures))):
            if len(set(days)) != len(days):
                raise ValueError(f"duplicate {label}")
            for day in days:
                # Outside term time a closure would change nothing: most likely a typo.
                if day.weekday() >= 5:
                    raise ValueError(f"{label} {day} is a weekend day")
                if not any(t.contains(day) and not t.half_term.contains(day) for t in self.terms()):
                    raise ValueError(f"{label} {day} is not in term time")
        return self

    def terms(self) -> tuple[TermConfig, TermConfig, TermConfig]:
        return (self.autumn, self.spring, self.summer)


class TermDates(_Config):
    """An LA's calendar configuration: for each academic year, its terms, INSET days and closures.

    ``years`` is keyed by label (``"2025/26"``); the years must be consecutive so that counting
    across a year boundary never crosses an unconfigured gap.
    """

    la_code: LACode
    name: str = ""
    years: dict[str, AcademicYearTerms] = Field(min_length=1)

    @field_validator("years")
    @classmethod
    def _years_valid(cls, years: dict[str, AcademicYearTerms]) -> dict[str, AcademicYearTerms]:
        parsed = sorted((AcademicYear.from_label(label), terms) for label, terms in years.items())
        for year, terms in parsed:
            for name, term in zip(TermName, terms.terms(), strict=True):
                if not (year.contains(term.start) and year.contains(term.end)):
                    raise ValueError(
                        f"{year} {name} term {term.start}..{term.end} is outside the academic year"
                    )
        for (before, _), (after, _) in pairwise(parsed):
            if after.start_year != before.start_year + 1:
                raise ValueError(f"academic years must be consecutive: {before} is followed by {after}")
        return {year.label: terms for year, terms in parsed}

    @classmethod
    def from_yaml(cls, text: str) -> TermDates:
        data: Any = yaml.safe_load(text)
        return cls.model_validate(data)


# --- the calendar ----------------------------------------------------------------------------


class CalendarRangeError(LookupError):
    """A date outside the configured academic years (or an answer that depends on one)."""


@dataclass(frozen=True, slots=True)
class TermPeriod:
    """A term or half-term of one academic year, first to last day inclusive."""

    academic_year: AcademicYear
    name: TermName | HalfTermName
    start: date
    end: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


class SchoolCalendar:
    """School-day arithmetic for one LA's :class:`TermDates`. Immutable once built."""

    def __init__(self, config: TermDates) -> None:
        self.config: Final = config
        self._years: dict[AcademicYear, AcademicYearTerms] = {
            AcademicYear.from_label(label): terms for label, terms in config.years.items()
        }
        ordered = sorted(self._years)
        self.first_date: Final = ordered[0].start
        self.last_date: Final = ordered[-1].end
        england: Any = holidays.country_holidays(
            "GB", subdiv="ENG", years=range(self.first_date.year, self.last_date.year + 1)
        )
        self._bank_holidays: dict[date, str] = {d: str(n) for d, n in england.items()}
        days: list[date] = []
        for year in ordered:
            for term in self._years[year].terms():
                day = term.start
                while day <= term.end:
                    if self._reason_not_school_day(day) is None:
                        days.append(day)
                    day += timedelta(days=1)
        self._days: tuple[date, ...] = tuple(days)
        self._weeks: tuple[date, ...] = tuple(sorted({_monday(d) for d in days}))

    # -- coverage --

    @property
    def academic_years(self) -> tuple[AcademicYear, ...]:
        return tuple(sorted(self._years))

    def covers(self, day: date) -> bool:
        return self.first_date <= day <= self.last_date

    def _check(self, day: date) -> None:
        if isinstance(day, datetime):
            # A datetime's date depends on its zone: convert with london_date() first.
            raise TypeError("pass a date, not a datetime (use london_date() to convert)")
        if not self.covers(day):
            years = self.academic_years
            raise CalendarRangeError(
                f"{day} is outside the configured academic years for LA {self.config.la_code} "
                f"({years[0]} to {years[-1]}); add that year's term dates to the calendar"
            )

    # -- days --

    def _reason_not_school_day(self, day: date) -> str | None:
        if day.weekday() >= 5:
            return "weekend"
        terms = self._years[AcademicYear.containing(day)]
        term = next((t for t in terms.terms() if t.contains(day)), None)
        if term is None:
            return "school holiday"
        if term.half_term.contains(day):
            return "half-term"
        if day in self._bank_holidays:
            return f"bank holiday: {self._bank_holidays[day]}"
        if day in terms.inset_days:
            return "INSET day"
        closure = next((c for c in terms.closures if c.day == day), None)
        if closure is not None:
            return f"closure: {closure.reason}"
        return None

    def non_school_day_reason(self, day: date) -> str | None:
        """Why ``day`` is not a school day (e.g. ``"bank holiday: Good Friday"``); None if it is one."""
        self._check(day)
        return self._reason_not_school_day(day)

    def is_school_day(self, day: date) -> bool:
        self._check(day)
        return self._reason_not_school_day(day) is None

    def bank_holidays(self) -> dict[date, str]:
        """England's bank holidays across the configured years (from the ``holidays`` package)."""
        return dict(self._bank_holidays)

    def add_school_days(self, day: date, n: int) -> date:
        """The ``n``-th school day after ``day``; ``day`` itself is never counted.

        "Within N school days of D" is therefore ``add_school_days(D, N)``: with D a Monday and no
        closures, ``add_school_days(D, 1)`` is the Tuesday. ``n == 0`` returns ``day`` unchanged.
        """
        self._check(day)
        if n < 0:
            raise ValueError(f"n must be >= 0; got {n}")
        if n == 0:
            return day
        index = bisect_right(self._days, day) + n - 1
        if index >= len(self._days):
            raise CalendarRangeError(
                f"{n} school days after {day} runs past the last configured academic year "
                f"({self.academic_years[-1]}) for LA {self.config.la_code}"
            )
        return self._days[index]

    def next_school_day(self, day: date) -> date:
        """The first school day strictly after ``day`` (same as ``add_school_days(day, 1)``)."""
        return self.add_school_days(day, 1)

    def school_day_on_or_after(self, day: date) -> date:
        """``day`` if it is a school day, otherwise the next one."""
        return day if self.is_school_day(day) else self.add_school_days(day, 1)

    def previous_school_day(self, day: date) -> date:
        """The last school day strictly before ``day``."""
        self._check(day)
        index = bisect_left(self._days, day) - 1
        if index < 0:
            raise CalendarRangeError(f"no configured school day before {day} for LA {self.config.la_code}")
        return self._days[index]

    def count_school_days(self, start: date, end: date) -> int:
        """Number of school days from ``start`` to ``end``, both inclusive (0 if ``end < start``)."""
        self._check(start)
        self._check(end)
        if end < start:
            return 0
        return bisect_right(self._days, end) - bisect_left(self._days, start)

    def school_days(self, start: date, end: date) -> Iterator[date]:
        """The school days from ``start`` to ``end``, both inclusive, in order."""
        self._check(start)
        self._check(end)
        return iter(self._days[bisect_left(self._days, start) : bisect_right(self._days, end)])

    # -- weeks --

    def school_week_of(self, day: date) -> date | None:
        """The Monday of ``day``'s week if that week holds at least one school day, else None.

        Raises if the answer depends on weekdays of that week outside the configured years.
        """
        self._check(day)
        monday = _monday(day)
        weekdays = [monday + timedelta(days=i) for i in range(5)]
        if any(self.covers(d) and self._reason_not_school_day(d) is None for d in weekdays):
            return monday
        if not all(self.covers(d) for d in weekdays):
            raise CalendarRangeError(f"the week of {day} runs outside the configured academic years")
        return None

    def rolling_school_weeks_start(self, day: date, n: int) -> date:
        """First date (a Monday) of the window made of the ``n`` school weeks ending with ``day``'s week.

        Weeks without a school day are skipped, so the window may span holidays, terms and
        academic years. If ``day``'s own week has no school day, the window ends with the latest
        school week before it. The window is from the returned Monday up to ``day``.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1; got {n}")
        own_week = self.school_week_of(day)
        last = bisect_right(self._weeks, own_week if own_week is not None else _monday(day)) - 1
        first = last - (n - 1)
        if first < 0:
            raise CalendarRangeError(
                f"{n} school weeks ending with the week of {day} reach back before the first "
                f"configured academic year ({self.academic_years[0]}) for LA {self.config.la_code}"
            )
        return self._weeks[first]

    # -- terms --

    def academic_year_of(self, day: date) -> AcademicYear:
        """The academic year containing ``day`` (1 Aug-31 Jul); needs no configuration."""
        return AcademicYear.containing(day)

    def _terms_of_year(self, year: AcademicYear) -> AcademicYearTerms:
        terms = self._years.get(year)
        if terms is None:
            raise CalendarRangeError(f"academic year {year} is not configured for LA {self.config.la_code}")
        return terms

    def terms(self, year: AcademicYear) -> tuple[TermPeriod, ...]:
        """The three terms of a configured year (half-term breaks included in their term)."""
        config = self._terms_of_year(year)
        return tuple(
            TermPeriod(year, name, t.start, t.end) for name, t in zip(TermName, config.terms(), strict=True)
        )

    def half_terms(self, year: AcademicYear) -> tuple[TermPeriod, ...]:
        """The six half-terms of a configured year; the half-term breaks belong to neither half."""
        config = self._terms_of_year(year)
        names = iter(HalfTermName)
        result: list[TermPeriod] = []
        for t in config.terms():
            result.append(TermPeriod(year, next(names), t.start, t.half_term.start - timedelta(days=1)))
            result.append(TermPeriod(year, next(names), t.half_term.end + timedelta(days=1), t.end))
        return tuple(result)

    def term_of(self, day: date) -> TermPeriod | None:
        """The term containing ``day`` (its half-term break included); None in the holidays."""
        self._check(day)
        return next((p for p in self.terms(AcademicYear.containing(day)) if p.contains(day)), None)

    def half_term_of(self, day: date) -> TermPeriod | None:
        """The half-term (autumn-1 ... summer-2) containing ``day``; None in holidays and breaks."""
        self._check(day)
        return next((p for p in self.half_terms(AcademicYear.containing(day)) if p.contains(day)), None)

    def first_school_day(self, year: AcademicYear) -> date:
        """The first school day after 31 July of a configured year (exclusion guidance's year start)."""
        self._terms_of_year(year)
        return self.school_day_on_or_after(year.start)


# --- loading ---------------------------------------------------------------------------------

_LA_CODE_RE: Final = re.compile(r"^[0-9]{3}$")


def load_calendar(path_or_la_code: str | Path) -> SchoolCalendar:
    """Load a calendar from a YAML file, or the packaged defaults of a 3-digit LA code (e.g. ``"886"``)."""
    if isinstance(path_or_la_code, str) and _LA_CODE_RE.fullmatch(path_or_la_code):
        return _packaged_calendar(path_or_la_code)
    path = Path(path_or_la_code)
    return SchoolCalendar(TermDates.from_yaml(path.read_text(encoding="utf-8")))


@cache
def _packaged_calendar(la_code: str) -> SchoolCalendar:
    resource = resources.files("inclusion_kit").joinpath("data", "calendars", f"{la_code}.yaml")
    if not resource.is_file():
        raise LookupError(f"no packaged calendar for LA {la_code}; pass the path of a YAML file instead")
    config = TermDates.from_yaml(resource.read_text(encoding="utf-8"))
    if config.la_code != la_code:
        raise ValueError(f"packaged calendar {la_code}.yaml declares LA code {config.la_code}")
    return SchoolCalendar(config)
