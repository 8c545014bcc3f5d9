"""The FastAPI app of enforcement."""

from __future__ import annotations

from fastapi import FastAPI

from enforcement import __version__
from enforcement.bootstrap import bootstrap
from enforcement.config import Settings
from inclusion_kit.service import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    kernel = bootstrap(settings or Settings())
    return create_service_app(
        kernel,
        title="Enforcement",
        description="Attendance positions, persistent absence, penalty notices and prosecutions.",
        version=__version__,
    )
