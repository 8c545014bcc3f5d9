"""Limits, and that hitting one disturbs no other client.

- **413**: every JSON route of every service refuses a body above ``http.max_body_bytes``, whether
  the client declares it (``Content-Length``, refused before reading) or streams it (chunked,
  refused once the limit is crossed); referral-api's bulk routes take more (the bulk limit) and
  refuse above that. The app answers the next client normally.
- **429**: past the rate limit a caller gets 429 ``rate-limited`` with ``Retry-After`` and the
  ``RateLimit-*`` fields; another caller (another token) keeps getting 2xx.
- **408 / slow clients**, on a real uvicorn server: a body that stalls, or drips too slowly,
  answers 408 and the connection is closed, while other clients are served meanwhile; an idle
  keep-alive connection is closed after uvicorn's ``timeout_keep_alive``. (Neither uvicorn nor
  h11 has a request-body read timeout; the kit's ``BodyLimitMiddleware`` supplies it with
  ``http.body_idle_timeout_seconds`` / ``http.body_timeout_seconds``. Slow *headers* are not
  timed out by uvicorn at all: they hold one connection and nothing else - shown below - and the
  gateway's header timeout is what ends them.)
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import insert

from inclusion_kit.auth import Role, mint_token
from inclusion_platform.embedded import SERVICES, ServiceEntry

LIMIT = 4096
BULK_LIMIT = 65_536
URN = "118000"
PATH_VALUES = {"school_urn": URN, "urn": URN}
PUBLIC = {"/healthz", "/readyz"}


def concrete(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: PATH_VALUES.get(m.group(1), "x-0a1b2c3d"), path)


def settings_for(entry: ServiceEntry, tmp_path: Path, **http: Any) -> Any:
    return entry.settings_class(  # type: ignore[call-arg]
        mode="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / (entry.name + '.db')}",
        http={"max_body_bytes": LIMIT, "max_bulk_body_bytes": BULK_LIMIT, **http},
    )


async def prepare(entry: ServiceEntry, settings: Any) -> None:
    kernel = entry.bootstrap(settings)
    await kernel.migrate()
    if entry.name == "referral-api":
        from referral_api.adapters.orm import schools

        async with kernel.engine.begin() as conn:
            await conn.execute(
                insert(schools),
                [
                    {
                        "urn": URN,
                        "laestab": "8862000",
                        "la_code": "886",
                        "name": "Example Primary School",
                        "phase": "primary",
                        "district": "Maidstone",
                        "is_open": True,
                        "updated_at": datetime.now(UTC),
                    }
                ],
            )
    await kernel.dispose()


@asynccontextmanager
async def client_for(entry: ServiceEntry, settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    await prepare(entry, settings)
    app = entry.create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client, app


def bearer(settings: Any, role: str = "admin", subject: str = "limits-admin") -> dict[str, str]:
    token = mint_token(settings.auth, subject=subject, roles=[Role(role)], urns=[URN])
    return {"Authorization": f"Bearer {token}"}


def body_routes(app: Any, media: str) -> list[tuple[str, str]]:
    doc = app.openapi()
    return [
        (method, path)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if media in (op.get("requestBody") or {}).get("content", {})
    ]


def first_list_route(app: Any) -> str:
    doc = app.openapi()
    return next(
        path
        for path, ops in doc["paths"].items()
        if "get" in ops
        and "{" not in path
        and path not in PUBLIC
        and "admin" in ops["get"].get("x-roles", [])
    )


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def chunks(total: int, size: int = 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


# -- 413 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", SERVICES, ids=lambda e: e.name)
async def test_oversized_bodies_are_413_on_every_json_route(entry: ServiceEntry, tmp_path: Path) -> None:
    settings = settings_for(entry, tmp_path, rate_limit_per_minute=0)
    async with client_for(entry, settings) as (client, app):
        headers = {**bearer(settings), "Content-Type": "application/json", "Idempotency-Key": "limits-1"}
        routes = body_routes(app, "application/json")
        # reporting takes no body at all: the limit holds before routing, on any path.
        targets = routes or [("post", first_list_route(app))]
        tried = 0
        for method, path in targets:
            url = concrete(path)
            declared = await client.request(method, url, content=b" " * (LIMIT + 1), headers=headers)
            body = assert_problem(declared, 413)
            assert body["type"].endswith("/payload-too-large")
            tried += 1
            if routes:  # (a route that takes no body answers without reading one: 405)
                streamed = await client.request(method, url, content=chunks(LIMIT * 3), headers=headers)
                assert_problem(streamed, 413)
                tried += 1
        # The limit disturbed nothing: the next request of another client is served.
        other = await client.get(first_list_route(app), headers=bearer(settings, subject="someone-else"))
        assert other.status_code == 200, other.text
    print(f"\n{entry.name}: {tried} oversized requests over {len(targets)} routes, all 413")


async def test_bulk_routes_take_the_bulk_limit_and_refuse_above_it(tmp_path: Path) -> None:
    entry = SERVICES[0]
    assert entry.name == "referral-api"
    settings = settings_for(entry, tmp_path, rate_limit_per_minute=0)
    async with client_for(entry, settings) as (client, app):
        bulk = body_routes(app, "application/x-ndjson") + body_routes(app, "text/csv")
        assert {path for _, path in bulk} == {
            "/attendance/schools/{school_urn}/marks",
            "/roll/schools/{school_urn}/pupils",
            "/schools/import",
        }
        for method, path in bulk:
            media = "text/csv" if path == "/schools/import" else "application/x-ndjson"
            headers = {**bearer(settings), "Content-Type": media}
            url = concrete(path)
            # Above the JSON limit but within the bulk limit: read and answered, not refused.
            within = await client.request(method, url, content=b"\n" * (LIMIT * 4), headers=headers)
            assert within.status_code != 413, (path, within.text)
            assert within.status_code < 500, (path, within.text)
            declared = await client.request(method, url, content=b"\n" * (BULK_LIMIT + 1), headers=headers)
            assert_problem(declared, 413)
            streamed = await client.request(
                method, url, content=chunks(BULK_LIMIT * 2, 8192), headers=headers
            )
            assert_problem(streamed, 413)


# -- 429 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", SERVICES, ids=lambda e: e.name)
async def test_rate_limit_answers_429_with_retry_after_and_spares_other_callers(
    entry: ServiceEntry, tmp_path: Path
) -> None:
    per_minute = 5
    settings = settings_for(entry, tmp_path, rate_limit_per_minute=per_minute)
    async with client_for(entry, settings) as (client, app):
        url = first_list_route(app)
        greedy = bearer(settings, subject="greedy-client")
        polite = bearer(settings, subject="polite-client")
        answers = [await client.get(url, headers=greedy) for _ in range(per_minute)]
        assert [r.status_code for r in answers] == [200] * per_minute, [r.text for r in answers]
        assert answers[-1].headers["RateLimit-Remaining"] == "0"
        refused = await client.get(url, headers=greedy)
        body = assert_problem(refused, 429)
        assert body["type"].endswith("/rate-limited")
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        assert refused.headers["RateLimit-Limit"] == str(per_minute)
        # Another caller is not affected, while the first one is still refused.
        for _ in range(per_minute):
            other = await client.get(url, headers=polite)
            assert other.status_code == 200, other.text
        assert (await client.get(url, headers=greedy)).status_code == 429
        # Health stays exempt: an orchestrator's probes are never rate limited.
        assert (await client.get("/healthz", headers=greedy)).status_code == 200


# -- slow clients, on a real server -----------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def real_server(tmp_path: Path, **http: Any) -> Iterator[tuple[str, Any]]:
    entry = SERVICES[0]  # referral-api: JSON and bulk routes
    settings = settings_for(entry, tmp_path, rate_limit_per_minute=0, **http)
    asyncio.run(prepare(entry, settings))
    app = entry.create_app(settings)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", timeout_keep_alive=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-limits", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(30)


def request_head(path: str, settings: Any, length: int, media: str = "application/json") -> bytes:
    token = bearer(settings)["Authorization"]
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: {token}\r\nContent-Type: {media}\r\n"
        f"Idempotency-Key: slow-1\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def read_answer(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes the connection (or ``timeout``)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            piece = sock.recv(65536)
            if not piece:
                return data, True  # closed by the server
            data += piece
    except TimeoutError:
        return data, False


def served_meanwhile(base: str, settings: Any, times: int = 3) -> list[float]:
    """Other clients' requests, each on its own connection: their status must be 200."""
    seconds = []
    with httpx.Client(base_url=f"http://{base}", timeout=10) as client:
        for _ in range(times):
            started = time.monotonic()
            response = client.get("/schools", headers=bearer(settings, subject="another-client"))
            assert response.status_code == 200, response.text
            seconds.append(time.monotonic() - started)
    return seconds


