"""The FastAPI app of reporting."""

from __future__ import annotations

from fastapi import FastAPI

from inclusion_kit.calendar import load_calendar
from inclusion_kit.clock import Clock, SystemClock
from inclusion_kit.service import create_service_app
from reporting import __version__
from reporting.bootstrap import bootstrap
from reporting.config import Settings
from reporting.domain.indicators import load_areas, load_indicators
from reporting.entrypoints.api.dependencies import Runtime
from reporting.entrypoints.api.routes import reports


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    kernel = bootstrap(settings)
    app = create_service_app(
        kernel,
        title="Reporting",
        description=(
            "Read models built from events: attendance, exclusions, children missing education and "
            "enforcement by phase, area, district, school and pupil group; indicators against floors "
            "and targets; CSV and XLSX exports."
        ),
        version=__version__,
        routers=[reports.router],
    )
    app.state.runtime = Runtime(
        kernel=kernel,
        settings=settings,
        calendar=load_calendar(settings.calendar_path or settings.la_code),
        indicators=load_indicators(settings.indicators_path, settings.la_code),
        areas=load_areas(settings.areas_path, settings.la_code),
        clock=clock or SystemClock(),
    )
    return app
