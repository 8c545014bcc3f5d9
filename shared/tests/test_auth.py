"""Bearer JWT verification, principals, FastAPI dependencies and local token minting."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import SecretStr

from inclusion_kit.auth import (
    AuthError,
    CurrentPrincipal,
    JWKSUnavailableError,
    Principal,
    Role,
    TokenVerifier,
    ensure_can_see_school,
    ensure_in_district,
    install_token_verifier,
    mint_token,
    principal_from_claims,
    require_roles,
    token_main,
)
from inclusion_kit.settings import LOCAL_JWT_SECRET, AuthSettings

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
OTHER_SECRET = "another-secret-0123456789-abcdefghijklmnopqrstuv"
JWKS_URL = "https://idp.example/realms/la/protocol/openid-connect/certs"
ISSUER = "https://idp.example/realms/la"
AUDIENCE = "inclusion-platform"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "inclusion-local",
        "aud": AUDIENCE,
        "sub": "officer-1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "roles": ["officer"],
    }
    for key, value in overrides.items():
        if value is ...:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def hs(payload: dict[str, Any], *, key: str | bytes = SECRET, alg: str = "HS256", **headers: Any) -> str:
    """Sign by hand so tests can forge what PyJWT refuses to (e.g. HMAC with a PEM key)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{b64json({'alg': alg, 'typ': 'JWT', **headers})}.{b64json(payload)}"
    secret = key.encode() if isinstance(key, str) else key
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    return f"{b64json({'alg': alg, 'typ': 'JWT'})}.{b64json(payload)}."


@pytest.fixture
def hs_settings() -> AuthSettings:
    return AuthSettings(jwt_secret=SecretStr(SECRET))


@pytest.fixture
def hs_verifier(hs_settings: AuthSettings) -> TokenVerifier:
    return TokenVerifier(hs_settings)


# --------------------------------------------------------------------------------------------
# Shared-secret (HS256) verification


async def test_valid_hs256_token_gives_principal(hs_verifier: TokenVerifier) -> None:
    token = hs(claims(urns=["118000"], districts=["Dover"], name="Pat Officer", azp="portal"))
    principal = await hs_verifier.verify(token)
    assert principal == Principal(
        subject="officer-1",
        roles=frozenset({Role.OFFICER}),
        urns=frozenset({"118000"}),
        districts=frozenset({"Dover"}),
        client_id="portal",
        name="Pat Officer",
    )


async def test_expiry_within_leeway_is_accepted(hs_verifier: TokenVerifier) -> None:
    now = int(time.time())
    await hs_verifier.verify(hs(claims(exp=now - 10, iat=now - 100, nbf=now - 100)))
    await hs_verifier.verify(hs(claims(nbf=now + 10)))


async def test_iat_and_nbf_are_optional(hs_verifier: TokenVerifier) -> None:
    await hs_verifier.verify(hs(claims(iat=..., nbf=...)))


def _tamper(token: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64json(claims(roles=['admin']))}.{signature}"


def _strip_signature(token: str) -> str:
    header, payload, _ = token.split(".")
    return f"{header}.{payload}."


NOW = int(time.time())

