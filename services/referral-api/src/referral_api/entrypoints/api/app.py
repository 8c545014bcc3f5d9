"""The FastAPI app of referral-api."""

from __future__ import annotations

from fastapi import FastAPI

from inclusion_kit.calendar import load_calendar
from inclusion_kit.clock import Clock, SystemClock
from inclusion_kit.service import create_service_app
from referral_api import __version__
from referral_api.bootstrap import bootstrap
from referral_api.config import Settings
from referral_api.entrypoints.api.dependencies import Runtime
from referral_api.entrypoints.api.routes import attendance, referrals, roll, roll_changes, schools
from referral_api.service_layer.handlers import Context


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    kernel = bootstrap(settings)
    app = create_service_app(
        kernel,
        title="Referral API (Digital Front Door)",
        description=(
            "Schools, MIS integrations and agencies tell the local authority about a child: "
            "referrals, roll changes and attendance."
        ),
        version=__version__,
        routers=[referrals.router, roll_changes.router, roll.router, attendance.router, schools.router],
        bulk_prefixes=["/attendance/", "/roll/schools/", "/schools/import"],
    )
    calendar = load_calendar(settings.calendar_path or settings.la_code)
    app.state.runtime = Runtime(
        kernel=kernel,
        context=Context(
            clock=clock or SystemClock(),
            calendar=calendar,
            response_school_days=settings.response_school_days,
        ),
    )
    return app
