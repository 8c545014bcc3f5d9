"""OpenID Connect sign-in with the LA's identity provider: authorization code flow with PKCE.

1. :meth:`OidcClient.start` makes a ``state``, a ``nonce`` and a PKCE verifier (kept in the
   session) and the authorization URL (``code_challenge_method=S256``).
2. :meth:`OidcClient.finish` checks ``state``, exchanges the code at the token endpoint (with the
   verifier and, for a confidential client, the client secret), verifies the ID token's signature
   against the provider's JWKS with PyJWT (asymmetric algorithms only; ``iss``, ``aud`` = our
   client id, ``exp``, ``nonce``), then verifies the access token with the kit's
   :class:`~inclusion_kit.auth.TokenVerifier` exactly as the services will, so a token the APIs
   would refuse never becomes a session.
3. :meth:`OidcClient.logout_url` is RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0):
   the provider's ``end_session_endpoint`` with ``client_id``, ``post_logout_redirect_uri`` and,
   when the session kept it, ``id_token_hint``; None when discovery has no such endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt

from inclusion_kit.auth import ASYMMETRIC_ALGORITHMS, AuthError, Principal, TokenVerifier
from inclusion_kit.settings import AuthSettings
from portal.config import OidcSettings


class SignInError(Exception):
    """Sign-in failed; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Pending:
    state: str
    nonce: str
    verifier: str
    created: float

    def to_session(self) -> dict[str, Any]:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier, "created": self.created}

    @classmethod
    def from_session(cls, data: Any) -> Pending | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(str(data["state"]), str(data["nonce"]), str(data["verifier"]), float(data["created"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    access_token: str
    expires_at: int
    name: str | None
    id_token: str = ""


def _https_or_loopback(url: str, what: str) -> None:
    parts = urlsplit(url)
    if not (
        parts.scheme == "https"
        or (parts.scheme == "http" and parts.hostname in {"localhost", "127.0.0.1", "::1"})
    ):
        raise SignInError(f"The identity provider's {what} must be an https URL.")


class OidcClient:
    """One per app; the provider's metadata and keys are fetched on first use and cached."""

    PENDING_SECONDS = 600

    def __init__(self, settings: OidcSettings, redirect_uri: str, *, http: httpx.AsyncClient | None = None):
        self.settings = settings
        self.redirect_uri = redirect_uri
        self._http = http or httpx.AsyncClient(timeout=10.0)
        self._owns_http = http is None
        self._metadata: dict[str, Any] | None = None
        self._verifier: TokenVerifier | None = None

    async def aclose(self) -> None:
        if self._verifier is not None:
            await self._verifier.aclose()
        if self._owns_http:
            await self._http.aclose()

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            _https_or_loopback(self.settings.discovery_url, "discovery URL")
            try:
                response = await self._http.get(self.settings.discovery_url)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError):
                raise SignInError(
                    "The sign-in service cannot be reached at the moment. Try again shortly."
                ) from None
            for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(key), str):
                    raise SignInError("The identity provider's configuration is incomplete.")
                if key != "issuer":
                    _https_or_loopback(document[key], key)
            self._metadata = document
        return self._metadata

    async def _access_verifier(self) -> TokenVerifier:
        if self._verifier is None:
            meta = await self.metadata()
            self._verifier = TokenVerifier(
                AuthSettings(
                    jwt_secret=None,
                    jwks_url=meta["jwks_uri"],
                    issuer=meta["issuer"],
                    audience=self.settings.api_audience,
                    algorithms=sorted(
                        ASYMMETRIC_ALGORITHMS
                        & set(meta.get("id_token_signing_alg_values_supported", ["RS256"]))
                    )
                    or ["RS256"],
                    leeway_seconds=self.settings.leeway_seconds,
                ),
                http_client=self._http,
            )
        return self._verifier

    async def start(self) -> tuple[str, Pending]:
        meta = await self.metadata()
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            created=time.time(),
        )
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(pending.verifier.encode()).digest()).rstrip(b"=").decode()
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": " ".join(self.settings.scopes),
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{meta['authorization_endpoint']}?{query}", pending

    async def finish(
        self, pending: Pending | None, *, state: str | None, code: str | None, error: str | None
    ) -> SignedIn:
        if error:
            raise SignInError("Sign-in was cancelled or refused by the identity provider.")
        if pending is None or time.time() - pending.created > self.PENDING_SECONDS:
            raise SignInError("Your sign-in took too long or was started in another window. Sign in again.")
        if not state or not secrets.compare_digest(state, pending.state) or not code:
            raise SignInError("The sign-in response did not match this browser's request. Sign in again.")
        meta = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.settings.client_id,
            "code_verifier": pending.verifier,
        }
        auth = None
        if self.settings.client_secret is not None:
            auth = (self.settings.client_id, self.settings.client_secret.get_secret_value())
        try:
            response = await self._http.post(
                meta["token_endpoint"], data=form, auth=auth or httpx.USE_CLIENT_DEFAULT
            )
            tokens = response.json()
        except (httpx.HTTPError, ValueError):
            raise SignInError(
                "The sign-in service cannot be reached at the moment. Try again shortly."
            ) from None
        if response.status_code != 200 or not isinstance(tokens, dict):
            raise SignInError("The identity provider did not accept the sign-in. Sign in again.")
        id_token, access_token = tokens.get("id_token"), tokens.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise SignInError("The identity provider's answer lacked a token.")
        claims = await self._verify_id_token(id_token, pending.nonce)
        try:
            verifier = await self._access_verifier()
            access_claims = await verifier.decode(access_token)
            principal = await verifier.verify(access_token)
        except AuthError as exc:
            raise SignInError(f"Your account cannot use this service ({exc.message}).") from None
        if access_claims.get("sub") != claims.get("sub"):
            raise SignInError("The identity provider's tokens are for different people.")
        name = claims.get("name") if isinstance(claims.get("name"), str) else None
        return SignedIn(principal, access_token, int(access_claims["exp"]), name, id_token)

    async def logout_url(self, post_logout_redirect_uri: str, id_token_hint: str | None = None) -> str | None:
        """Where to send the browser to end the provider's session too (None: the provider has no
        ``end_session_endpoint``, or cannot be reached; the portal's own session ends anyway)."""
        try:
            meta = await self.metadata()
            endpoint = meta.get("end_session_endpoint")
            if not isinstance(endpoint, str) or not endpoint:
                return None
            _https_or_loopback(endpoint, "end_session_endpoint")
        except SignInError:
            return None
        query = {"client_id": self.settings.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token_hint:
            query["id_token_hint"] = id_token_hint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"

    def end_session_origin(self) -> str | None:
        """The origin of the provider's ``end_session_endpoint`` (the sign-out form's redirect goes
        there, so the CSP's ``form-action`` of every page must allow it). Before discovery was
        read (a fresh process), the discovery URL's origin, where the endpoint usually is."""
        if self._metadata is None:
            endpoint: Any = self.settings.discovery_url
        else:
            endpoint = self._metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        return f"{parts.scheme}://{parts.netloc}"

    async def _verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        meta = await self.metadata()
        try:
            header = jwt.get_unverified_header(id_token)
            alg = header.get("alg")
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise SignInError("The identity provider's ID token uses an algorithm that is not accepted.")
            response = await self._http.get(meta["jwks_uri"])
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json())
            kid = header.get("kid")
            candidates = [k for k in keys.keys if kid is None or k.key_id == kid]
            if len(candidates) != 1:
                raise SignInError("The identity provider's signing key was not found.")
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=candidates[0],
                algorithms=[alg],
                audience=self.settings.client_id,
                issuer=meta["issuer"],
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
            )
        except SignInError:
            raise
        except (jwt.PyJWTError, httpx.HTTPError, ValueError, KeyError):
            raise SignInError(
                "The identity provider's ID token could not be verified. Sign in again."
            ) from None
        if not secrets.compare_digest(str(claims.get("nonce")), nonce):
            raise SignInError("The ID token was not issued for this sign-in. Sign in again.")
        return claims
