"""Rate limiting: a burst up to the limit passes, the next request gets a 429 problem with
Retry-After and RateLimit-* headers, buckets refill with time, callers have separate buckets
(verified token subject, else client address), operations paths are exempt."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from inclusion_kit.auth import CurrentPrincipal, install_token_verifier, mint_token
from inclusion_kit.problems import MEDIA_TYPE, PROBLEM_BASE, install_problem_handlers
from inclusion_kit.ratelimit import RateLimitMiddleware, TokenBucketLimiter
from inclusion_kit.settings import AuthSettings

AUTH = AuthSettings()


class FakeClock:
    def __init__(self) -> None:
        self.value = 1_000.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


def make_app(clock: FakeClock, *, per_minute: int = 60, burst: int | None = None) -> FastAPI:
    app = FastAPI()
    install_token_verifier(app, AUTH)
    install_problem_handlers(app)
    app.add_middleware(RateLimitMiddleware, per_minute=per_minute, burst=burst, clock=clock)

    @app.get("/things")
    async def things() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/mine")
    async def mine(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    for path in ("/healthz", "/readyz", "/metrics"):
        app.add_api_route(path, things, methods=["GET"])
    return app


def client_for(app: FastAPI, address: str = "192.0.2.10") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def bearer(subject: str) -> dict[str, str]:
    token = mint_token(AUTH, subject=subject, roles=["officer"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app(clock, per_minute=60, burst=5)) as c:
        yield c


async def test_burst_passes_then_429_with_retry_after_and_headers(client: httpx.AsyncClient) -> None:
    for remaining in (4, 3, 2, 1, 0):
        ok = await client.get("/things")
        assert ok.status_code == 200
        assert ok.headers["RateLimit-Limit"] == "5"
        assert ok.headers["RateLimit-Remaining"] == str(remaining)
        assert ok.headers["RateLimit-Policy"] == "60;w=60"
    refused = await client.get("/things")
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == MEDIA_TYPE
    assert refused.json()["type"] == PROBLEM_BASE + "rate-limited"
    assert refused.json()["status"] == 429
    assert refused.headers["Retry-After"] == "1"  # 60 a minute: a token a second
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Reset"] == "5"  # until the bucket of 5 is full again


async def test_bucket_refills_with_time(client: httpx.AsyncClient, clock: FakeClock) -> None:
    for _ in range(5):
        assert (await client.get("/things")).status_code == 200
    assert (await client.get("/things")).status_code == 429
    clock.advance(0.5)
    half = await client.get("/things")
    assert half.status_code == 429 and half.headers["Retry-After"] == "1"
    clock.advance(0.5)
    assert (await client.get("/things")).status_code == 200  # one token back
    assert (await client.get("/things")).status_code == 429
    clock.advance(60)  # capped at the bucket size, not 60 tokens
    statuses = [(await client.get("/things")).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


async def test_retry_after_is_whole_seconds_until_the_next_token(clock: FakeClock) -> None:
    async with client_for(make_app(clock, per_minute=6, burst=1)) as c:  # a token every 10 s
        assert (await c.get("/things")).status_code == 200
        clock.advance(2.5)
        refused = await c.get("/things")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "8"  # ceil(7.5)
        clock.advance(7.5)
        assert (await c.get("/things")).status_code == 200


async def test_each_principal_has_its_own_bucket(client: httpx.AsyncClient) -> None:
    alice, bob = bearer("alice"), bearer("bob")
    for _ in range(5):
        assert (await client.get("/mine", headers=alice)).status_code == 200
    assert (await client.get("/mine", headers=alice)).status_code == 429
    # Another token for the same subject shares the bucket...
    assert (await client.get("/mine", headers=bearer("alice"))).status_code == 429
    # ... another subject, and unauthenticated callers from the same address, do not.
    assert (await client.get("/mine", headers=bob)).status_code == 200
    assert (await client.get("/things")).status_code == 200


async def test_unauthenticated_callers_are_limited_by_address(clock: FakeClock) -> None:
    app = make_app(clock, per_minute=60, burst=2)
    async with client_for(app, "192.0.2.1") as one, client_for(app, "192.0.2.2") as two:
        assert [(await one.get("/things")).status_code for _ in range(3)] == [200, 200, 429]
        # An invalid token does not buy a fresh bucket: it counts against the address.
        invalid = await one.get("/things", headers={"Authorization": "Bearer not.a.token"})
        assert invalid.status_code == 429
        assert (await two.get("/things")).status_code == 200


async def test_operations_paths_are_exempt(client: httpx.AsyncClient) -> None:
    for _ in range(6):
        await client.get("/things")
    assert (await client.get("/things")).status_code == 429
    for path in ("/healthz", "/readyz", "/metrics"):
        for _ in range(10):
            response = await client.get(path)
            assert response.status_code == 200
            assert "RateLimit-Limit" not in response.headers


async def test_zero_turns_the_limiter_off(clock: FakeClock) -> None:
    async with client_for(make_app(clock, per_minute=0)) as c:
        for _ in range(20):
            response = await c.get("/things")
            assert response.status_code == 200 and "RateLimit-Limit" not in response.headers


def test_default_burst_is_a_minute_of_requests_and_idle_buckets_are_forgotten() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(600, clock=clock)
    decisions = [limiter.take("a") for _ in range(601)]
    assert all(d.allowed for d in decisions[:600]) and not decisions[600].allowed
    assert decisions[600].retry_after == 1
    limiter.take("b")
    assert len(limiter) == 2
    clock.advance(61)  # both buckets are full again: same as no bucket
    limiter.take("c")
    assert len(limiter) == 1
    with pytest.raises(ValueError):
        TokenBucketLimiter(0)
