"""Exclusion reason codes: a code set versioned by academic year (DOMAIN.md §4, §9.8, §11).

The codes are data (``exclusions/data/reason_codes.csv``, or an LA's own file), never constants in
handlers. Each row gives the first academic year a code may be used and, for withdrawn codes, the
last. The confirmed September 2020 set of 16 codes is the default; the extended list seen only in a
third-party copy of a May 2026 specification is marked unverified and is used only when the LA
turns it on (it then applies from its effective year, 2026/27).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from inclusion_kit.calendar import AcademicYear

MAX_REASONS = 3  # DfE allows up to three reasons per exclusion


@dataclass(frozen=True, slots=True)
class ReasonCode:
    code: str
    label: str
    from_year: AcademicYear
    to_year: AcademicYear | None
    verified: bool

    def valid_in(self, year: AcademicYear) -> bool:
        return self.from_year <= year and (self.to_year is None or year <= self.to_year)


class ReasonCodeError(ValueError):
    """The code set file is malformed."""


class ReasonCodeSet:
    def __init__(self, codes: Iterable[ReasonCode]) -> None:
        self._by_code: dict[str, list[ReasonCode]] = {}
        for code in codes:
            self._by_code.setdefault(code.code, []).append(code)
        if not self._by_code:
            raise ReasonCodeError("the reason code set is empty")

    @classmethod
    def from_csv(cls, text: str, *, include_unverified: bool = False) -> ReasonCodeSet:
        """Parse ``code,label,from_year,to_year,verified[,source]`` rows (years like ``2020/21``)."""
        codes: list[ReasonCode] = []
        for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            try:
                code = ReasonCode(
                    code=row["code"].strip().upper(),
                    label=row["label"].strip(),
                    from_year=AcademicYear.from_label(row["from_year"]),
                    to_year=AcademicYear.from_label(row["to_year"])
                    if (row.get("to_year") or "").strip()
                    else None,
                    verified=(row.get("verified") or "yes").strip().lower() in ("yes", "true", "1"),
                )
            except (KeyError, ValueError, AttributeError) as exc:
                raise ReasonCodeError(f"reason codes, line {line}: {exc}") from exc
            if not code.code.isalpha() or len(code.code) != 2:
                raise ReasonCodeError(f"reason codes, line {line}: a code is two letters")
            if code.to_year is not None and code.to_year < code.from_year:
                raise ReasonCodeError(f"reason codes, line {line}: to_year is before from_year")
            if code.verified or include_unverified:
                codes.append(code)
        return cls(codes)

    def lookup(self, code: str, year: AcademicYear) -> ReasonCode | None:
        return next((c for c in self._by_code.get(code.upper(), ()) if c.valid_in(year)), None)

    def for_year(self, year: AcademicYear) -> list[ReasonCode]:
        found = (self.lookup(code, year) for code in self._by_code)
        return sorted((c for c in found if c is not None), key=lambda c: c.code)

    def invalid(self, codes: Iterable[str], year: AcademicYear) -> list[str]:
        """The codes in ``codes`` that are not valid in ``year`` (unknown, withdrawn or not yet in force)."""
        return [c for c in codes if self.lookup(c, year) is None]
