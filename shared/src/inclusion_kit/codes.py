"""Attendance register codes of the 2006 and 2024 regimes, as data (DOMAIN.md §1.2, §1.3, §9).

The table lives in ``data/attendance_codes.csv``; this module only loads and serves it. Each code
carries its register group and its DfE statistical category as *separate* attributes (DOMAIN §9.2:
``D`` sits in an attendance group of the register but is never a possible session).

The statistical category of every code is data. ``Q`` and ``X`` (and ``D``, ``Y1``-``Y7``) are NC
following DOMAIN §9/§11; ``Q`` in particular is not confirmed by a primary source (UNVERIFIED).
An LA that needs a different treatment loads its own copy with :meth:`CodeTable.from_csv`.

Every stored mark keeps its original code and regime. :func:`trend_mapping` exists only to line
up multi-year trend reports; it must never be used to rewrite history (``J`` -> ``J1``, for
example, moves a session from attendance to authorised absence).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

__all__ = [
    "REGIME_2024_START",
    "AttendanceCode",
    "CodeTable",
    "Lateness",
    "Regime",
    "RegisterGroup",
    "StatCategory",
    "UnknownAttendanceCode",
    "all_codes",
    "default_code_table",
    "lookup",
    "regime_for",
    "trend_mapping",
]

# SI 2024/208 in force: marks on or after this date use the 2024 code set.
REGIME_2024_START: Final = date(2024, 8, 19)


class Regime(StrEnum):
    """Which registration regulations a mark was recorded under."""

    R2006 = "2006"
    R2024 = "2024"


class StatCategory(StrEnum):
    """DfE absence-statistics treatment of a code."""

    PRESENT = "PRESENT"
    AEA = "AEA"  # approved educational activity: counts as attendance, not absence
    AUTH = "AUTH"
    UNAUTH = "UNAUTH"
    NC = "NC"  # not counted as a possible session


class RegisterGroup(StrEnum):
    """Grouping of the code in the register under its regime's regulations and guidance."""

    PRESENT = "present"
    # 2024 regime
    ATTENDING_OTHER_PLACE = "attending_other_place"
    ATTENDING_ANOTHER_SCHOOL = "attending_another_school"
    LEAVE_OF_ABSENCE = "leave_of_absence"
    OTHER_AUTHORISED = "other_authorised"
    UNABLE_TO_ATTEND = "unable_to_attend"
    ADMINISTRATIVE = "administrative"
    # 2006 regime
    APPROVED_EDUCATIONAL_ACTIVITY = "approved_educational_activity"
    AUTHORISED = "authorised"
    ATTENDANCE_NOT_REQUIRED = "attendance_not_required"
    # both
    UNAUTHORISED = "unauthorised"


class Lateness(StrEnum):
    BEFORE_CLOSE = "before_close"  # L: counted present
    AFTER_CLOSE = "after_close"  # U: unauthorised absence


class UnknownAttendanceCode(ValueError):
    """A code that does not exist in the requested regime."""


@dataclass(frozen=True, slots=True)
class AttendanceCode:
    code: str
    regime: Regime
    meaning: str
    register_group: RegisterGroup
    stat_category: StatCategory
    counts_toward_penalty_threshold: bool
    valid_for_deletion_ground_9_1_i: bool
    lateness: Lateness | None = None
    trend_code_2024: str | None = None
    notes: str = ""

    @property
    def is_late(self) -> bool:
        """True for L (late before the register closed) and U (late after it closed)."""
        return self.lateness is not None

    @property
    def possible_session(self) -> bool:
        """Whether the session counts in the DfE possible-sessions denominator."""
        return self.stat_category is not StatCategory.NC


def regime_for(day: date) -> Regime:
    """The regime under which a mark for ``day`` was recorded (2024 regs from 19 Aug 2024)."""
    return Regime.R2024 if day >= REGIME_2024_START else Regime.R2006


_COLUMNS: Final = (
    "code",
    "regime",
    "meaning",
    "register_group",
    "stat_category",
    "counts_toward_penalty_threshold",
    "valid_for_deletion_ground_9_1_i",
    "lateness",
    "trend_code_2024",
    "notes",
)


