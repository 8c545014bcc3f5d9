"""The FastAPI app of cme-tracker."""

from __future__ import annotations

from fastapi import FastAPI

from cme_tracker import __version__
from cme_tracker.bootstrap import bootstrap
from cme_tracker.config import Settings
from inclusion_kit.service import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    kernel = bootstrap(settings or Settings())
    return create_service_app(
        kernel,
        title="CME tracker",
        description=(
            "Children missing education: cases, enquiries, reviews, the EHE "
            "register and the off-rolling watch."
        ),
        version=__version__,
    )
