"""The FastAPI app of referral-api."""

from __future__ import annotations

from fastapi import FastAPI

from inclusion_kit.service import create_service_app
from referral_api import __version__
from referral_api.bootstrap import bootstrap
from referral_api.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    kernel = bootstrap(settings or Settings())
    return create_service_app(
        kernel,
        title="Referral API (Digital Front Door)",
        description=(
            "Schools, MIS integrations and agencies tell the local authority about "
            "a child: referrals, roll changes and attendance."
        ),
        version=__version__,
    )