HS_REJECTIONS: list[tuple[str, Callable[[], str], str]] = [
    ("no signature", lambda: _strip_signature(hs(claims())), "signature"),
    ("alg none", lambda: unsigned(claims()), "algorithm not allowed"),
    ("alg None", lambda: unsigned(claims(), alg="None"), "algorithm not allowed"),
    ("alg NONE with a signature", lambda: unsigned(claims(), alg="NONE") + "c2ln", "algorithm not allowed"),
    ("alg missing", lambda: f"{b64json({'typ': 'JWT'})}.{b64json(claims())}.", "algorithm not allowed"),
    ("expired", lambda: hs(claims(iat=NOW - 7200, nbf=NOW - 7200, exp=NOW - 3600)), "token expired"),
    ("not yet valid (nbf)", lambda: hs(claims(nbf=NOW + 3600)), "not yet valid"),
    ("issued in the future (iat)", lambda: hs(claims(iat=NOW + 3600)), "not yet valid"),
    ("exp missing", lambda: hs(claims(exp=...)), "lacks the exp claim"),
    ("exp not a number", lambda: hs(claims(exp="tomorrow")), "invalid token"),
    ("wrong issuer", lambda: hs(claims(iss="https://evil.example")), "issuer not accepted"),
    ("issuer missing", lambda: hs(claims(iss=...)), "lacks the iss claim"),
    ("wrong audience", lambda: hs(claims(aud="another-platform")), "audience not accepted"),
    ("audience missing", lambda: hs(claims(aud=...)), "lacks the aud claim"),
    ("subject missing", lambda: hs(claims(sub=...)), "lacks the sub claim"),
    ("wrong key", lambda: hs(claims(), key=OTHER_SECRET), "signature invalid"),
    ("local default secret", lambda: hs(claims(), key=LOCAL_JWT_SECRET), "signature invalid"),
    ("tampered payload", lambda: _tamper(hs(claims())), "signature invalid"),
    ("HS512 not in allow-list", lambda: hs(claims(), alg="HS512"), "algorithm not allowed"),
    ("unknown role only", lambda: hs(claims(roles=["teacher", "superuser"])), "no recognised role"),
    ("no roles claim", lambda: hs(claims(roles=...)), "no recognised role"),
    ("roles not a list", lambda: hs(claims(roles="admin")), "malformed roles claim"),
    ("role case differs", lambda: hs(claims(roles=["Admin"])), "no recognised role"),
    ("urns not a list", lambda: hs(claims(roles=["school"], urns="118000")), "malformed urns claim"),
    ("garbage", lambda: "not-a-jwt", "malformed token"),
    ("empty", lambda: "", "malformed token"),
    ("oversized", lambda: hs(claims(pad="x" * 9000)), "malformed token"),
]


@pytest.mark.parametrize(("case", "make", "message"), HS_REJECTIONS, ids=[c[0] for c in HS_REJECTIONS])
async def test_hs256_rejections(
    hs_verifier: TokenVerifier, case: str, make: Callable[[], str], message: str
) -> None:
    with pytest.raises(AuthError) as caught:
        await hs_verifier.verify(make())
    assert message in caught.value.message, case


def test_verifier_refuses_unsafe_configuration() -> None:
    with pytest.raises(ValueError, match="none"):
        TokenVerifier(AuthSettings(algorithms=["none"]))
    with pytest.raises(ValueError, match="HMAC"):
        TokenVerifier(AuthSettings(algorithms=["RS256"]))
    with pytest.raises(ValueError, match="jwt_secret"):
        TokenVerifier(AuthSettings(jwt_secret=None))
    with pytest.raises(ValueError, match="https"):
        TokenVerifier(AuthSettings(jwks_url="http://idp.example/certs"))
    TokenVerifier(AuthSettings(jwks_url="http://localhost:8080/certs"))  # loopback is fine
    # With a JWKS, HMAC algorithms are dropped even when configured.
    assert TokenVerifier(AuthSettings(jwks_url=JWKS_URL)).algorithms == ("RS256", "ES256")
    assert TokenVerifier(AuthSettings(jwks_url=JWKS_URL, algorithms=["HS256", "PS256"])).algorithms == (
        "PS256",
    )


# --------------------------------------------------------------------------------------------
# JWKS (RS256 / ES256)


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class JWKSServer:
    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    requests: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == JWKS_URL
        self.requests += 1
        if self.status != 200:
            return httpx.Response(self.status, text="unavailable")
        return httpx.Response(200, json={"keys": self.keys})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Any
    jwk: dict[str, Any]
    alg: str

    def sign(self, payload: dict[str, Any], **headers: Any) -> str:
        return jwt.encode(payload, self.private, algorithm=self.alg, headers={"kid": self.kid, **headers})


def rsa_key(kid: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, private, {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}, "RS256")


def ec_key(kid: str) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, private, {**jwk, "kid": kid}, "ES256")  # no "alg": inferred from kty/crv


@pytest.fixture(scope="module")
def k1() -> SigningKey:
    return rsa_key("k1")


@pytest.fixture(scope="module")
def k2() -> SigningKey:
    return rsa_key("k2")


@pytest.fixture(scope="module")
def kec() -> SigningKey:
    return ec_key("ec1")


