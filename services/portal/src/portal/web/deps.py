"""What every page needs: the signed-in user, role guards, CSRF, rendering and error pages."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from inclusion_kit.auth import Role
from portal.api import ApiClient
from portal.config import PortalSettings
from portal.session import check_csrf, csrf_token

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


def _cursor(next_url: str | None) -> str:
    """The cursor of an API page's ``next`` link (the portal links to its own page with it)."""
    if not next_url:
        return ""
    return parse_qs(urlsplit(next_url).query).get("cursor", [""])[0]


TEMPLATES.env.filters["cursor"] = _cursor

LA_ROLES = frozenset({Role.OFFICER, Role.EARLY_HELP, Role.MANAGER, Role.ADMIN})
OFFICER_ROLES = frozenset({Role.OFFICER, Role.ADMIN})
REPORT_ROLES = frozenset({Role.MANAGER, Role.OFFICER, Role.ADMIN})
SUBMIT_ROLES = frozenset({Role.SCHOOL, Role.OFFICER, Role.ADMIN})
REFERRER_ROLES = frozenset({Role.SCHOOL, Role.OFFICER, Role.EARLY_HELP, Role.ADMIN})


@dataclass(frozen=True)
class User:
    subject: str
    roles: frozenset[Role]
    urns: tuple[str, ...]
    districts: tuple[str, ...]
    name: str | None
    token: str
    expires_at: int

    def has(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)

    @property
    def is_school(self) -> bool:
        return Role.SCHOOL in self.roles and not (self.roles & LA_ROLES)

    @property
    def display(self) -> str:
        if self.name:
            return self.name
        if self.is_school:
            return "School " + ", ".join(self.urns)
        return ", ".join(sorted(r.value.replace("_", " ") for r in self.roles)).capitalize()

    def to_session(self) -> dict[str, Any]:
        return {
            "sub": self.subject,
            "roles": sorted(r.value for r in self.roles),
            "urns": list(self.urns),
            "districts": list(self.districts),
            "name": self.name,
            "token": self.token,
            "exp": self.expires_at,
        }

    @classmethod
    def from_session(cls, data: Any) -> User | None:
        if not isinstance(data, dict):
            return None
        try:
            user = cls(
                subject=str(data["sub"]),
                roles=frozenset(Role(r) for r in data["roles"]),
                urns=tuple(str(u) for u in data.get("urns", [])),
                districts=tuple(str(d) for d in data.get("districts", [])),
                name=data.get("name"),
                token=str(data["token"]),
                expires_at=int(data["exp"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return user if user.expires_at > time.time() else None


class PageError(Exception):
    """Answer with an error page (403, 404, 409, 502) or send the user to sign in (401)."""

    def __init__(self, status: int, detail: str | None = None) -> None:
        super().__init__(detail or str(status))
        self.status = status
        self.detail = detail


def settings_of(request: Request) -> PortalSettings:
    settings: PortalSettings = request.app.state.settings
    return settings


def api_of(request: Request) -> ApiClient:
    client: ApiClient = request.app.state.api
    return client


Api = Annotated[ApiClient, Depends(api_of)]


def current_user(request: Request) -> User:
    user = User.from_session(request.session.get("user"))
    if user is None:
        request.session.pop("user", None)
        raise PageError(401)
    return user


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, User]]:
    wanted = frozenset(roles)

    async def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if not user.has(wanted):
            raise PageError(403)
        return user

    return dependency


def flash(request: Request, message: str) -> None:
    request.session["flash"] = message


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    user = User.from_session(request.session.get("user"))
    settings = settings_of(request)
    base: dict[str, Any] = {
        "request": request,
        "user": user,
        "settings": settings,
        "csrf_token": csrf_token(request.session),
        "flash": request.session.pop("flash", None),
        "nav": _nav(user, request.url.path),
    }
    base.update(context or {})
    return TEMPLATES.TemplateResponse(request, template, base, status_code=status)


def _nav(user: User | None, path: str) -> list[dict[str, Any]]:
    if user is None:
        return []
    items: list[tuple[str, str]] = []
    if Role.SCHOOL in user.roles:
        items += [("/school", "Your school"), ("/referrals", "Referrals"), ("/returns", "Roll changes")]
        items += [("/exclusions", "Exclusions"), ("/penalty-requests", "Penalty notices")]
    if user.has(OFFICER_ROLES):
        items += [
            ("/officer/triage", "Triage"),
            ("/officer/cme", "CME cases"),
            ("/officer/exclusions", "Exclusions"),
            ("/officer/ehe", "EHE register"),
        ]
        items += [("/officer/penalty-requests", "Penalty requests")]
    if user.has(REPORT_ROLES):
        items += [("/manager/indicators", "Indicators"), ("/manager/charts", "Charts")]
    seen: set[str] = set()
    nav = []
    for href, label in items:
        if href in seen:
            continue
        seen.add(href)
        nav.append({"href": href, "label": label, "active": path == href or path.startswith(href + "/")})
    return nav


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after its CSRF token checked out (403 otherwise)."""
    form = await request.form()
    if not check_csrf(request.session, form.get("csrf_token")):
        raise PageError(403, "The form had expired or did not come from this service. Go back and try again.")
    return form


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def error_page(request: Request, status: int, detail: str | None = None) -> Response:
    if status == 401:
        return sign_in_redirect(request)
    return render(
        request,
        f"errors/{status if status in (403, 404, 409, 502) else 'generic'}.html",
        {"detail": detail, "status": status},
        status=status,
    )
