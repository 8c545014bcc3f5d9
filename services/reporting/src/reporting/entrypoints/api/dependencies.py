"""FastAPI dependencies of reporting: the runtime (kernel, calendar, indicator table, areas)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from inclusion_kit.calendar import SchoolCalendar
from inclusion_kit.clock import Clock
from inclusion_kit.service import ServiceKernel
from reporting.config import Settings
from reporting.domain.indicators import Areas, IndicatorTable
from reporting.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Runtime:
    kernel: ServiceKernel[UnitOfWork]
    settings: Settings
    calendar: SchoolCalendar
    indicators: IndicatorTable
    areas: Areas
    clock: Clock


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value
