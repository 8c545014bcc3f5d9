"""OpenID Connect sign-in against a fake identity provider (RSA keys, PKCE checked at its token
endpoint): the happy path, and the ways a sign-in must fail."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form
from fastapi.responses import JSONResponse

from portal.config import PortalSettings
from portal.entrypoints.app import create_app

from .conftest import csrf

IDP = "http://127.0.0.1:9999"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeIdp:
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    nonce_override: str | None = None
    audience: str = "inclusion-platform"
    end_session: bool = True

    def app(self) -> FastAPI:
        app = FastAPI()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
        jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            document = {
                "issuer": IDP,
                "authorization_endpoint": f"{IDP}/authorize",
                "token_endpoint": f"{IDP}/token",
                "jwks_uri": f"{IDP}/jwks",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
            if self.end_session:
                document["end_session_endpoint"] = f"{IDP}/logout"
            return document

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            return {"keys": [jwk]}

        @app.post("/token")
        async def token(
            code: str = Form(), code_verifier: str = Form(), client_id: str = Form()
        ) -> JSONResponse:
            grant = self.codes.pop(code, None)
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if grant is None or grant["challenge"] != challenge or client_id != "portal":
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            common = {"iss": IDP, "sub": "officer-7", "iat": now, "exp": now + 600}
            id_token = jwt.encode(
                {
                    **common,
                    "aud": "portal",
                    "nonce": self.nonce_override or grant["nonce"],
                    "name": "Pat Officer",
                },
                KEY,
                algorithm="RS256",
                headers={"kid": "k1"},
            )
            access = jwt.encode(
                {**common, "aud": self.audience, "roles": ["officer"], "districts": ["Dover"]},
                KEY,
                algorithm="RS256",
                headers={"kid": "k1"},
            )
            return JSONResponse({"access_token": access, "id_token": id_token, "token_type": "Bearer"})

        return app

    def authorize(self, url: str) -> tuple[str, str]:
        """What the provider does when the user signs in: a code bound to the PKCE challenge."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["code_challenge_method"] == "S256" and query["response_type"] == "code"
        code = f"code-{len(self.codes)}"
        self.codes[code] = {"challenge": query["code_challenge"], "nonce": query["nonce"]}
        return code, query["state"]


@pytest.fixture
async def idp_portal() -> AsyncIterator[tuple[FakeIdp, httpx.AsyncClient]]:
    async with portal_with(FakeIdp()) as pair:
        yield pair


@pytest.fixture
async def idp_portal_without_logout() -> AsyncIterator[tuple[FakeIdp, httpx.AsyncClient]]:
    """A provider whose discovery document has no end_session_endpoint."""
    async with portal_with(FakeIdp(end_session=False)) as pair:
        yield pair


@contextlib.asynccontextmanager
async def portal_with(idp: FakeIdp) -> AsyncIterator[tuple[FakeIdp, httpx.AsyncClient]]:
    idp_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=idp.app()))
    settings = PortalSettings(
        mode="test",
        local_sign_in=False,
        oidc={
            "discovery_url": f"{IDP}/.well-known/openid-configuration",
            "client_id": "portal",
            "client_secret": "s3cret",
        },
        public_url="http://portal",
    )
    nowhere = {
        n: httpx.AsyncClient(base_url="http://127.0.0.1:9")
        for n in ("referral", "cme", "exclusions", "enforcement", "reporting")
    }
    app = create_app(settings, clients=nowhere, oidc_http=idp_http)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://portal"
        ) as client:
            yield idp, client
    await idp_http.aclose()


async def test_authorization_code_with_pkce_signs_the_officer_in(
    idp_portal: tuple[FakeIdp, httpx.AsyncClient],
) -> None:
    idp, client = idp_portal
    page = await client.get("/sign-in")
    assert "/sign-in/oidc" in page.text and "Local sign-in" not in page.text
    start = await client.get("/sign-in/oidc", params={"next": "/officer/cme"})
    assert start.status_code == 303 and start.headers["location"].startswith(f"{IDP}/authorize?")
    assert "redirect_uri=http%3A%2F%2Fportal%2Fauth%2Fcallback" in start.headers["location"]
    code, state = idp.authorize(start.headers["location"])
    done = await client.get("/auth/callback", params={"code": code, "state": state})
    assert done.status_code == 303 and done.headers["location"] == "/officer/cme"
    # The local sign-in is refused when disabled.
    assert (await client.post("/sign-in/local", data={"role": "admin"})).status_code == 404


