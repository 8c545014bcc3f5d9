"""The signed-in user's session: an encrypted, signed, HttpOnly, SameSite=Lax cookie.

The cookie holds the user's API token, so it is encrypted as well as signed (Fernet: AES-128-CBC
with HMAC-SHA256 and a timestamp; the key is derived from ``session_secret``). The server keeps no
session state. A cookie older than ``max_age`` or tampered with is ignored (the user signs in
again). Every form carries the session's CSRF token (:func:`csrf_token`), checked on every POST
(:func:`check_csrf`) with a constant-time comparison.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "portal_session"
# Browsers drop cookies over 4096 bytes: refuse to write one rather than lose the session silently.
MAX_COOKIE_BYTES = 4000


class SessionTooLarge(RuntimeError):
    pass


def _fernet(secret: str) -> Fernet:
    key = hashlib.sha256(b"inclusion-portal-session-v1:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


class EncryptedSessionMiddleware:
    """Loads ``scope["session"]`` from the cookie and writes it back when it changed."""

    def __init__(
        self, app: ASGIApp, *, secret: str, max_age: int, secure: bool, cookie_name: str = COOKIE_NAME
    ) -> None:
        self.app = app
        self.fernet = _fernet(secret)
        self.max_age = max_age
        self.secure = secure
        self.cookie_name = cookie_name

    def load(self, raw: str | None) -> dict[str, Any]:
        if not raw:
            return {}
        try:
            data = json.loads(self.fernet.decrypt(raw.encode(), ttl=self.max_age))
        except (InvalidToken, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def dump(self, data: dict[str, Any]) -> str:
        value = self.fernet.encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()
        if len(value) > MAX_COOKIE_BYTES:
            raise SessionTooLarge("the session does not fit in a cookie")
        return value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        had_cookie = self.cookie_name in connection.cookies
        scope["session"] = self.load(connection.cookies.get(self.cookie_name))
        initial = json.dumps(scope["session"], sort_keys=True)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                session = scope["session"]
                changed = json.dumps(session, sort_keys=True) != initial
                headers = MutableHeaders(scope=message)
                flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
                if session and changed:
                    headers.append(
                        "Set-Cookie",
                        f"{self.cookie_name}={self.dump(session)}; Max-Age={self.max_age}{flags}",
                    )
                elif not session and had_cookie:
                    headers.append("Set-Cookie", f"{self.cookie_name}=; Max-Age=0{flags}")
                # Pages show a child's personal data: never cache them anywhere.
                if not headers.get("cache-control"):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_wrapper)


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf(session: dict[str, Any], submitted: object) -> bool:
    expected = session.get("csrf")
    return (
        isinstance(expected, str)
        and bool(expected)
        and isinstance(submitted, str)
        and hmac.compare_digest(expected.encode(), submitted.encode())
    )
