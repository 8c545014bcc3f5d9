"""Sign-in (OpenID Connect with the LA's identity provider, or the local sign-in of embedded mode
and tests) and sign-out."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from inclusion_kit.auth import Role, mint_token
from portal.oidc import OidcClient, Pending, SignInError
from portal.web.deps import (
    OFFICER_ROLES,
    REPORT_ROLES,
    PageError,
    User,
    checked_form,
    current_user,
    render,
    safe_next,
    settings_of,
)

router = APIRouter()

ROLE_CHOICES = (
    (Role.SCHOOL.value, "School staff"),
    (Role.OFFICER.value, "Inclusion and attendance officer"),
    (Role.EARLY_HELP.value, "Early help"),
    (Role.MANAGER.value, "Manager"),
    (Role.ADMIN.value, "Administrator"),
)
_URN = re.compile(r"^[0-9]{6}$")
# Characters of ID and access token together up to which the ID token is kept in the session as
# the logout hint: the encrypted cookie must stay under the browsers' 4 KB.
ID_TOKEN_HINT_BUDGET = 2400


def _home_for(user: User) -> str:
    if user.is_school:
        return "/school"
    if user.has(OFFICER_ROLES):
        return "/officer/triage"
    if user.has(REPORT_ROLES):
        return "/manager/indicators"
    return "/referrals"


def _oidc(request: Request) -> OidcClient | None:
    client: OidcClient | None = request.app.state.oidc
    return client


@router.get("/")
async def home(request: Request) -> Response:
    user = User.from_session(request.session.get("user"))
    if user is None:
        return RedirectResponse("/sign-in", status_code=303)
    return RedirectResponse(_home_for(user), status_code=303)


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    settings = settings_of(request)
    return render(
        request,
        "sign_in.html",
        {
            "next": safe_next(next),
            "roles": ROLE_CHOICES,
            "oidc": settings.oidc,
            "local": settings.local_sign_in_allowed,
            "values": {},
            "errors": [],
        },
    )


@router.post("/sign-in/local")
async def sign_in_local(request: Request) -> Response:
    settings = settings_of(request)
    if not settings.local_sign_in_allowed:
        raise PageError(404)
    form = await checked_form(request)
    role = str(form.get("role") or "")
    urn = str(form.get("urn") or "").strip()
    district = str(form.get("district") or "").strip()
    name = str(form.get("name") or "").strip()
    next_url = safe_next(str(form.get("next") or "/"))
    errors: list[dict[str, str]] = []
    if role not in {r.value for r in Role}:
        errors.append({"id": "role", "message": "Select who you are signing in as"})
    if role == Role.SCHOOL.value and not _URN.fullmatch(urn):
        errors.append({"id": "urn", "message": "Enter your school's URN, 6 digits, like 118000"})
    if len(name) > 100 or len(district) > 100:
        errors.append({"id": "name", "message": "Name and district must be 100 characters or fewer"})
    if errors:
        return render(
            request,
            "sign_in.html",
            {
                "next": next_url,
                "roles": ROLE_CHOICES,
                "oidc": settings.oidc,
                "local": True,
                "values": dict(form),
                "errors": errors,
            },
            status=422,
        )
    ttl = timedelta(seconds=settings.session_max_age_seconds)
    token = mint_token(
        settings.auth,
        subject=f"portal-local-{role}-{urn or district or 'la'}",
        roles=[role],
        urns=[urn] if role == Role.SCHOOL.value else [],
        districts=[district] if district and role != Role.SCHOOL.value else [],
        name=name or None,
        ttl=ttl,
    )
    user = User(
        subject=f"portal-local-{role}",
        roles=frozenset({Role(role)}),
        urns=(urn,) if role == Role.SCHOOL.value else (),
        districts=(district,) if district and role != Role.SCHOOL.value else (),
        name=name or None,
        token=token,
        expires_at=int(time.time() + ttl.total_seconds()),
    )
    request.session.clear()  # a new session on sign-in (no fixation)
    request.session["user"] = user.to_session()
    return RedirectResponse(next_url if next_url != "/" else _home_for(user), status_code=303)


@router.get("/sign-in/oidc")
async def sign_in_oidc(request: Request, next: str | None = None) -> Response:
    client = _oidc(request)
    if client is None:
        raise PageError(404)
    try:
        url, pending = await client.start()
    except SignInError as exc:
        return render(request, "sign_in_failed.html", {"message": exc.message}, status=502)
    request.session["oidc"] = pending.to_session()
    request.session["next"] = safe_next(next)
    return RedirectResponse(url, status_code=303)


@router.get("/auth/callback")
async def oidc_callback(
    request: Request, code: str | None = None, state: str | None = None, error: str | None = None
) -> Response:
    client = _oidc(request)
    if client is None:
        raise PageError(404)
    pending = Pending.from_session(request.session.pop("oidc", None))
    next_url = safe_next(request.session.pop("next", None))
    try:
        signed = await client.finish(pending, state=state, code=code, error=error)
    except SignInError as exc:
        return render(request, "sign_in_failed.html", {"message": exc.message}, status=400)
    p = signed.principal
    user = User(
        subject=p.subject,
        roles=p.roles,
        urns=tuple(sorted(p.urns)),
        districts=tuple(sorted(p.districts)),
        name=signed.name,
        token=signed.access_token,
        expires_at=signed.expires_at,
    )
    request.session.clear()
    request.session["user"] = user.to_session()
    request.session["signed_in_with"] = "oidc"
    # For RP-initiated logout: the ID token as the hint, when the cookie has room for it (the
    # provider then knows whose session to end; without it, client_id is sent alone).
    if len(signed.id_token) + len(signed.access_token) <= ID_TOKEN_HINT_BUDGET:
        request.session["id_token"] = signed.id_token
    return RedirectResponse(next_url if next_url != "/" else _home_for(user), status_code=303)


@router.post("/sign-out")
async def sign_out(request: Request, _user: Annotated[User, Depends(current_user)]) -> Response:
    """End the portal's session (the cookie is cleared whatever happens next) and, after an OIDC
    sign-in, the provider's too when its discovery document has an ``end_session_endpoint``."""
    await checked_form(request)
    via_oidc = request.session.get("signed_in_with") == "oidc"
    hint = request.session.get("id_token")
    request.session.clear()
    client = _oidc(request)
    if via_oidc and client is not None:
        done = settings_of(request).public_url.rstrip("/") + "/signed-out"
        url = await client.logout_url(done, hint if isinstance(hint, str) else None)
        if url is not None:
            return RedirectResponse(url, status_code=303)
    return RedirectResponse("/signed-out", status_code=303)


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    return render(request, "signed_out.html")
