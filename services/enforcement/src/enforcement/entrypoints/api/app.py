"""The FastAPI app of enforcement."""

from __future__ import annotations

from fastapi import FastAPI

from enforcement import __version__
from enforcement.bootstrap import bootstrap
from enforcement.config import Settings
from enforcement.entrypoints.api.dependencies import Runtime
from enforcement.entrypoints.api.routes import notices, positions, prosecutions, requests
from inclusion_kit.clock import Clock
from inclusion_kit.service import create_service_app


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    kernel = bootstrap(settings, clock=clock)
    app = create_service_app(
        kernel,
        title="Enforcement",
        description=(
            "The county-wide enforcement team: attendance positions, persistent absence, penalty-notice "
            "requests (schools), decisions, notices, payments and prosecutions (officers)."
        ),
        version=__version__,
        routers=[requests.router, notices.router, prosecutions.router, positions.router],
    )
    app.state.runtime = Runtime(kernel=kernel, context=kernel.ctx)
    return app
