"""The FastAPI app of cme-tracker."""

from __future__ import annotations

from fastapi import FastAPI

from cme_tracker import __version__
from cme_tracker.bootstrap import bootstrap, context
from cme_tracker.config import Settings
from cme_tracker.entrypoints.api.dependencies import Runtime
from cme_tracker.entrypoints.api.routes import cases, ehe, offrolling
from inclusion_kit.clock import Clock
from inclusion_kit.service import create_service_app


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    ctx = context(settings, clock)
    kernel = bootstrap(settings, ctx=ctx)
    app = create_service_app(
        kernel,
        title="CME tracker",
        description=(
            "Children missing education: cases, enquiries, reviews, the EHE "
            "register and the off-rolling watch."
        ),
        version=__version__,
        routers=[cases.router, ehe.router, offrolling.router],
    )
    app.state.runtime = Runtime(kernel=kernel, context=ctx)
    return app
