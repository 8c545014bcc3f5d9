"""The off-rolling watch (DOMAIN.md §5.2-5.4, §10.3: "track illegal off-rolling").

Two signals, both for officers to look at, neither a finding of fact:

- a deletion return lacking the evidence its ground requires (what the return itself carries, and
  for grounds (h) and (i) whether the LA, that is this service, holds any enquiry about the child:
  those grounds need enquiries made *jointly* with the LA);
- a school whose Year 10-11 removals between the start of the academic year and the January census
  are unusual against the county's rate (removals per Year 10-11 pupil known on roll) — the pattern
  of pupils taken off roll before they count in the school's results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from inclusion_kit.calendar import AcademicYear

# Grounds that are not an off-rolling route: death, leaving compulsory age, permanent exclusion
# (a formal process with its own reviews). Per-LA configuration; these are the defaults.
DEFAULT_NOT_COUNTED = frozenset({"9(1)(k)", "9(1)(l)", "9(1)(o)"})
WATCHED_YEAR_GROUPS = frozenset({10, 11})


def national_curriculum_year(date_of_birth: date, on: date) -> int:
    """The NC year of a child in the academic year containing ``on`` (age on 31 August at the start
    of that year, minus 4: Reception is 0)."""
    start = AcademicYear.containing(on).start
    last_august = date(start.year, 8, 31)
    age = (
        last_august.year
        - date_of_birth.year
        - ((last_august.month, last_august.day) < (date_of_birth.month, date_of_birth.day))
    )
    return age - 4


def year_group_number(value: str | None) -> int | None:
    """'10' -> 10, 'R' -> 0; None for anything else (nursery, unknown)."""
    if value is None:
        return None
    text = value.strip().upper()
    if text == "R":
        return 0
    return int(text) if text.isdigit() else None


def january_census_day(year: AcademicYear) -> date:
    """The spring census: the third Thursday of January in the academic year (DOMAIN.md §8.1)."""
    first = date(year.end.year, 1, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(days=14)


@dataclass(frozen=True)
class DeletionEvidence:
    ground: str
    ground_met_on: date
    deleted_on: date | None
    received_on: date
    destination: dict[str, Any] | None
    parent_notice_received_on: date | None
    la_enquiries_on_record: bool


def evidence_gaps(d: DeletionEvidence) -> list[str]:
    """Why this deletion return falls short of what its ground requires (empty: nothing to flag)."""
    gaps: list[str] = []
    destination = d.destination or {}
    names_school = bool(
        destination.get("school_urn") or destination.get("school_name") or destination.get("school")
    )
    if d.deleted_on is not None and d.received_on > d.deleted_on:
        gaps.append(
            "the deletion return arrived after the name was deleted (it is due no later than the deletion)"
        )
    if d.ground == "9(1)(a)" and not names_school:
        gaps.append("ground (a) names the school the pupil is now registered at")
    if d.ground == "9(1)(f)":
        if d.parent_notice_received_on is None:
            gaps.append("ground (f) needs the parent's written notice of home education")
        elif d.parent_notice_received_on > d.ground_met_on:
            gaps.append("ground (f): the parent's written notice is dated after the ground was met")
    if d.ground == "9(1)(g)" and not (
        names_school or destination.get("new_address") or destination.get("la_code")
    ):
        gaps.append("ground (g) gives where the child now lives (a new address, LA or school)")
    if d.ground in ("9(1)(h)", "9(1)(i)") and not d.la_enquiries_on_record:
        gaps.append(
            f"ground ({d.ground[-2]}) needs reasonable enquiries made jointly with the LA; "
            "the LA holds no enquiry about this child"
        )
    return gaps


@dataclass(frozen=True)
class SchoolRemovals:
    school_urn: str
    school_name: str | None
    district: str | None
    removals: int  # Year 10-11 removals before the January census this academic year
    cohort: int | None  # Year 10-11 pupils known on the school's roll (None: not known)


@dataclass(frozen=True)
class SchoolFlag:
    school_urn: str
    school_name: str | None
    district: str | None
    removals: int
    cohort: int | None
    rate: float | None
    county_rate: float | None
    basis: str  # "rate" (per pupil on roll) or "count" (no roll known for the comparison)
    times_county: float


def unusual_schools(
    schools: list[SchoolRemovals], *, ratio: float, min_removals: int
) -> tuple[float | None, float | None, list[SchoolFlag]]:
    """Schools whose removals are at least ``ratio`` times the county's and at least
    ``min_removals``. Compared per pupil where the school's Year 10-11 roll is known, otherwise by
    count against the county's mean per school. Returns (county rate, county mean count, flags)."""
    with_cohort = [s for s in schools if s.cohort]
    total_cohort = sum(s.cohort or 0 for s in with_cohort)
    county_rate = sum(s.removals for s in with_cohort) / total_cohort if total_cohort else None
    mean_count = sum(s.removals for s in schools) / len(schools) if schools else None
    flags: list[SchoolFlag] = []
    for s in schools:
        if s.removals < min_removals:
            continue
        if s.cohort and county_rate:
            rate = s.removals / s.cohort
            times = rate / county_rate
            if times >= ratio:
                flags.append(
                    SchoolFlag(
                        s.school_urn,
                        s.school_name,
                        s.district,
                        s.removals,
                        s.cohort,
                        rate,
                        county_rate,
                        "rate",
                        times,
                    )
                )
        elif mean_count:
            times = s.removals / mean_count
            if times >= ratio:
                flags.append(
                    SchoolFlag(
                        s.school_urn,
                        s.school_name,
                        s.district,
                        s.removals,
                        s.cohort,
                        None,
                        county_rate,
                        "count",
                        times,
                    )
                )
    flags.sort(key=lambda f: (-f.times_county, f.school_urn))
    return county_rate, mean_count, flags
