"""The portal's ASGI app: pages, static assets, the session cookie and security headers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.api import ApiClient, ApiError, ServiceUnavailable
from portal.config import PortalSettings
from portal.oidc import OidcClient, SignInError
from portal.session import EncryptedSessionMiddleware
from portal.web import auth, casework, manager, officer, school
from portal.web.deps import PageError, error_page

STATIC = Path(__file__).resolve().parent.parent / "static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'{form_action}; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


class SecurityHeaders:
    """``form_action`` names one more origin forms may lead to: the identity provider's
    end-session endpoint, where the sign-out form's redirect goes (browsers apply ``form-action``
    to a form's redirects too)."""

    def __init__(self, app: ASGIApp, form_action: Callable[[], str | None] = lambda: None) -> None:
        self.app = app
        self.form_action = form_action

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                extra = self.form_action()
                csp = CSP.format(form_action=f" {extra}" if extra else "")
                headers += [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper if scope["type"] == "http" else send)


def create_app(
    settings: PortalSettings | None = None,
    *,
    clients: Mapping[str, httpx.AsyncClient] | None = None,
    oidc_http: httpx.AsyncClient | None = None,
) -> FastAPI:
    """``clients`` (tests, ``inclusion up``) replaces the HTTP client of each service;
    ``oidc_http`` the one that talks to the identity provider."""
    settings = settings or PortalSettings()
    api = ApiClient(settings, clients)
    oidc = (
        OidcClient(settings.oidc, settings.public_url.rstrip("/") + "/auth/callback", http=oidc_http)
        if settings.oidc is not None
        else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if oidc is not None:
            # Read the provider's discovery document now, so the first page's CSP already names
            # its end-session origin; a provider that is down is retried on the first sign-in.
            with contextlib.suppress(SignInError):
                await oidc.metadata()
        try:
            yield
        finally:
            await api.aclose()
            if oidc is not None:
                await oidc.aclose()

    app = FastAPI(
        title=settings.service_title, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.api = api
    app.state.oidc = oidc
    app.mount("/assets", StaticFiles(directory=STATIC), name="assets")
    for router in (auth.router, school.router, officer.router, casework.router, manager.router):
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "service": "portal"})

    @app.exception_handler(PageError)
    async def on_page_error(request: Request, exc: PageError) -> Response:
        if exc.status == 401:
            request.session.pop("user", None)
        return error_page(request, exc.status, exc.detail)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> Response:
        if exc.status == 401:
            request.session.pop("user", None)  # the token expired or was revoked: sign in again
        return error_page(request, exc.status if exc.status in (401, 403, 404) else 409, exc.detail)

    @app.exception_handler(ServiceUnavailable)
    async def on_unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        return error_page(request, 502)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        return error_page(request, exc.status_code if exc.status_code in (403, 404) else 404)

    app.add_middleware(
        EncryptedSessionMiddleware,
        secret=settings.session_secret.get_secret_value(),
        max_age=settings.session_max_age_seconds,
        secure=settings.cookie_secure,
    )
    app.add_middleware(
        SecurityHeaders, form_action=oidc.end_session_origin if oidc is not None else lambda: None
    )
    return app