async def test_a_forged_state_a_replayed_code_and_a_wrong_nonce_are_refused(
    idp_portal: tuple[FakeIdp, httpx.AsyncClient],
) -> None:
    idp, client = idp_portal
    start = await client.get("/sign-in/oidc")
    code, _state = idp.authorize(start.headers["location"])
    forged = await client.get("/auth/callback", params={"code": code, "state": "not-the-state"})
    assert forged.status_code == 400 and "did not match" in forged.text
    # The pending sign-in is used up: the real state no longer works either.
    assert (await client.get("/auth/callback", params={"code": code, "state": _state})).status_code == 400

    idp.nonce_override = "someone-elses"
    start = await client.get("/sign-in/oidc")
    code, state = idp.authorize(start.headers["location"])
    wrong_nonce = await client.get("/auth/callback", params={"code": code, "state": state})
    assert wrong_nonce.status_code == 400 and "not issued for this sign-in" in wrong_nonce.text
    assert (await client.get("/officer/triage")).status_code == 303  # still signed out


async def test_an_access_token_the_apis_would_refuse_makes_no_session(
    idp_portal: tuple[FakeIdp, httpx.AsyncClient],
) -> None:
    idp, client = idp_portal
    idp.audience = "some-other-api"
    start = await client.get("/sign-in/oidc")
    code, state = idp.authorize(start.headers["location"])
    response = await client.get("/auth/callback", params={"code": code, "state": state})
    assert response.status_code == 400 and "cannot use this service" in response.text
    assert (await client.get("/officer/triage")).status_code == 303


async def _signed_in(idp: FakeIdp, client: httpx.AsyncClient) -> str:
    """Sign in through the provider; the CSRF token of the signed-in session."""
    start = await client.get("/sign-in/oidc")
    code, state = idp.authorize(start.headers["location"])
    assert (await client.get("/auth/callback", params={"code": code, "state": state})).status_code == 303
    return await csrf(client, "/signed-out")  # any page shows the sign-out form with the token


async def test_sign_out_ends_the_providers_session_too(idp_portal: tuple[FakeIdp, httpx.AsyncClient]) -> None:
    idp, client = idp_portal
    token = await _signed_in(idp, client)
    page = await client.get("/signed-out")  # the page holding the sign-out form
    assert f"form-action 'self' {IDP};" in page.headers["content-security-policy"]
    out = await client.post("/sign-out", data={"csrf_token": token})
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    location = urlsplit(out.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{IDP}/logout"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["client_id"] == "portal"
    assert query["post_logout_redirect_uri"] == "http://portal/signed-out"
    hint = jwt.decode(query["id_token_hint"], KEY.public_key(), algorithms=["RS256"], audience="portal")
    assert hint["sub"] == "officer-7" and hint["iss"] == IDP
    # Browsers apply the page's form-action to the sign-out form's redirect: every page allows
    # the provider's origin.
    assert f"form-action 'self' {IDP};" in out.headers["content-security-policy"]
    assert (await client.get("/officer/triage")).status_code == 303  # signed out here
    assert "You have signed out" in (await client.get("/signed-out")).text


async def test_sign_out_without_an_end_session_endpoint_clears_the_session_only(
    idp_portal_without_logout: tuple[FakeIdp, httpx.AsyncClient],
) -> None:
    idp, client = idp_portal_without_logout
    token = await _signed_in(idp, client)
    out = await client.post("/sign-out", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/signed-out"
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert "form-action 'self';" in out.headers["content-security-policy"]
    assert (await client.get("/officer/triage")).status_code == 303
    # A forged sign-out (no CSRF token) is refused and leaves nobody signed out.
    token = await _signed_in(idp, client)
    assert (await client.post("/sign-out", data={"csrf_token": "forged"})).status_code == 403
    assert (await client.get("/signed-out")).text.count('action="/sign-out"') == 1


async def test_the_csp_allows_the_providers_origin_before_discovery_was_read() -> None:
    """A fresh replica whose provider did not answer at start: the discovery URL's origin."""
    from portal.oidc import OidcClient

    settings = PortalSettings(
        mode="test", oidc={"discovery_url": f"{IDP}/.well-known/openid-configuration", "client_id": "portal"}
    )
    assert settings.oidc is not None
    client = OidcClient(settings.oidc, "http://portal/auth/callback", http=httpx.AsyncClient())
    assert client.end_session_origin() == IDP
    await client.aclose()