@pytest.fixture
def jwks_settings() -> AuthSettings:
    return AuthSettings(jwks_url=JWKS_URL, issuer=ISSUER, audience=AUDIENCE, jwks_cache_seconds=600)


def jwt_claims(**overrides: Any) -> dict[str, Any]:
    return claims(iss=ISSUER, **overrides)


async def test_rs256_token_from_jwks(jwks_settings: AuthSettings, k1: SigningKey) -> None:
    server = JWKSServer(keys=[k1.jwk])
    verifier = TokenVerifier(jwks_settings, http_client=server.client())
    principal = await verifier.verify(
        k1.sign(jwt_claims(roles=["school"], urns=["118000"], client_id="mis-x"))
    )
    assert principal.roles == {Role.SCHOOL}
    assert principal.client_id == "mis-x"
    await verifier.verify(k1.sign(jwt_claims()))
    assert server.requests == 1  # cached


async def test_es256_token_from_jwks(jwks_settings: AuthSettings, k1: SigningKey, kec: SigningKey) -> None:
    server = JWKSServer(keys=[k1.jwk, kec.jwk])
    verifier = TokenVerifier(jwks_settings, http_client=server.client())
    assert (await verifier.verify(kec.sign(jwt_claims()))).subject == "officer-1"


def _public_pem(key: SigningKey) -> bytes:
    pem: bytes = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def _jwk_n_bytes(key: SigningKey) -> bytes:
    return json.dumps(key.jwk).encode()


JWKS_REJECTIONS: list[tuple[str, Callable[[SigningKey, SigningKey, SigningKey], str], str]] = [
    # Algorithm confusion: HMAC "signed" with the public key the verifier holds.
    (
        "HS256 with public PEM",
        lambda k1, k2, ec: hs(jwt_claims(), key=_public_pem(k1), kid="k1"),
        "algorithm",
    ),
    ("HS256 with JWK json", lambda k1, k2, ec: hs(jwt_claims(), key=_jwk_n_bytes(k1), kid="k1"), "algorithm"),
    ("HS256 with local secret", lambda k1, k2, ec: hs(jwt_claims(), key=LOCAL_JWT_SECRET), "algorithm"),
    ("alg none", lambda k1, k2, ec: unsigned(jwt_claims()), "algorithm not allowed"),
    (
        "RS256 signed by another key, same kid",
        lambda k1, k2, ec: SigningKey("k1", k2.private, {}, "RS256").sign(jwt_claims()),
        "signature invalid",
    ),
    (
        "kid of an EC key, RS256 header",
        lambda k1, k2, ec: SigningKey("ec1", k1.private, {}, "RS256").sign(jwt_claims()),
        "does not match",
    ),
    (
        "RS512 not in allow-list",
        lambda k1, k2, ec: SigningKey("k1", k1.private, {}, "RS512").sign(jwt_claims()),
        "algorithm not allowed",
    ),
    (
        "expired",
        lambda k1, k2, ec: k1.sign(jwt_claims(exp=NOW - 3600, iat=NOW - 7200, nbf=NOW - 7200)),
        "expired",
    ),
    ("not yet valid", lambda k1, k2, ec: k1.sign(jwt_claims(nbf=NOW + 3600)), "not yet valid"),
    ("wrong issuer", lambda k1, k2, ec: k1.sign(claims()), "issuer"),
    ("wrong audience", lambda k1, k2, ec: k1.sign(jwt_claims(aud="other")), "audience"),
    ("unknown role only", lambda k1, k2, ec: k1.sign(jwt_claims(roles=["pupil"])), "no recognised role"),
    (
        "no kid with several keys",
        lambda k1, k2, ec: jwt.encode(jwt_claims(), k1.private, algorithm="RS256"),
        "signing key unknown",
    ),
    (
        "jku header ignored",
        lambda k1, k2, ec: k2.sign(jwt_claims(), jku="https://evil.example/jwks"),
        "signing key unknown",
    ),
]


