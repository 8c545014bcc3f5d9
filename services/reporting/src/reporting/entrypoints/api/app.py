"""The FastAPI app of reporting."""

from __future__ import annotations

from fastapi import FastAPI

from inclusion_kit.service import create_service_app
from reporting import __version__
from reporting.bootstrap import bootstrap
from reporting.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    kernel = bootstrap(settings or Settings())
    return create_service_app(
        kernel,
        title="Reporting",
        description="Read models built from events: indicators against targets, breakdowns and exports.",
        version=__version__,
    )