def test_a_stalled_body_gets_408_and_others_are_served_meanwhile(tmp_path: Path) -> None:
    idle = 1.0
    with real_server(tmp_path, body_idle_timeout_seconds=idle, body_timeout_seconds=30) as (base, settings):
        host, port = base.split(":")
        with socket.create_connection((host, int(port))) as stalled:
            stalled.sendall(request_head("/referrals", settings, 1000) + b'{"kind": "chi')
            started = time.monotonic()
            others = served_meanwhile(base, settings)  # while the body is stalled
            answer, closed = read_answer(stalled, timeout=idle + 10)
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"request-timeout" in answer
        assert closed, "the server keeps a timed-out connection open"
        print(f"\nstalled body: 408 after {waited:.1f} s; others served in {max(others):.3f} s at most")


def test_a_dripping_body_gets_408_when_its_total_wait_runs_out(tmp_path: Path) -> None:
    total = 2.0
    with real_server(tmp_path, body_idle_timeout_seconds=1.0, body_timeout_seconds=total) as (
        base,
        settings,
    ):
        host, port = base.split(":")
        with socket.create_connection((host, int(port))) as drip:
            drip.sendall(request_head("/referrals", settings, 1000))
            started = time.monotonic()
            answer = b""
            drip.settimeout(0.05)
            for _ in range(200):  # one byte every 0.25 s: never idle for 1 s, but slow
                try:
                    drip.sendall(b" ")
                except OSError:
                    break  # the server closed: read what it said
                try:
                    answer += drip.recv(65536)
                except TimeoutError:
                    pass
                if answer:
                    break
                time.sleep(0.25)
            rest, _closed = read_answer(drip, timeout=5)
            answer += rest
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert waited < 30
        served_meanwhile(base, settings, times=1)
        print(f"\ndripping body: 408 after {waited:.1f} s of a {total:.0f} s budget")


def test_idle_keep_alive_connections_are_closed_and_slow_headers_block_no_one(tmp_path: Path) -> None:
    with real_server(tmp_path) as (base, settings):
        host, port = base.split(":")
        # A finished request's connection left idle is closed after timeout_keep_alive (1 s).
        with socket.create_connection((host, int(port))) as idle:
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            first, closed = read_answer(idle, timeout=10)
        assert first.startswith(b"HTTP/1.1 200 "), first[:200]
        assert closed, "an idle keep-alive connection stayed open"
        # A client sending its headers a byte at a time holds its own connection only.
        with socket.create_connection((host, int(port))) as slowloris:
            slowloris.sendall(b"GET /schools HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            for _ in range(3):
                slowloris.sendall(b"a")
                served_meanwhile(base, settings, times=1)