@pytest.mark.parametrize(("case", "make", "message"), JWKS_REJECTIONS, ids=[c[0] for c in JWKS_REJECTIONS])
async def test_jwks_rejections(
    jwks_settings: AuthSettings,
    k1: SigningKey,
    k2: SigningKey,
    kec: SigningKey,
    case: str,
    make: Callable[[SigningKey, SigningKey, SigningKey], str],
    message: str,
) -> None:
    server = JWKSServer(keys=[k1.jwk, kec.jwk])
    verifier = TokenVerifier(jwks_settings, http_client=server.client())
    with pytest.raises(AuthError) as caught:
        await verifier.verify(make(k1, k2, kec))
    assert message in caught.value.message, case


async def test_hs256_rejected_even_when_configured_and_jwks_holds_an_oct_key(k1: SigningKey) -> None:
    oct_key = {"kty": "oct", "kid": "hs", "k": b64(SECRET.encode()), "alg": "HS256"}
    server = JWKSServer(keys=[k1.jwk, oct_key])
    settings = AuthSettings(jwks_url=JWKS_URL, issuer=ISSUER, algorithms=["HS256", "RS256"])
    verifier = TokenVerifier(settings, http_client=server.client())
    with pytest.raises(AuthError, match="algorithm"):
        await verifier.verify(hs(jwt_claims(), kid="hs"))
    # And an RS256 header naming the oct key finds nothing: symmetric JWKs are never loaded.
    with pytest.raises(AuthError, match="signing key unknown"):
        await verifier.verify(SigningKey("hs", k1.private, {}, "RS256").sign(jwt_claims()))


async def test_no_kid_with_a_single_key_is_accepted(jwks_settings: AuthSettings, k1: SigningKey) -> None:
    verifier = TokenVerifier(jwks_settings, http_client=JWKSServer(keys=[k1.jwk]).client())
    await verifier.verify(jwt.encode(jwt_claims(), k1.private, algorithm="RS256"))


async def test_key_rotation_refetches_once_on_unknown_kid(
    jwks_settings: AuthSettings, k1: SigningKey, k2: SigningKey
) -> None:
    clock = FakeClock()
    server = JWKSServer(keys=[k1.jwk])
    verifier = TokenVerifier(
        jwks_settings, http_client=server.client(), clock=clock, unknown_kid_refetch_seconds=30
    )
    await verifier.verify(k1.sign(jwt_claims()))
    assert server.requests == 1

    # The IdP rotates: k2 is published and starts signing. The cache is still fresh.
    server.keys = [k1.jwk, k2.jwk]
    clock.now += 60
    await verifier.verify(k2.sign(jwt_claims()))
    assert server.requests == 2
    await verifier.verify(k2.sign(jwt_claims()))
    await verifier.verify(k1.sign(jwt_claims()))
    assert server.requests == 2

    # Random kids cannot hammer the IdP: within the refetch interval, no further fetch.
    bogus = SigningKey("k3", k2.private, {}, "RS256")
    for _ in range(5):
        with pytest.raises(AuthError, match="signing key unknown"):
            await verifier.verify(bogus.sign(jwt_claims()))
    assert server.requests == 2
    clock.now += 31
    with pytest.raises(AuthError, match="signing key unknown"):
        await verifier.verify(bogus.sign(jwt_claims()))
    assert server.requests == 3

    # k1 is retired; once the cache expires tokens signed with it fail.
    server.keys = [k2.jwk]
    clock.now += 601
    with pytest.raises(AuthError, match="signing key unknown"):
        await verifier.verify(k1.sign(jwt_claims()))
    assert server.requests == 4


async def test_jwks_outage(jwks_settings: AuthSettings, k1: SigningKey) -> None:
    clock = FakeClock()
    server = JWKSServer(keys=[k1.jwk], status=503)
    verifier = TokenVerifier(jwks_settings, http_client=server.client(), clock=clock)
    with pytest.raises(JWKSUnavailableError):
        await verifier.verify(k1.sign(jwt_claims()))

    server.status = 200
    clock.now += 60
    await verifier.verify(k1.sign(jwt_claims()))
    # Cached keys outlive an outage after the cache expires (stale-if-error), with backoff.
    server.status = 500
    clock.now += 700
    requests = server.requests
    await verifier.verify(k1.sign(jwt_claims()))
    await verifier.verify(k1.sign(jwt_claims()))
    assert server.requests == requests + 1


