"""Settings for the portal: environment variables prefixed PORTAL_ (nested with __).

The portal keeps no domain data: it calls the five services' public APIs with the signed-in
user's token. ``services`` holds their base URLs (behind the gateway they may all be one URL; in
``inclusion up`` each service has its own port).

Sign-in is OpenID Connect against the LA's identity provider (``oidc``), or, in ``local`` and
``test`` modes only, a local sign-in that mints a token with the local signing key (``auth``).
Outside those modes the settings refuse to load with local sign-in enabled, a default or short
session secret, or cookies that are not ``Secure``.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from inclusion_kit.settings import LOCAL_JWT_SECRET, AuthSettings

LOCAL_SESSION_SECRET = "local-portal-session-secret-not-for-production-use"  # noqa: S105 - local only

SERVICE_NAMES = ("referral", "cme", "exclusions", "enforcement", "reporting")


class ServiceUrls(BaseModel):
    """Base URLs of the services' APIs (``inclusion up``'s default ports)."""

    referral: str = "http://127.0.0.1:8001"
    cme: str = "http://127.0.0.1:8002"
    exclusions: str = "http://127.0.0.1:8003"
    enforcement: str = "http://127.0.0.1:8004"
    reporting: str = "http://127.0.0.1:8005"

    def url(self, service: str) -> str:
        return str(getattr(self, service)).rstrip("/")


class OidcSettings(BaseModel):
    """The LA's identity provider: authorization code flow with PKCE (S256).

    ``discovery_url`` is the provider's ``.well-known/openid-configuration``. The portal calls the
    APIs with the provider's access token (its audience must be the platform's, and it carries the
    ``roles``/``urns``/``districts`` claims); the ID token proves who signed in.
    """

    discovery_url: str
    client_id: str
    client_secret: SecretStr | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"])
    # Verify the access token the way the services will (issuer, audience, JWKS) before keeping it.
    api_audience: str = "inclusion-platform"
    display_name: str = "your council account"
    leeway_seconds: int = 30


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PORTAL_", env_nested_delimiter="__", extra="ignore", hide_input_in_errors=True
    )

    service_name: str = "portal"
    mode: Literal["local", "test", "production"] = "local"
    service_title: str = "Inclusion and Attendance Service"
    la_name: str = "Kent County Council"
    services: ServiceUrls = Field(default_factory=ServiceUrls)
    # The local signing key and issuer/audience (local sign-in mints tokens the services accept).
    auth: AuthSettings = Field(default_factory=AuthSettings)
    oidc: OidcSettings | None = None
    local_sign_in: bool = True
    # The public address of the portal (for the OIDC redirect URI), e.g. https://portal.example.gov.uk
    public_url: str = "http://127.0.0.1:8000"
    session_secret: SecretStr = SecretStr(LOCAL_SESSION_SECRET)
    session_max_age_seconds: int = Field(default=8 * 3600, ge=300, le=24 * 3600)
    cookie_secure: bool = False
    api_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    # Rows a list page asks the API for (one page; the API's cursor links to the next).
    page_size: int = Field(default=50, ge=1, le=500)
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.mode in ("local", "test"):
            return self
        problems: list[str] = []
        if self.local_sign_in:
            problems.append("local_sign_in must be false (sign-in is through the identity provider)")
        if self.oidc is None:
            problems.append("oidc: set OIDC__DISCOVERY_URL and OIDC__CLIENT_ID")
        secret = self.session_secret.get_secret_value()
        if secret == LOCAL_SESSION_SECRET or len(secret) < 32:
            problems.append("session_secret: set a random value of at least 32 characters")
        if not self.cookie_secure:
            problems.append("cookie_secure must be true (the session cookie only travels over HTTPS)")
        if not self.public_url.startswith("https://"):
            problems.append("public_url must be an https URL")
        jwt_secret = self.auth.jwt_secret.get_secret_value() if self.auth.jwt_secret else None
        if jwt_secret == LOCAL_JWT_SECRET and "jwt_secret" in self.auth.model_fields_set:
            problems.append("auth: the local development secret must not be set in production")
        if problems:
            raise ValueError("portal refuses to start in production mode: " + "; ".join(problems))
        return self

    @property
    def local_sign_in_allowed(self) -> bool:
        return self.local_sign_in and self.mode in ("local", "test")
