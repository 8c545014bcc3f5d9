"""Request body limits: 413 problem documents by Content-Length or while streaming; bulk routes
get the larger limit; reads are unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from inclusion_kit.http import BodyLimitMiddleware
from inclusion_kit.problems import MEDIA_TYPE, PROBLEM_BASE, install_problem_handlers

LIMIT = 1_000
BULK_LIMIT = 10_000


class Note(BaseModel):
    text: str


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=LIMIT, bulk_limit=BULK_LIMIT, bulk_prefixes=["/bulk/"])

    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"received": len(body)}

    for path in ("/echo", "/bulk/marks"):
        app.add_api_route(path, echo, methods=["POST", "PUT", "PATCH", "GET", "DELETE"])

    @app.post("/notes")
    async def notes(note: Note) -> dict[str, int]:
        return {"received": len(note.text)}

    @app.get("/read")
    async def read() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _chunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    async def generate() -> AsyncIterator[bytes]:
        sent = 0
        while sent < total:
            chunk = b"x" * min(size, total - sent)
            sent += len(chunk)
            yield chunk

    return generate()


def _assert_413(response: httpx.Response, limit: int, path: str) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json() == {
        "type": PROBLEM_BASE + "payload-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"The request body is larger than this endpoint accepts ({limit} bytes).",
        "instance": path,
    }
    assert int(response.headers["content-length"]) == len(response.content)


# -- by Content-Length --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "size", "status", "limit"),
    [
        ("POST", "/echo", LIMIT - 1, 200, LIMIT),
        ("POST", "/echo", LIMIT, 200, LIMIT),  # exactly the limit passes
        ("POST", "/echo", LIMIT + 1, 413, LIMIT),
        ("PUT", "/echo", LIMIT + 1, 413, LIMIT),
        ("PATCH", "/echo", LIMIT + 1, 413, LIMIT),
        ("POST", "/echo", 50 * LIMIT, 413, LIMIT),
        ("POST", "/bulk/marks", LIMIT + 1, 200, BULK_LIMIT),  # bulk routes get the larger limit
        ("POST", "/bulk/marks", BULK_LIMIT, 200, BULK_LIMIT),
        ("POST", "/bulk/marks", BULK_LIMIT + 1, 413, BULK_LIMIT),
        ("POST", "/bulk", LIMIT + 1, 413, LIMIT),  # not under the prefix
        ("POST", "/echo/bulk/marks", LIMIT + 1, 413, LIMIT),  # prefix only at the start
    ],
)
async def test_content_length_limit(
    client: httpx.AsyncClient, method: str, path: str, size: int, status: int, limit: int
) -> None:
    response = await client.request(method, path, content=b"x" * size)
    if status == 413:
        _assert_413(response, limit, path)
    else:
        assert response.status_code == status
        assert response.json() == {"received": size}


async def test_declared_length_is_refused_before_the_body_is_read(client: httpx.AsyncClient) -> None:
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(3):
            read += 1
            yield b"x" * 10

    response = await client.post("/echo", content=body(), headers={"content-length": str(LIMIT + 1)})
    _assert_413(response, LIMIT, "/echo")
    assert read == 0


# -- streamed (no Content-Length) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "size", "status", "limit"),
    [
        ("/echo", LIMIT - 1, 200, LIMIT),
        ("/echo", LIMIT, 200, LIMIT),
        ("/echo", LIMIT + 1, 413, LIMIT),
        ("/echo", 20 * LIMIT, 413, LIMIT),
        ("/bulk/marks", 5 * LIMIT, 200, BULK_LIMIT),
        ("/bulk/marks", BULK_LIMIT, 200, BULK_LIMIT),
        ("/bulk/marks", BULK_LIMIT + 1, 413, BULK_LIMIT),
    ],
)
async def test_streamed_body_limit(
    client: httpx.AsyncClient, path: str, size: int, status: int, limit: int
) -> None:
    request = client.build_request("POST", path, content=_chunks(size))
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = await client.send(request)
    if status == 413:
        _assert_413(response, limit, path)
    else:
        assert response.status_code == status
        assert response.json() == {"received": size}


@pytest.mark.parametrize(("size", "status"), [(LIMIT - 20, 200), (5 * LIMIT, 413)])
async def test_streamed_body_limit_on_a_model_route(
    client: httpx.AsyncClient, size: int, status: int
) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        async for chunk in _chunks(size):
            yield chunk
        yield b'"}'

    response = await client.post("/notes", content=body(), headers={"content-type": "application/json"})
    if status == 413:
        _assert_413(response, LIMIT, "/notes")
    else:
        assert response.status_code == 200
        assert response.json() == {"received": size}


async def test_model_route_with_content_length_over_the_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/notes", json={"text": "x" * (2 * LIMIT)})
    _assert_413(response, LIMIT, "/notes")


# -- methods without bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "DELETE"])
async def test_methods_without_bodies_are_unaffected(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/echo", headers={"content-length": str(50 * LIMIT)})
    assert response.status_code != 413


async def test_get_is_unaffected(client: httpx.AsyncClient) -> None:
    response = await client.get("/read")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_small_bodies_keep_working_after_a_refusal(client: httpx.AsyncClient) -> None:
    _assert_413(await client.post("/echo", content=_chunks(LIMIT + 1)), LIMIT, "/echo")
    response = await client.post("/echo", content=b"hello")
    assert response.status_code == 200
    assert response.json() == {"received": 5}