def _parse_bool(text: str, line: int, column: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError(f"attendance codes line {line}: {column} must be true or false, got {text!r}")


class CodeTable:
    """An immutable set of attendance codes of both regimes, keyed by (regime, code)."""

    def __init__(self, codes: Iterable[AttendanceCode]) -> None:
        table: dict[tuple[Regime, str], AttendanceCode] = {}
        for item in codes:
            key = (item.regime, item.code)
            if key in table:
                raise ValueError(f"duplicate attendance code {item.code!r} in regime {item.regime}")
            table[key] = item
        for item in table.values():
            target = item.trend_code_2024
            if target is not None and (Regime.R2024, target) not in table:
                raise ValueError(f"trend mapping of {item.code!r} points at unknown 2024 code {target!r}")
        self._table: Mapping[tuple[Regime, str], AttendanceCode] = table

    @classmethod
    def from_csv(cls, path: str | Path) -> CodeTable:
        """Load an LA's own copy of the table (same columns as the packaged CSV)."""
        return cls.from_csv_text(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def from_csv_text(cls, text: str) -> CodeTable:
        return cls(_parse_csv(text))

    def lookup(self, code: str, regime: Regime) -> AttendanceCode:
        """The code in ``regime``; raises :class:`UnknownAttendanceCode` if it does not exist there.

        Only surrounding whitespace is removed: codes are case-sensitive upper case.
        """
        found = self._table.get((Regime(regime), code.strip()))
        if found is None:
            raise UnknownAttendanceCode(f"unknown attendance code {code!r} in the {regime} regime")
        return found

    def all_codes(self, regime: Regime) -> tuple[AttendanceCode, ...]:
        """Every code of ``regime`` in file order."""
        return tuple(c for (r, _), c in self._table.items() if r == regime)

    def trend_mapping(self, code_2006: str) -> str:
        """The 2024 code a 2006 code is reported as in multi-year trends (DOMAIN §1.3).

        H -> C, J -> J1, Y -> Y7 (default; the context may justify Y1-Y6), F -> C, otherwise the
        same code. For trend reports only: stored marks keep their original code and regime.
        """
        item = self.lookup(code_2006, Regime.R2006)
        if item.trend_code_2024 is None:
            raise UnknownAttendanceCode(f"2006 code {code_2006!r} has no trend mapping")
        return item.trend_code_2024


def _parse_csv(text: str) -> list[AttendanceCode]:
    # Comment lines start with '#'; the '#' code is quoted ("#") so it is never mistaken for one.
    # Line numbers are kept so errors point into the file.
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if not line.startswith("#")]
    numbered = [(n, line) for n, line in numbered if line.strip()]
    if not numbered:
        raise ValueError("attendance codes file is empty")
    rows = list(csv.reader(io.StringIO("\n".join(line for _, line in numbered))))
    header = tuple(rows[0])
    if header != _COLUMNS:
        raise ValueError(f"attendance codes header must be {','.join(_COLUMNS)}; got {','.join(header)}")
    result: list[AttendanceCode] = []
    for (line, _), row in zip(numbered[1:], rows[1:], strict=True):
        if len(row) != len(_COLUMNS):
            raise ValueError(f"attendance codes line {line}: expected {len(_COLUMNS)} fields, got {len(row)}")
        values = dict(zip(_COLUMNS, row, strict=True))
        try:
            result.append(
                AttendanceCode(
                    code=values["code"],
                    regime=Regime(values["regime"]),
                    meaning=values["meaning"],
                    register_group=RegisterGroup(values["register_group"]),
                    stat_category=StatCategory(values["stat_category"]),
                    counts_toward_penalty_threshold=_parse_bool(
                        values["counts_toward_penalty_threshold"], line, "counts_toward_penalty_threshold"
                    ),
                    valid_for_deletion_ground_9_1_i=_parse_bool(
                        values["valid_for_deletion_ground_9_1_i"], line, "valid_for_deletion_ground_9_1_i"
                    ),
                    lateness=Lateness(values["lateness"]) if values["lateness"] else None,
                    trend_code_2024=values["trend_code_2024"] or None,
                    notes=values["notes"],
                )
            )
        except ValueError as exc:
            if str(exc).startswith("attendance codes line"):
                raise
            raise ValueError(f"attendance codes line {line}: {exc}") from exc
    return result


@cache
def default_code_table() -> CodeTable:
    """The packaged national table (``inclusion_kit/data/attendance_codes.csv``)."""
    text = resources.files("inclusion_kit").joinpath("data", "attendance_codes.csv").read_text("utf-8")
    return CodeTable(_parse_csv(text))


def lookup(code: str, regime: Regime) -> AttendanceCode:
    """Look a code up in the packaged table; raises :class:`UnknownAttendanceCode`."""
    return default_code_table().lookup(code, regime)


def all_codes(regime: Regime) -> tuple[AttendanceCode, ...]:
    """Every code of ``regime`` in the packaged table."""
    return default_code_table().all_codes(regime)


def trend_mapping(code_2006: str) -> str:
    """2006 -> 2024 code for trend reports only (see :meth:`CodeTable.trend_mapping`)."""
    return default_code_table().trend_mapping(code_2006)
