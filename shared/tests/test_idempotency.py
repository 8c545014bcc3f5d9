"""Idempotency-Key: the first answer is stored with its effects in one transaction and replayed
verbatim; reuse with another body is 422, a concurrent duplicate 409, a missing key 428; keys
expire. Every test runs on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel
from sqlalchemy import Column, MetaData, String, Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from inclusion_kit.db.engine import create_engine, session_factory
from inclusion_kit.db.metadata import KitTables, make_metadata
from inclusion_kit.idempotency import (
    IDEMPOTENCY_RESPONSES,
    IdempotencyPolicy,
    idempotency_openapi,
    idempotent,
    purge_idempotency_keys,
    request_fingerprint,
)
from inclusion_kit.messaging.unit_of_work import UnitOfWork
from inclusion_kit.problems import MEDIA_TYPE, PROBLEM_BASE, install_problem_handlers


class FakeClock:
    def __init__(self) -> None:
        self.value = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.value

    def advance(self, delta: timedelta) -> None:
        self.value += delta


class NoteIn(BaseModel):
    text: str
    urgent: bool = False


class NoteOut(BaseModel):
    id: str
    text: str


@dataclass
class Harness:
    client: httpx.AsyncClient
    engine: AsyncEngine
    tables: KitTables
    notes: Table
    clock: FakeClock
    # Test hooks read by the route.
    fail_before_commit: bool = False
    claimed: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event | None = None

    async def count(self, table: Table) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def build(url: str) -> tuple[FastAPI, AsyncEngine, KitTables, Table, MetaData]:
    metadata = make_metadata()
    tables = KitTables(metadata)
    notes = Table("notes", metadata, Column("id", String(36), primary_key=True), Column("text", String(200)))
    engine = create_engine(url)
    sessions = session_factory(engine)
    app = FastAPI()
    install_problem_handlers(app)

    async def create_note(body: NoteIn, request: Request, required: bool) -> Response:
        harness: Harness = request.app.state.harness
        caller = request.headers.get("X-Caller", "school-a")
        async with (
            UnitOfWork(sessions, tables, "inclusion/test") as uow,
            idempotent(request, uow, caller, required=required) as guard,
        ):
            if guard.replay is not None:
                return guard.replay
            harness.claimed.set()
            if harness.gate is not None:
                await harness.gate.wait()  # hold the transaction open: "in progress"
            note_id = str(uuid.uuid4())
            await uow.session.execute(insert(notes).values(id=note_id, text=body.text))
            response = await guard.respond(
                201, NoteOut(id=note_id, text=body.text), headers={"Location": f"/notes/{note_id}"}
            )
            if harness.fail_before_commit:
                raise RuntimeError("crash after the effect, before the commit")
            await uow.commit()
            return response

    @app.post(
        "/notes",
        status_code=201,
        response_model=NoteOut,
        responses=IDEMPOTENCY_RESPONSES,
        openapi_extra=idempotency_openapi(required=True),
    )
    async def post_note(body: NoteIn, request: Request) -> Response:
        return await create_note(body, request, required=True)

    @app.post("/optional-notes", status_code=201, response_model=NoteOut)
    async def post_optional(body: NoteIn, request: Request) -> Response:
        return await create_note(body, request, required=False)

    return app, engine, tables, notes, metadata


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest) -> str:
    # A sync fixture: pg_url (async) is set up by pytest-asyncio outside a running loop.
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    app, engine, tables, notes, metadata = build(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    clock = FakeClock()
    app.state.idempotency = IdempotencyPolicy(clock=clock)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        h = Harness(client=client, engine=engine, tables=tables, notes=notes, clock=clock)
        app.state.harness = h
        try:
            yield h
        finally:
            await engine.dispose()


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_first_request_stores_its_answer_and_a_retry_replays_it(harness: Harness) -> None:
    headers = key()
    first = await harness.client.post("/notes", json={"text": "hello"}, headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert first.headers["Location"] == f"/notes/{first.json()['id']}"

    async with harness.engine.connect() as conn:
        row = (await conn.execute(select(harness.tables.idempotency_keys))).one()
    assert row.principal == "school-a" and row.key == headers["Idempotency-Key"]
    assert row.completed and row.status_code == 201 and bytes(row.response_body) == first.content
    assert row.method == "POST" and row.path == "/notes"
    assert row.request_hash == request_fingerprint(b'{"text":"hello"}')
    assert row.response_headers == {"Location": first.headers["Location"], "Content-Type": "application/json"}

    retry = await harness.client.post("/notes", json={"text": "hello"}, headers=headers)
    assert retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Content-Type"] == first.headers["Content-Type"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert await harness.count(harness.notes) == 1  # the retry did nothing


async def test_retry_with_the_same_json_in_another_layout_replays(harness: Harness) -> None:
    headers = {**key(), "Content-Type": "application/json"}
    first = await harness.client.post("/notes", content=b'{"text": "a", "urgent": true}', headers=headers)
    retry = await harness.client.post("/notes", content=b'{ "urgent":true,"text":"a" }', headers=headers)
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert await harness.count(harness.notes) == 1


async def test_same_key_with_a_different_body_is_422(harness: Harness) -> None:
    headers = key()
    assert (await harness.client.post("/notes", json={"text": "one"}, headers=headers)).status_code == 201
    reused = await harness.client.post("/notes", json={"text": "two"}, headers=headers)
    assert reused.status_code == 422
    assert reused.headers["Content-Type"] == MEDIA_TYPE
    assert reused.json()["type"] == PROBLEM_BASE + "idempotency-key-reused"
    # ... and on another endpoint with the same body.
    elsewhere = await harness.client.post("/optional-notes", json={"text": "one"}, headers=headers)
    assert elsewhere.status_code == 422
    assert elsewhere.json()["type"] == PROBLEM_BASE + "idempotency-key-reused"
    assert await harness.count(harness.notes) == 1


async def test_keys_are_scoped_per_caller(harness: Harness) -> None:
    headers = key()
    a = await harness.client.post("/notes", json={"text": "x"}, headers={**headers, "X-Caller": "school-a"})
    b = await harness.client.post("/notes", json={"text": "x"}, headers={**headers, "X-Caller": "school-b"})
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b.headers and a.json()["id"] != b.json()["id"]
    assert await harness.count(harness.notes) == 2


async def test_missing_key_is_428_when_required_and_optional_elsewhere(harness: Harness) -> None:
    missing = await harness.client.post("/notes", json={"text": "x"})
    assert missing.status_code == 428
    assert missing.json()["type"] == PROBLEM_BASE + "idempotency-key-required"
    assert await harness.count(harness.notes) == 0

    optional = await harness.client.post("/optional-notes", json={"text": "x"})
    assert optional.status_code == 201 and optional.headers["Location"].startswith("/notes/")
    assert await harness.count(harness.notes) == 1
    assert await harness.count(harness.tables.idempotency_keys) == 0


@pytest.mark.parametrize("bad", ["", "x" * 201, "caf\u00e9", "two words"])
async def test_malformed_key_is_a_field_problem(harness: Harness, bad: str) -> None:
    response = await harness.client.post(
        "/notes", json={"text": "x"}, headers={b"Idempotency-Key": bad.encode()}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "header/idempotency-key"
    assert await harness.count(harness.notes) == 0


async def test_structured_field_string_key_names_the_same_key(harness: Harness) -> None:
    value = str(uuid.uuid4())
    first = await harness.client.post("/notes", json={"text": "x"}, headers={"Idempotency-Key": f'"{value}"'})
    retry = await harness.client.post("/notes", json={"text": "x"}, headers={"Idempotency-Key": value})
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.content == first.content


async def test_effect_and_stored_answer_roll_back_together(harness: Harness) -> None:
    headers = key()
    harness.fail_before_commit = True
    crashed = await harness.client.post("/notes", json={"text": "x"}, headers=headers)
    assert crashed.status_code == 500
    assert await harness.count(harness.notes) == 0
    assert await harness.count(harness.tables.idempotency_keys) == 0

    harness.fail_before_commit = False
    retry = await harness.client.post("/notes", json={"text": "x"}, headers=headers)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers  # ran afresh
    assert await harness.count(harness.notes) == 1
    assert await harness.count(harness.tables.idempotency_keys) == 1


async def test_keys_expire_and_are_purged(harness: Harness) -> None:
    headers = key()
    assert (await harness.client.post("/notes", json={"text": "one"}, headers=headers)).status_code == 201
    other = key()
    harness.clock.advance(timedelta(hours=23))
    assert (await harness.client.post("/notes", json={"text": "later"}, headers=other)).status_code == 201

    harness.clock.advance(timedelta(hours=2))  # the first key is 25 h old, the second 2 h
    # An expired key starts afresh, even with another body.
    fresh = await harness.client.post("/notes", json={"text": "two"}, headers=headers)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert await harness.count(harness.notes) == 3

    harness.clock.advance(timedelta(hours=23))  # now the second key (25 h) has expired too
    purged = await purge_idempotency_keys(harness.engine, harness.tables, now=harness.clock.now())
    assert purged == 1
    async with harness.engine.connect() as conn:
        keys = (await conn.execute(select(harness.tables.idempotency_keys.c.key))).scalars().all()
    assert keys == [headers["Idempotency-Key"]]


async def _in_flight(harness: Harness, headers: dict[str, str]) -> asyncio.Task[httpx.Response]:
    harness.gate = asyncio.Event()
    harness.claimed.clear()
    first = asyncio.create_task(harness.client.post("/notes", json={"text": "slow"}, headers=headers))
    await asyncio.wait_for(harness.claimed.wait(), 10)
    return first


@pytest.mark.integration
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_concurrent_duplicate_is_409_on_postgres(harness: Harness) -> None:
    headers = key()
    first = await _in_flight(harness, headers)
    try:
        started = asyncio.get_running_loop().time()
        duplicate = await harness.client.post("/notes", json={"text": "slow"}, headers=headers)
        waited = asyncio.get_running_loop().time() - started
        assert duplicate.status_code == 409, duplicate.text
        assert duplicate.json()["type"] == PROBLEM_BASE + "idempotency-key-in-progress"
        assert duplicate.headers["Retry-After"] == "1"
        assert waited < 2  # the policy's short lock wait, not the first request's duration
    finally:
        assert harness.gate is not None
        harness.gate.set()
    done = await first
    assert done.status_code == 201
    harness.gate = None
    retry = await harness.client.post("/notes", json={"text": "slow"}, headers=headers)
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.content == done.content
    assert await harness.count(harness.notes) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_concurrent_duplicate_queues_and_replays_on_sqlite(harness: Harness) -> None:
    headers = key()
    first = await _in_flight(harness, headers)
    duplicate = asyncio.create_task(harness.client.post("/notes", json={"text": "slow"}, headers=headers))
    await asyncio.sleep(0.2)
    assert not duplicate.done()  # waiting for the writer lock held by the first
    assert harness.gate is not None
    harness.gate.set()
    done, replayed = await first, await duplicate
    assert done.status_code == 201 and replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.content == done.content
    assert await harness.count(harness.notes) == 1


async def test_an_uncommitted_claim_left_committed_reads_as_in_progress(harness: Harness) -> None:
    # A row committed without an answer (e.g. written by an older release) blocks its key as
    # "in progress" until it expires, rather than running the write twice.
    value = str(uuid.uuid4())
    async with harness.engine.begin() as conn:
        await conn.execute(
            insert(harness.tables.idempotency_keys).values(
                principal="school-a",
                key=value,
                method="POST",
                path="/notes",
                request_hash=request_fingerprint(b'{"text":"x"}'),
                created_at=harness.clock.now(),
                completed=False,
            )
        )
    response = await harness.client.post("/notes", json={"text": "x"}, headers={"Idempotency-Key": value})
    assert response.status_code == 409
    assert await harness.count(harness.notes) == 0


def test_openapi_documents_the_header_and_problems() -> None:
    app, *_ = build("sqlite+aiosqlite://")
    operation: dict[str, Any] = app.openapi()["paths"]["/notes"]["post"]
    header = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert header and header[0]["required"] is True and header[0]["in"] == "header"
    assert {"409", "422", "428"} <= set(operation["responses"])


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        IdempotencyPolicy(ttl=timedelta(0))
    with pytest.raises(ValueError):
        IdempotencyPolicy(lock_wait=timedelta(0))


def test_fingerprint_is_canonical_for_json_only() -> None:
    assert request_fingerprint(b'{"b":1,"a":[1,2]}') == request_fingerprint(b'{ "a": [1, 2], "b": 1 }')
    assert request_fingerprint(b'{"a":[2,1]}') != request_fingerprint(b'{"a":[1,2]}')
    assert request_fingerprint(b"a,b", "text/csv") != request_fingerprint(b"a, b", "text/csv")
    assert request_fingerprint(b"") == request_fingerprint(b"")


@pytest.mark.integration
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_short_lock_wait_is_restored_after_the_claim(harness: Harness) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/notes",
        "query_string": b"",
        "headers": [(b"idempotency-key", b"k-1")],
        "app": FastAPI(),
    }
    request = Request(scope)
    async with (
        UnitOfWork(session_factory(harness.engine), harness.tables, "inclusion/test") as uow,
        idempotent(request, uow, "school-a", request_hash=request_fingerprint(b"{}")) as guard,
    ):
        assert guard.replay is None and guard.key == "k-1"
        assert await uow.session.scalar(text("SHOW lock_timeout")) == "0"  # the server default
        await guard.respond(204)
        await uow.commit()
    assert await harness.count(harness.tables.idempotency_keys) == 1