async def test_owned_http_client_is_closed(jwks_settings: AuthSettings) -> None:
    verifier = TokenVerifier(jwks_settings)
    await verifier.aclose()


# --------------------------------------------------------------------------------------------
# Principal


def test_school_principal_acts_only_for_its_urns() -> None:
    school = Principal("s", frozenset({Role.SCHOOL}), urns=frozenset({"118000", "118001"}))
    assert school.can_act_for_urn("118000")
    assert not school.can_act_for_urn("119999")
    assert not school.can_act_for_urn(None)
    assert school.is_school_only
    officer = Principal("o", frozenset({Role.OFFICER}))
    assert officer.can_act_for_urn("119999")
    assert not officer.is_school_only
    both = Principal("b", frozenset({Role.SCHOOL, Role.EARLY_HELP}), urns=frozenset({"118000"}))
    assert both.can_act_for_urn("119999")
    assert both.has_role(Role.EARLY_HELP, "admin")
    assert not both.has_role(Role.ADMIN)


def test_districts() -> None:
    everywhere = Principal("o", frozenset({Role.OFFICER}))
    assert everywhere.in_district("Dover") and everywhere.in_district(None)
    dover = Principal("o", frozenset({Role.OFFICER}), districts=frozenset({"Dover", "Thanet"}))
    assert dover.in_district("dover") and dover.in_district("Thanet")
    assert not dover.in_district("Ashford")
    assert not dover.in_district(None)
    admin = Principal("a", frozenset({Role.ADMIN}), districts=frozenset({"Dover"}))
    assert admin.in_district("Ashford")


def test_principal_from_claims_normalises() -> None:
    principal = principal_from_claims(
        {
            "sub": " mis-1 ",
            "roles": ["school", "pupil"],
            "urns": [118000, "118001", "12345", ""],
            "azp": "mis",
        }
    )
    assert principal.subject == "mis-1"
    assert principal.roles == {Role.SCHOOL}
    assert principal.urns == {"118000", "118001"}  # malformed URNs grant nothing
    assert principal.client_id == "mis"
    assert principal.role_names == "school"
    assert Principal("x", frozenset(Role)).role_names == "admin,early_help,manager,officer,school"


# --------------------------------------------------------------------------------------------
# Minting and the CLI


async def test_mint_token_round_trip(hs_settings: AuthSettings, hs_verifier: TokenVerifier) -> None:
    token = mint_token(
        hs_settings, subject="demo-school", roles=[Role.SCHOOL], urns=["118000"], districts=["Dover"]
    )
    principal = await hs_verifier.verify(token)
    assert principal.subject == "demo-school"
    assert principal.urns == {"118000"}
    assert principal.districts == {"Dover"}


async def test_minted_token_expires(hs_settings: AuthSettings, hs_verifier: TokenVerifier) -> None:
    old = datetime.now(UTC) - timedelta(hours=9)
    with pytest.raises(AuthError, match="expired"):
        await hs_verifier.verify(mint_token(hs_settings, subject="o", roles=["officer"], now=old))


def test_mint_token_refusals(hs_settings: AuthSettings) -> None:
    with pytest.raises(RuntimeError, match="identity provider"):
        mint_token(AuthSettings(jwks_url=JWKS_URL), subject="o", roles=["officer"])
    with pytest.raises(ValueError, match="URN"):
        mint_token(hs_settings, subject="s", roles=["school"])
    with pytest.raises(ValueError, match="6 digits"):
        mint_token(hs_settings, subject="s", roles=["school"], urns=["1180"])
    with pytest.raises(ValueError):
        mint_token(hs_settings, subject="s", roles=["pupil"])


async def test_token_main_prints_a_verifiable_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INCLUSION_AUTH__JWT_SECRET", SECRET)
    monkeypatch.setenv("INCLUSION_AUTH__ISSUER", "cli-test")
    status = token_main(
        [
            "--role",
            "school",
            "--urn",
            "118000",
            "--subject",
            "demo-school",
            "--district",
            "Dover",
            "--ttl-hours",
            "1",
        ]
    )
    assert status == 0
    token = capsys.readouterr().out.strip()
    principal = await TokenVerifier(AuthSettings(jwt_secret=SecretStr(SECRET), issuer="cli-test")).verify(
        token
    )
    assert principal.roles == {Role.SCHOOL} and principal.urns == {"118000"}

    monkeypatch.setenv("INCLUSION_AUTH__JWKS_URL", JWKS_URL)
    assert token_main(["--role", "officer", "--subject", "o"]) == 2
    assert "identity provider" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# FastAPI dependencies


