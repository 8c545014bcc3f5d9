"""Response bodies of reporting's API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class PeriodOut(BaseModel):
    key: str = Field(description="'2025/26', '2025/26:autumn' or '2025/26:autumn-1'.")
    kind: Literal["academic_year", "term", "half_term"]
    start: str
    end: str


class Report(BaseModel):
    """One report's rows. Counts of children from 1 to ``suppression_threshold - 1`` (and the rates
    built on them) are null in a suppressed report and named in each row's ``suppressed``."""

    report: str
    period: PeriodOut
    by: str
    generation: int | None = Field(description="The read models' generation answered from (null: none yet).")
    districts: list[str] | None = Field(description="The caller's district scope (null: every district).")
    suppression_threshold: int | None
    rows: list[dict[str, Any]]


class TrendPoint(BaseModel):
    period: str
    value: float | None


class Outturn(BaseModel):
    label: str
    value: float


class IndicatorOut(BaseModel):
    id: str
    title: str
    unit: Literal["percent", "count"]
    polarity: Literal["higher_is_better", "lower_is_better"]
    period: str
    value: float | None
    numerator: int
    denominator: int | None
    floor: float | None
    target: float | None
    target_year: str | None = Field(description="The year whose target applies (the latest configured).")
    benchmark: float | None
    outturn: Outturn | None
    rag: Literal["red", "amber", "green"] | None = Field(
        description="Against floor and target; null without data, or for an annual count on a shorter period."
    )
    direction: Literal["improving", "stable", "worsening", "not_enough_data"]
    trend: list[TrendPoint] = Field(description="The previous periods of the same kind, oldest first.")


class Board(BaseModel):
    period: PeriodOut
    generation: int | None
    districts: list[str] | None
    indicators: list[IndicatorOut]


class GenerationOut(BaseModel):
    generation: int
    status: str
    layout: int
    current_layout: bool
    source: str
    created_at: str
    activated_at: str | None
    retired_at: str | None
