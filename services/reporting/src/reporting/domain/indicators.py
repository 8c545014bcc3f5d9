"""Indicator definitions: the county's table of floors and targets (DOMAIN.md §10.4) as data.

The packaged default is ``data/indicators_886.yaml``; an LA points ``REPORTING_INDICATORS_PATH``
at its own file. The district-to-area grouping is configuration of the same kind
(``data/areas_886.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inclusion_kit.calendar import AcademicYear
from reporting.domain.errors import InvalidIndicatorTable
from reporting.domain.model import Polarity


class Measure(StrEnum):
    ATTENDANCE = "attendance"
    PERSISTENT_ABSENCE = "persistent_absence"
    SEVERE_ABSENCE = "severe_absence"
    PERMANENT_EXCLUSIONS = "permanent_exclusions"
    SUSPENSIONS = "suspensions"
    CME_FOUND_WITHIN_TWO_WEEKS = "cme_found_within_two_weeks"
    CME_PLACED_WITHIN_TARGET = "cme_placed_within_target"


class Outturn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    value: float


class Indicator(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    measure: Measure
    phase: str | None = None
    unit: str = Field(pattern=r"^(percent|count)$")
    polarity: Polarity
    floor: float | None = None
    outturn: Outturn | None = None
    benchmark: float | None = None
    targets: dict[str, float] = Field(default_factory=dict)
    stable_within: float = Field(default=0.0, ge=0)
    # Counts judged against an annual target only make sense for a whole academic year.
    annual: bool = False

    @field_validator("targets")
    @classmethod
    def _years(cls, targets: dict[str, float]) -> dict[str, float]:
        for label in targets:
            AcademicYear.from_label(label)
        return targets

    def target_for(self, year: AcademicYear) -> tuple[float | None, str | None]:
        """The target of ``year``, else the latest earlier year's; (value, the year it is for)."""
        earlier = sorted(
            (AcademicYear.from_label(label), value)
            for label, value in self.targets.items()
            if AcademicYear.from_label(label) <= year
        )
        if not earlier:
            return None, None
        chosen, value = earlier[-1]
        return value, chosen.label


class IndicatorTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    la_code: str = Field(pattern=r"^[0-9]{3}$")
    trend_periods: int = Field(default=3, ge=1, le=10)
    indicators: list[Indicator] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        ids = [i.id for i in self.indicators]
        if len(set(ids)) != len(ids):
            raise ValueError("indicator ids must be unique")
        return self

    def get(self, indicator_id: str) -> Indicator | None:
        return next((i for i in self.indicators if i.id == indicator_id), None)


def _load_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidIndicatorTable(f"not valid YAML: {exc}") from None


def load_indicators(path: str | Path | None, la_code: str) -> IndicatorTable:
    """The LA's indicator table: from ``path``, else the packaged defaults for ``la_code``."""
    text = _read(path, f"indicators_{la_code}.yaml")
    try:
        table = IndicatorTable.model_validate(_load_yaml(text))
    except (ValidationError, ValueError) as exc:
        raise InvalidIndicatorTable(f"indicator table is invalid: {exc}") from None
    if table.la_code != la_code:
        raise InvalidIndicatorTable(f"indicator table is for LA {table.la_code}, not {la_code}")
    return table


@dataclass(frozen=True)
class Areas:
    """District -> area (case-insensitive)."""

    by_district: dict[str, str]

    def area_of(self, district: str | None) -> str | None:
        if district is None:
            return None
        return self.by_district.get(district.casefold())

    def districts_of(self, area: str) -> list[str]:
        wanted = area.casefold()
        return sorted(d for d, a in self.by_district.items() if a.casefold() == wanted)


def load_areas(path: str | Path | None, la_code: str) -> Areas:
    data = _load_yaml(_read(path, f"areas_{la_code}.yaml"))
    if not isinstance(data, dict) or not isinstance(data.get("areas"), dict):
        raise InvalidIndicatorTable("areas file must map 'areas' to {area: [district, ...]}")
    mapping: dict[str, str] = {}
    for area, districts in data["areas"].items():
        if not isinstance(districts, list):
            raise InvalidIndicatorTable(f"area {area!r} must list its districts")
        for district in districts:
            mapping[str(district).casefold()] = str(area)
    return Areas(mapping)


def _read(path: str | Path | None, packaged: str) -> str:
    if path is not None:
        return Path(path).read_text(encoding="utf-8")
    resource = resources.files("reporting").joinpath("data", packaged)
    if not resource.is_file():
        raise InvalidIndicatorTable(f"no packaged {packaged}; configure a path instead")
    return resource.read_text(encoding="utf-8")