def make_app(settings: AuthSettings, **verifier_kwargs: Any) -> FastAPI:
    app = FastAPI()
    install_token_verifier(app, settings, **verifier_kwargs)

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return {"subject": principal.subject, "roles": sorted(principal.roles)}

    @app.get("/casework")
    async def casework(
        principal: Annotated[Principal, Depends(require_roles(Role.OFFICER, Role.MANAGER))],
    ) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/schools/{urn}/pupils")
    async def school_pupils(urn: str, principal: CurrentPrincipal) -> dict[str, str]:
        ensure_can_see_school(principal, urn)
        return {"urn": urn}

    @app.get("/districts/{district}/cases")
    async def district_cases(district: str, principal: CurrentPrincipal) -> dict[str, str]:
        ensure_in_district(principal, district)
        return {"district": district}

    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_missing_or_invalid_token_is_401(hs_settings: AuthSettings) -> None:
    async with client_for(make_app(hs_settings)) as client:
        response = await client.get("/me")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

        response = await client.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

        response = await client.get("/me", headers=bearer(hs(claims(), key=OTHER_SECRET)))
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert "signature" in response.json()["detail"]

        response = await client.get("/me", headers=bearer(hs(claims(roles=["officer", "admin"]))))
        assert response.status_code == 200
        assert response.json() == {"subject": "officer-1", "roles": ["admin", "officer"]}


async def test_wrong_role_is_403(hs_settings: AuthSettings) -> None:
    school = mint_token(hs_settings, subject="s", roles=["school"], urns=["118000"])
    manager = mint_token(hs_settings, subject="m", roles=["manager"])
    async with client_for(make_app(hs_settings)) as client:
        response = await client.get("/casework", headers=bearer(school))
        assert response.status_code == 403
        assert "manager, officer" in response.json()["detail"]
        assert (await client.get("/casework", headers=bearer(manager))).status_code == 200
        assert (await client.get("/casework")).status_code == 401


async def test_other_schools_records_are_404(hs_settings: AuthSettings) -> None:
    school = mint_token(hs_settings, subject="s", roles=["school"], urns=["118000"])
    officer = mint_token(hs_settings, subject="o", roles=["officer"])
    async with client_for(make_app(hs_settings)) as client:
        assert (await client.get("/schools/118000/pupils", headers=bearer(school))).status_code == 200
        other = await client.get("/schools/118001/pupils", headers=bearer(school))
        assert other.status_code == 404
        assert other.json() == {"detail": "Not Found"}  # same as a record that does not exist
        assert (await client.get("/schools/118001/pupils", headers=bearer(officer))).status_code == 200


async def test_officers_limited_to_districts_get_404_elsewhere(hs_settings: AuthSettings) -> None:
    dover = mint_token(hs_settings, subject="o", roles=["officer"], districts=["Dover"])
    async with client_for(make_app(hs_settings)) as client:
        assert (await client.get("/districts/Dover/cases", headers=bearer(dover))).status_code == 200
        assert (await client.get("/districts/Ashford/cases", headers=bearer(dover))).status_code == 404


async def test_jwks_outage_is_503_not_401(jwks_settings: AuthSettings, k1: SigningKey) -> None:
    server = JWKSServer(keys=[k1.jwk], status=503)
    async with client_for(make_app(jwks_settings, http_client=server.client())) as client:
        response = await client.get("/me", headers=bearer(k1.sign(jwt_claims())))
        assert response.status_code == 503
        server.status = 200
    app = make_app(jwks_settings, http_client=JWKSServer(keys=[k1.jwk]).client())
    async with client_for(app) as client:
        assert (await client.get("/me", headers=bearer(k1.sign(jwt_claims())))).status_code == 200


async def test_verifier_must_be_installed() -> None:
    app = FastAPI()

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match="token_verifier"):
            await client.get("/me", headers=bearer("x.y.z"))
