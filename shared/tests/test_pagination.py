"""Keyset pagination with signed cursors: walking every page over ties in updated_at, the
updated_after filter, refused tampered or re-targeted cursors, page size limits. Runs on SQLite
and on the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Integer, String, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inclusion_kit.db.engine import create_engine
from inclusion_kit.db.metadata import make_metadata
from inclusion_kit.pagination import (
    CursorCodec,
    Page,
    PageParams,
    PageRequest,
    Position,
    apply_keyset,
    cursor_key,
    install_pagination,
    pagination,
)
from inclusion_kit.problems import PROBLEM_BASE, install_problem_handlers
from inclusion_kit.settings import ServiceSettings

BASE = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
ROWS = 250
SmallPage = Annotated[PageRequest, Depends(pagination(default_limit=5, max_limit=10))]


class ItemOut(BaseModel):
    id: str
    school: str
    updated_at: datetime


@dataclass
class Harness:
    client: httpx.AsyncClient
    engine: AsyncEngine
    items: Table
    rows: list[dict[str, Any]]


def build(url: str) -> tuple[FastAPI, AsyncEngine, Table]:
    metadata = make_metadata()
    items = Table(
        "items",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("school", String(6), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    )
    engine = create_engine(url)
    app = FastAPI()
    install_problem_handlers(app)
    install_pagination(app, ServiceSettings(mode="test"))

    async def query(page: PageRequest, school: str | None) -> Page[ItemOut]:
        stmt = select(items)
        if school is not None:
            stmt = stmt.where(items.c.school == school)
        stmt = page.apply(stmt, items.c.updated_at, items.c.id, filters={"school": school})
        async with engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return page.page(rows, lambda row: ItemOut.model_validate(row, from_attributes=True))

    @app.get("/items", response_model=Page[ItemOut])
    async def list_items(page: PageParams, school: str | None = None) -> Page[ItemOut]:
        return await query(page, school)

    @app.get("/other-items", response_model=Page[ItemOut])
    async def list_other(page: PageParams, school: str | None = None) -> Page[ItemOut]:
        return await query(page, school)

    @app.get("/small-items", response_model=Page[ItemOut])
    async def list_small(page: SmallPage) -> Page[ItemOut]:
        return await query(page, None)

    return app, engine, items


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    app, engine, items = build(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(items.metadata.create_all)
        # 25 distinct instants, 10 rows each: ties in updated_at everywhere.
        rows = [
            {
                "id": str(uuid.uuid4()),
                "school": "100001" if n % 2 else "100002",
                "updated_at": BASE + timedelta(minutes=n // 10, microseconds=0),
            }
            for n in range(ROWS)
        ]
        await conn.execute(insert(items), rows)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        try:
            yield Harness(client, engine, items, rows)
        finally:
            await engine.dispose()


def order(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in sorted(rows, key=lambda r: (r["updated_at"], r["id"]))]


async def walk(client: httpx.AsyncClient, url: str) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        response = await client.get(next_url)
        assert response.status_code == 200, response.text
        body = response.json()
        ids.extend(item["id"] for item in body["items"])
        next_url = body["next"]
        pages += 1
        assert pages < 100
    return ids, pages


async def test_walks_every_row_once_in_keyset_order_over_ties(harness: Harness) -> None:
    ids, pages = await walk(harness.client, "/items?limit=40")
    assert pages == 7  # 6 x 40 + 10
    assert ids == order(harness.rows)

    ids, pages = await walk(harness.client, "/items")  # default page size 100
    assert pages == 3 and ids == order(harness.rows)


async def test_next_is_an_absolute_url_keeping_the_query(harness: Harness) -> None:
    first = (await harness.client.get("/items?limit=10&school=100001")).json()
    parts = urlsplit(first["next"])
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "test", "/items")
    query = parse_qs(parts.query)
    assert query["limit"] == ["10"] and query["school"] == ["100001"] and len(query["cursor"]) == 1
    assert all(item["school"] == "100001" for item in first["items"])
    ids, _ = await walk(harness.client, "/items?limit=10&school=100001")
    assert ids == order([r for r in harness.rows if r["school"] == "100001"])


async def test_last_page_has_no_next(harness: Harness) -> None:
    body = (await harness.client.get("/items?limit=1000")).json()
    assert len(body["items"]) == ROWS and body["next"] is None
    exact = (await harness.client.get("/items?limit=250")).json()
    assert len(exact["items"]) == ROWS and exact["next"] is None


async def test_updated_after_returns_only_later_rows_across_pages(harness: Harness) -> None:
    since = BASE + timedelta(minutes=19)  # rows of minutes 20..24 are strictly later: 50 rows
    url = "/items?" + httpx.QueryParams({"updated_after": since.isoformat(), "limit": "15"}).__str__()
    ids, pages = await walk(harness.client, url)
    assert ids == order([r for r in harness.rows if r["updated_at"] > since])
    assert len(ids) == 50 and pages == 4

    naive = await harness.client.get("/items", params={"updated_after": "2025-01-06T08:00:00"})
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["pointer"] == "query/updated_after"


async def test_a_row_updated_during_the_walk_moves_to_the_end_and_nothing_is_skipped(
    harness: Harness,
) -> None:
    first = (await harness.client.get("/items?limit=50")).json()
    moved = first["items"][0]["id"]
    async with harness.engine.begin() as conn:
        await conn.execute(
            update(harness.items)
            .where(harness.items.c.id == moved)
            .values(updated_at=BASE + timedelta(hours=1))
        )
    ids = [item["id"] for item in first["items"]]
    rest, _ = await walk(harness.client, first["next"])
    ids.extend(rest)
    assert set(ids) == {r["id"] for r in harness.rows}
    assert ids[-1] == moved and ids.count(moved) == 2  # seen before and after its update


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "many"])
async def test_page_size_outside_the_limits_is_422(harness: Harness, limit: str) -> None:
    response = await harness.client.get("/items", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "query/limit"


async def test_an_endpoint_may_choose_its_own_limits(harness: Harness) -> None:
    body = (await harness.client.get("/small-items")).json()
    assert len(body["items"]) == 5
    assert (await harness.client.get("/small-items", params={"limit": "11"})).status_code == 422


def _assert_invalid_cursor(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "invalid-cursor"
    assert body["errors"][0]["pointer"] == "query/cursor"


async def test_tampered_or_foreign_cursors_are_refused(harness: Harness) -> None:
    first = (await harness.client.get("/items?limit=10")).json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    payload, mac = cursor.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    forged = CursorCodec("someone else's key").encode(
        Position(BASE, "00000000-0000-0000-0000-000000000000"),
        {"route": "/items", "updated_after": None, "filters": {"school": None}},
    )
    for bad in (f"{flipped}.{mac}", f"{payload}.{mac[:-2]}", payload, "not-a-cursor", "a.b.c", "", forged):
        _assert_invalid_cursor(await harness.client.get("/items", params={"limit": "10", "cursor": bad}))
    too_long = await harness.client.get("/items", params={"cursor": "x" * 2000})
    assert too_long.status_code == 422  # the query parameter's own length limit


async def test_a_cursor_only_works_with_the_query_it_came_from(harness: Harness) -> None:
    first = (await harness.client.get("/items", params={"limit": "10", "school": "100001"})).json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    same = await harness.client.get("/items", params={"limit": "20", "school": "100001", "cursor": cursor})
    assert same.status_code == 200  # page size may change between pages
    for params, path in (
        ({"school": "100002"}, "/items"),
        ({}, "/items"),
        ({"school": "100001", "updated_after": BASE.isoformat()}, "/items"),
        ({"school": "100001"}, "/other-items"),
    ):
        _assert_invalid_cursor(await harness.client.get(path, params={**params, "cursor": cursor}))


def test_apply_keyset_coerces_integer_ids_and_rejects_strings_for_them() -> None:
    metadata = make_metadata()
    t = Table(
        "t",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("updated_at", DateTime(timezone=True)),
    )
    stmt = apply_keyset(select(t), t.c.updated_at, t.c.id, after=Position(BASE, 7), limit=3)
    sql = str(stmt.compile(compile_kwargs={"literal_binds": False}))
    assert "(t.updated_at, t.id) >" in sql and "ORDER BY t.updated_at ASC, t.id ASC" in sql
    params = stmt.compile().params
    assert 7 in params.values() and 4 in params.values()  # the id as an int; limit + 1
    from inclusion_kit.problems import ProblemError

    with pytest.raises(ProblemError) as refused:
        apply_keyset(select(t), t.c.updated_at, t.c.id, after=Position(BASE, "seven"))
    assert refused.value.slug == "invalid-cursor"


def test_cursor_key_comes_from_settings_and_production_requires_one() -> None:
    assert cursor_key(ServiceSettings(mode="local"))  # derived locally
    assert cursor_key(ServiceSettings(mode="test", http={"cursor_secret": "s"})) == b"s"
    production: dict[str, Any] = {
        "mode": "production",
        "database_url": "postgresql://u:p@db/x",
        "bus": "kafka",
        "auth": {"jwks_url": "https://idp.example/jwks"},
    }
    with pytest.raises(RuntimeError, match="CURSOR_SECRET"):
        cursor_key(ServiceSettings(**production))
    with pytest.raises(RuntimeError, match="32 characters"):
        cursor_key(ServiceSettings(**production, http={"cursor_secret": "short"}))
    secret = "c" * 40
    assert cursor_key(ServiceSettings(**production, http={"cursor_secret": secret})) == secret.encode()
