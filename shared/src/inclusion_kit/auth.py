"""Identity and access: bearer JWTs, principals, roles and school/district scoping (ARCHITECTURE §6).

Tokens
    :class:`TokenVerifier` checks a bearer JWT with PyJWT. With ``AuthSettings.jwks_url`` unset
    it accepts HMAC tokens (HS256/384/512) signed with ``jwt_secret`` (local and test modes);
    with a JWKS URL it accepts only asymmetric tokens (RS*/PS*/ES*/EdDSA) whose key comes from
    the identity provider's JWKS, so a token whose header says ``HS256`` can never be checked
    with a public key used as an HMAC secret (algorithm confusion). ``none`` is never accepted.
    ``exp``, ``iss``, ``aud`` and ``sub`` are required; ``nbf`` and ``iat`` are checked when
    present, all with ``leeway_seconds``. Any failure raises :class:`AuthError` with a short
    message that is safe to return to the caller.

Claims
    ``roles`` (list of strings; unknown roles are ignored and a token without a known role is
    rejected), ``urns`` (the 6-digit school URNs a ``school`` principal acts for), ``districts``
    (empty or absent = every district), ``client_id`` or ``azp`` (MIS vendors using client
    credentials) and ``name`` (display only).

FastAPI
    ``create_app(settings)`` installs the verifier on ``app.state.token_verifier`` (see
    :func:`install_token_verifier`; no import-time singletons) and closes it on shutdown
    (``await verifier.aclose()``). Routes depend on :data:`CurrentPrincipal` or
    :func:`require_roles`. Failures raise :class:`fastapi.HTTPException` (401 with a
    ``WWW-Authenticate: Bearer`` header, 403 for a role mismatch, 503 when the identity
    provider's keys cannot be fetched); the app's problem handler renders them as RFC 9457
    problem details and must copy the exception's headers onto the response.

    Scoping follows "a school asking for another school's record gets 404":
    :func:`ensure_can_see_school` and :func:`ensure_in_district` raise a plain 404, the same as a
    record that does not exist, so a caller cannot probe for other schools' records.

Local tokens
    :func:`mint_token` signs an HMAC token with the shared secret for local use and tests, and
    refuses when a JWKS URL is configured (the LA's identity provider issues real tokens).
    :func:`token_main` is the ``inclusion-kit token`` command.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

import httpx
import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from inclusion_kit.settings import AuthSettings

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "DEFAULT_JWKS_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "AuthError",
    "CurrentPrincipal",
    "JWKSUnavailableError",
    "Principal",
    "Role",
    "TokenVerifier",
    "current_principal",
    "ensure_can_see_school",
    "ensure_in_district",
    "get_token_verifier",
    "install_token_verifier",
    "mint_token",
    "principal_from_claims",
    "require_roles",
    "token_main",
]

logger = logging.getLogger(__name__)

HMAC_ALGORITHMS: Final = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# Used with a JWKS URL when ``AuthSettings.algorithms`` names no asymmetric algorithm (its default
# is ["HS256"], which is never accepted against a JWKS).
DEFAULT_JWKS_ALGORITHMS: Final = ("RS256", "ES256")

MAX_TOKEN_LENGTH: Final = 8192
MAX_JWKS_BYTES: Final = 512 * 1024
_URN_RE: Final = re.compile(r"^[0-9]{6}$")
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_JWKS_KEY_TYPES: Final = frozenset({"RSA", "EC", "OKP"})


class Role(StrEnum):
    SCHOOL = "school"
    OFFICER = "officer"
    EARLY_HELP = "early_help"
    MANAGER = "manager"
    ADMIN = "admin"


# Roles that may act for any school (a service may narrow them further with districts).
_LA_ROLES: Final = frozenset({Role.OFFICER, Role.EARLY_HELP, Role.MANAGER, Role.ADMIN})


class AuthError(Exception):
    """A token was rejected. ``message`` is short and safe to return to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JWKSUnavailableError(AuthError):
    """The identity provider's keys could not be fetched (and none are cached): not the caller's fault."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. Built from a verified token; never from request data."""

    subject: str
    roles: frozenset[Role]
    urns: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()  # empty = every district
    client_id: str | None = None
    name: str | None = None  # display only; never logged or audited

    def has_role(self, *roles: Role | str) -> bool:
        """True when the principal holds at least one of ``roles``."""
        return any(role in self.roles for role in roles)

    @property
    def is_school_only(self) -> bool:
        """True for a school (or an MIS vendor acting for schools) with no LA role."""
        return Role.SCHOOL in self.roles and not (self.roles & _LA_ROLES)

    def can_act_for_urn(self, urn: str | None) -> bool:
        """Whether the principal may see or act on a record belonging to school ``urn``.

        Officer, early help, manager and admin principals may act for any school (the service
        narrows them with :meth:`in_district` where districts matter). A ``school`` principal
        may act only for the URNs in its token; a record with no school is not a school's.
        """
        if self.roles & _LA_ROLES:
            return True
        if Role.SCHOOL in self.roles:
            return urn is not None and urn in self.urns
        return False

    def in_district(self, district: str | None) -> bool:
        """Whether the principal may see records in ``district`` (compared case-insensitively).

        Admins and principals without a ``districts`` claim see every district. A principal
        limited to districts does not see records whose district is unknown (``None``).
        """
        if Role.ADMIN in self.roles or not self.districts:
            return True
        if district is None:
            return False
        wanted = district.casefold()
        return any(d.casefold() == wanted for d in self.districts)

    @property
    def role_names(self) -> str:
        """The roles, sorted and comma-separated (the audit log's ``actor_role``)."""
        return ",".join(sorted(str(role) for role in self.roles))


