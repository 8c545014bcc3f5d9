"""The FastAPI app of exclusions."""

from __future__ import annotations

from fastapi import FastAPI

from exclusions import __version__
from exclusions.bootstrap import bootstrap, context
from exclusions.config import Settings
from exclusions.entrypoints.api.dependencies import Runtime
from exclusions.entrypoints.api.routes import exclusions, part_time, pupils
from inclusion_kit.clock import Clock
from inclusion_kit.service import create_service_app


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    kernel = bootstrap(settings)
    app = create_service_app(
        kernel,
        title="Exclusions",
        description=(
            "Suspensions, permanent exclusions, sixth-day provision and part-time timetables: schools "
            "notify; officers record provision and reviews and work from deadlines."
        ),
        version=__version__,
        routers=[exclusions.router, part_time.router, pupils.router],
    )
    app.state.runtime = Runtime(kernel=kernel, context=context(settings, clock))
    return app
