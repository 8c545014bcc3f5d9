"""The FastAPI app of exclusions."""

from __future__ import annotations

from fastapi import FastAPI

from exclusions import __version__
from exclusions.bootstrap import bootstrap
from exclusions.config import Settings
from inclusion_kit.service import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    kernel = bootstrap(settings or Settings())
    return create_service_app(
        kernel,
        title="Exclusions",
        description="Suspensions, permanent exclusions, sixth-day provision and part-time timetables.",
        version=__version__,
    )