# --------------------------------------------------------------------------------------------
# Claims -> Principal


def _string_list(claims: Mapping[str, Any], name: str) -> list[str]:
    value = claims.get(name)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise AuthError(f"malformed {name} claim")
    items: list[str] = []
    for item in value:
        if isinstance(item, bool):
            raise AuthError(f"malformed {name} claim")
        if isinstance(item, int):
            item = str(item)
        if not isinstance(item, str):
            raise AuthError(f"malformed {name} claim")
        item = item.strip()
        if item:
            items.append(item)
    return items


def _optional_string(claims: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build a :class:`Principal` from verified claims; raises :class:`AuthError` if unusable."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise AuthError("token lacks a subject")
    known = {role.value for role in Role}
    roles = frozenset(Role(name) for name in _string_list(claims, "roles") if name in known)
    if not roles:
        raise AuthError("token has no recognised role")
    # URNs that are not 6 digits are ignored: they could only ever grant nothing.
    urns = frozenset(urn for urn in _string_list(claims, "urns") if _URN_RE.fullmatch(urn))
    districts = frozenset(_string_list(claims, "districts"))
    return Principal(
        subject=subject.strip(),
        roles=roles,
        urns=urns,
        districts=districts,
        client_id=_optional_string(claims, "client_id", "azp"),
        name=_optional_string(claims, "name"),
    )


# --------------------------------------------------------------------------------------------
# Verification


@dataclass(slots=True)
class _KeySet:
    keys: list[dict[str, Any]]
    fetched_at: float
    generation: int


class TokenVerifier:
    """Verifies bearer JWTs against a shared secret or the identity provider's JWKS.

    One per app (``app.state.token_verifier``); safe to share across concurrent requests.
    ``http_client`` is used for the JWKS (a client is created, and closed by :meth:`aclose`,
    when none is given). ``unknown_kid_refetch_seconds`` limits how often a token with an
    unknown ``kid`` may trigger a refetch, so random ``kid`` values cannot hammer the IdP.
    ``clock`` (monotonic seconds) drives the cache only; token times use the wall clock.
    """

    def __init__(
        self,
        settings: AuthSettings,
        *,
        http_client: httpx.AsyncClient | None = None,
        unknown_kid_refetch_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._leeway = timedelta(seconds=settings.leeway_seconds)
        self._clock = clock
        self._unknown_kid_refetch_seconds = unknown_kid_refetch_seconds
        self._http = http_client
        self._owns_http = http_client is None
        self._keyset: _KeySet | None = None
        self._last_attempt: float | None = None
        self._retry_after = 0.0
        self._lock = asyncio.Lock()
        self._jwk_cache: dict[tuple[int, str, str], jwt.PyJWK] = {}

        configured = list(settings.algorithms)
        for alg in configured:
            if alg not in HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS:
                raise ValueError(f"auth.algorithms: {alg!r} is not an accepted JWT algorithm")
        self._secret: bytes | None = None
        self._jwks_url = settings.jwks_url
        if self._jwks_url is not None:
            parts = urlsplit(self._jwks_url)
            if not (
                parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS)
            ):
                raise ValueError("auth.jwks_url must be an https URL (http only on localhost)")
            asymmetric = [alg for alg in configured if alg in ASYMMETRIC_ALGORITHMS]
            self._algorithms: tuple[str, ...] = tuple(asymmetric) or DEFAULT_JWKS_ALGORITHMS
        else:
            hmac = [alg for alg in configured if alg in HMAC_ALGORITHMS]
            if not hmac:
                raise ValueError("auth.algorithms must include an HMAC algorithm when jwks_url is unset")
            secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
            if not secret:
                raise ValueError("auth.jwt_secret is required when jwks_url is unset")
            self._algorithms = tuple(hmac)
            self._secret = secret.encode()

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms a token's header may name."""
        return self._algorithms

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def verify(self, token: str) -> Principal:
        """Verify ``token`` (without the ``Bearer`` prefix) and return its principal."""
        return principal_from_claims(await self.decode(token))

    async def decode(self, token: str) -> dict[str, Any]:
        """Verify ``token`` and return its claims; raises :class:`AuthError`."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise AuthError("token algorithm not allowed")
        key: bytes | jwt.PyJWK
        if self._secret is not None:
            key = self._secret
        else:
            kid = header.get("kid")
            if kid is not None and not isinstance(kid, str):
                raise AuthError("malformed token")
            key = await self._signing_key(kid, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._leeway,
                options={
                    "require": ["exp", "iss", "aud", "sub"],
                    "verify_signature": True,
                    "verify_exp": True,
                    "verify_nbf": True,
                    "verify_iat": True,
                    "verify_aud": True,
                    "verify_iss": True,
                },
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer not accepted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the {exc.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature invalid") from None
        except jwt.InvalidAlgorithmError:
            raise AuthError("token algorithm not allowed") from None
        except jwt.PyJWTError:
            raise AuthError("invalid token") from None
        return claims

    # JWKS -----------------------------------------------------------------------------------

    async def _signing_key(self, kid: str | None, alg: str) -> jwt.PyJWK:
        keyset = await self._current_keyset()
        jwk = _select_key(keyset.keys, kid)
        if jwk is None and self._may_refetch_for_unknown_kid():
            keyset = await self._refresh(after_generation=keyset.generation)
            jwk = _select_key(keyset.keys, kid)
        if jwk is None:
            raise AuthError("token signing key unknown")
        declared = jwk.get("alg")
        if declared is not None and declared != alg:
            raise AuthError("token algorithm does not match its key")
        cache_key = (keyset.generation, str(jwk.get("kid", "")), alg)
        cached = self._jwk_cache.get(cache_key)
        if cached is not None:
            return cached
        try:
            pyjwk = jwt.PyJWK(jwk, algorithm=alg)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            raise AuthError("token algorithm does not match its key") from None
        self._jwk_cache[cache_key] = pyjwk
        return pyjwk

    def _may_refetch_for_unknown_kid(self) -> bool:
        if self._last_attempt is None:
            return True
        return self._clock() - self._last_attempt >= self._unknown_kid_refetch_seconds

    async def _current_keyset(self) -> _KeySet:
        keyset = self._keyset
        now = self._clock()
        if keyset is not None and (
            now - keyset.fetched_at < self._settings.jwks_cache_seconds or now < self._retry_after
        ):
            return keyset
        return await self._refresh(after_generation=keyset.generation if keyset else -1)

    async def _refresh(self, *, after_generation: int) -> _KeySet:
        async with self._lock:
            keyset = self._keyset
            if keyset is not None and keyset.generation > after_generation:
                return keyset  # another request refreshed while this one waited
            self._last_attempt = self._clock()
            try:
                keys = await self._fetch_jwks()
            except (httpx.HTTPError, ValueError) as exc:
                if keyset is None:
                    logger.warning("JWKS fetch failed and no keys are cached: %s", type(exc).__name__)
                    raise JWKSUnavailableError("identity provider keys unavailable") from None
                logger.warning("JWKS fetch failed; using the cached keys: %s", type(exc).__name__)
                self._retry_after = self._clock() + min(60.0, float(self._settings.jwks_cache_seconds))
                return keyset
            generation = keyset.generation + 1 if keyset is not None else 0
            self._keyset = _KeySet(keys=keys, fetched_at=self._clock(), generation=generation)
            self._jwk_cache.clear()
            self._retry_after = 0.0
            return self._keyset

    async def _fetch_jwks(self) -> list[dict[str, Any]]:
        assert self._jwks_url is not None
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)
        response = await self._http.get(self._jwks_url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > MAX_JWKS_BYTES:
            raise ValueError("JWKS document too large")
        document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("JWKS document has no keys list")
        keys = [
            key
            for key in document["keys"]
            if isinstance(key, dict)
            and key.get("kty") in _JWKS_KEY_TYPES  # never a symmetric ("oct") key from a JWKS
            and key.get("use", "sig") == "sig"
            and (key.get("kid") is None or isinstance(key.get("kid"), str))
        ]
        if not keys:
            logger.warning("JWKS document holds no usable signing keys")
        return keys


def _select_key(keys: list[dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    if kid is None:
        # Without a kid, only an unambiguous key set will do.
        return keys[0] if len(keys) == 1 else None
    for key in keys:
        if key.get("kid") == kid:
            return key
    return None


# --------------------------------------------------------------------------------------------
# FastAPI dependencies

_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="A JWT from the LA's identity provider (or `inclusion-kit token` locally).",
)


def install_token_verifier(app: FastAPI, settings: AuthSettings, **kwargs: Any) -> TokenVerifier:
    """Create a :class:`TokenVerifier` and store it on ``app.state.token_verifier``.

    Call from ``create_app(settings)``; close it on shutdown with ``await verifier.aclose()``.
    Keyword arguments go to :class:`TokenVerifier` (e.g. ``http_client`` in tests).
    """
    verifier = TokenVerifier(settings, **kwargs)
    app.state.token_verifier = verifier
    return verifier


def get_token_verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.token_verifier is not set: create_app must install a TokenVerifier")
    return verifier


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller's principal from ``Authorization: Bearer``; 401 when missing or invalid.

    Also stored on ``request.state.principal`` for logging and audit middleware.
    """
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status_code=401, detail="A bearer token is required.", headers={"WWW-Authenticate": "Bearer"}
        )
    verifier = get_token_verifier(request)
    try:
        principal = await verifier.verify(credentials.credentials)
    except JWKSUnavailableError:
        raise HTTPException(
            status_code=503,
            detail="Tokens cannot be checked at the moment; try again shortly.",
            headers={"Retry-After": "5"},
        ) from None
    except AuthError as exc:
        raise HTTPException(
            status_code=401,
            detail=f"The bearer token was rejected: {exc.message}.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role | str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency returning the principal when it holds one of ``roles``, else 403.

    Usage: ``principal: Annotated[Principal, Depends(require_roles(Role.OFFICER, Role.MANAGER))]``.
    """
    if not roles:
        raise ValueError("require_roles needs at least one role")
    wanted = frozenset(Role(role) for role in roles)
    names = ", ".join(sorted(str(role) for role in wanted))

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.roles & wanted:
            raise HTTPException(
                status_code=403,
                detail=f"This action needs one of the roles: {names}.",
                headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
            )
        return principal

    dependency.__name__ = f"require_roles_{'_'.join(sorted(str(r) for r in wanted))}"
    # Read by inclusion_kit.service.document_roles (OpenAPI ``x-roles``), the docs and the
    # authorisation-matrix tests: the roles a route admits, from the route itself.
    setattr(dependency, REQUIRED_ROLES_ATTRIBUTE, wanted)
    return dependency


#: The attribute a :func:`require_roles` dependency carries its admitted roles in.
REQUIRED_ROLES_ATTRIBUTE = "required_roles"


def ensure_can_see_school(principal: Principal, urn: str | None) -> None:
    """404 (not 403) unless ``principal`` may act for school ``urn``: other schools' records
    are indistinguishable from records that do not exist."""
    if not principal.can_act_for_urn(urn):
        raise HTTPException(status_code=404)


def ensure_in_district(principal: Principal, district: str | None) -> None:
    """404 (not 403) when ``principal`` is limited to districts that exclude ``district``."""
    if not principal.in_district(district):
        raise HTTPException(status_code=404)


# --------------------------------------------------------------------------------------------
# Local tokens


def mint_token(
    settings: AuthSettings,
    *,
    subject: str,
    roles: Iterable[Role | str],
    urns: Iterable[str] = (),
    districts: Iterable[str] = (),
    client_id: str | None = None,
    name: str | None = None,
    ttl: timedelta = timedelta(hours=8),
    now: datetime | None = None,
) -> str:
    """Sign a token with the shared secret (local mode and tests only).

    Refuses when ``settings.jwks_url`` is set: the LA's identity provider issues real tokens.
    """
    if settings.jwks_url is not None:
        raise RuntimeError("auth.jwks_url is set: tokens come from the identity provider, not mint_token")
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    if not secret:
        raise RuntimeError("auth.jwt_secret is not set")
    hmac = [alg for alg in settings.algorithms if alg in HMAC_ALGORITHMS]
    if not hmac:
        raise RuntimeError("auth.algorithms has no HMAC algorithm to sign with")
    algorithm = "HS256" if "HS256" in hmac else hmac[0]
    if not subject or not subject.strip():
        raise ValueError("subject is required")
    role_set = sorted({Role(role) for role in roles})
    if not role_set:
        raise ValueError("at least one role is required")
    urn_list = sorted(set(urns))
    for urn in urn_list:
        if not _URN_RE.fullmatch(urn):
            raise ValueError(f"URN must be 6 digits; got {urn!r}")
    if Role.SCHOOL in role_set and not urn_list:
        raise ValueError("a school token needs at least one URN")
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    issued = (now or datetime.now(UTC)).astimezone(UTC)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject.strip(),
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": str(uuid.uuid4()),
        "roles": [str(role) for role in role_set],
    }
    if urn_list:
        claims["urns"] = urn_list
    district_list = sorted({d.strip() for d in districts if d.strip()})
    if district_list:
        claims["districts"] = district_list
    if client_id:
        claims["client_id"] = client_id
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm=algorithm)


class _TokenCliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INCLUSION_", env_nested_delimiter="__", extra="ignore")

    auth: AuthSettings = Field(default_factory=AuthSettings)


def token_main(argv: Sequence[str] | None = None) -> int:
    """``inclusion-kit token --role school --urn 118000 --subject demo-school``: print a local token.

    Reads ``AuthSettings`` from ``INCLUSION_AUTH__*`` environment variables (else the local
    defaults). Returns the exit status.
    """
    parser = argparse.ArgumentParser(
        prog="inclusion-kit token", description="Print a locally signed bearer token (local mode only)."
    )
    parser.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    parser.add_argument("--subject", required=True)
    parser.add_argument("--urn", action="append", default=[], help="6-digit URN (repeatable)")
    parser.add_argument("--district", action="append", default=[], help="district (repeatable)")
    parser.add_argument("--client-id", default=None)
    parser.add_argument("--name", default=None)
    parser.add_argument("--ttl-hours", type=float, default=8.0)
    args = parser.parse_args(argv)
    try:
        settings = _TokenCliSettings().auth
        token = mint_token(
            settings,
            subject=args.subject,
            roles=args.role,
            urns=args.urn,
            districts=args.district,
            client_id=args.client_id,
            name=args.name,
            ttl=timedelta(hours=args.ttl_hours),
        )
    except (ValueError, RuntimeError) as exc:
        print(f"inclusion-kit token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0
