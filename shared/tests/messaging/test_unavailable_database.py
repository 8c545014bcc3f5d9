"""An unavailable database spends none of a message's attempts (found by bench/chaos.py).

A PostgreSQL restart of a few seconds made the reporting consumer exhaust its retries on the event
it held and dead-letter it: the read model missed that event until a dlt-replay. Failures that say
the database is down (refused or lost connections, "starting up", shutdown) are now retried for as
long as they last; failures of the message itself are still bounded and dead-lettered.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from inclusion_kit.db.engine import create_engine
from inclusion_kit.messaging.availability import infrastructure_unavailable
from inclusion_kit.messaging.dispatch import Failure, FailureKind, Outcome, TransientError

from .chain import Side, consumer_side, count_rows, tally
from .test_dispatch import Script, dispatcher, note


@pytest.fixture
async def side(tmp_path: Path) -> AsyncIterator[Side]:
    s = consumer_side(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    await s.create()
    yield s
    await s.engine.dispose()


class _PgError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class InterfaceError(Exception):  # the name asyncpg (and SQLAlchemy's adaptation) use
    pass


def _wrapped(sqlstate: str, message: str) -> DBAPIError:
    return DBAPIError("SELECT 1", {}, _PgError(message, sqlstate))


UNAVAILABLE = [
    ConnectionRefusedError(111, "Connect call failed"),
    ConnectionResetError("reset by peer"),
    DBAPIError("SELECT 1", {}, Exception("closed"), connection_invalidated=True),
    _wrapped("57P03", "the database system is starting up"),
    _wrapped("57P01", "terminating connection due to administrator command"),
    _wrapped("08006", "connection failure"),
    InterfaceError("connection is closed"),
]
OF_THE_MESSAGE = [
    TransientError("busy"),
    RuntimeError("a bug"),
    IntegrityError("INSERT", {}, _PgError("duplicate key", "23505")),
    OperationalError("SELECT 1", {}, _PgError("deadlock detected", "40P01")),
]


@pytest.mark.parametrize("exc", UNAVAILABLE, ids=lambda e: type(e).__name__)
def test_outage_errors_are_recognised(exc: BaseException) -> None:
    assert infrastructure_unavailable(exc)
    try:
        raise RuntimeError("while handling") from exc
    except RuntimeError as outer:
        assert infrastructure_unavailable(outer)  # also when wrapped by a handler


@pytest.mark.parametrize("exc", OF_THE_MESSAGE, ids=lambda e: type(e).__name__)
def test_failures_of_the_message_are_not(exc: BaseException) -> None:
    assert not infrastructure_unavailable(exc)


async def test_a_real_refused_connection_is_recognised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        engine = create_engine(f"postgresql+asyncpg://u:p@127.0.0.1:{port}/db")
        try:
            with pytest.raises(Exception) as caught:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
    assert infrastructure_unavailable(caught.value)


async def test_an_outage_longer_than_the_retry_budget_dead_letters_nothing(side: Side) -> None:
    outage = [UNAVAILABLE[i % len(UNAVAILABLE)] for i in range(10)]  # 10 failures, 3 attempts allowed
    handler = Script(side, *outage)
    d, slept = dispatcher(side, handler, max_attempts=3)
    assert await d.process(note()) is Outcome.APPLIED
    assert handler.calls == 11 and len(slept) == 10
    assert all(0.05 <= s <= 0.3 for s in slept)  # the same capped backoff
    assert await tally(side, "child-1") == 1
    assert await count_rows(side, side.tables.inbox) == 1


async def test_failures_of_the_message_still_exhaust_around_an_outage(side: Side) -> None:
    # The outage's failure is not counted; the message's own three are, and then it goes.
    outage = ConnectionRefusedError(111, "refused")
    handler = Script(side, TransientError("1"), outage, TransientError("2"), TransientError("3"), outage)
    d, _ = dispatcher(side, handler, max_attempts=3)
    result = await d.process(note())
    assert isinstance(result, Failure)
    assert (result.kind, result.reason, result.attempts) == (FailureKind.TRANSIENT, "retries-exhausted", 4)
    assert handler.calls == 4
    assert await count_rows(side, side.tables.inbox) == 0


class Outage:
    """A TCP proxy in front of the test database: ``cut()`` drops every connection and refuses new
    ones, as a restarting server does, without touching the (shared) server itself."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _link(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.target)
        self.links.update({client_w, server_w})

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.links:
            w.transport.abort()
        self.links.clear()
        await self.server.wait_closed()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for w in self.links:
            w.transport.abort()


@pytest.mark.integration
async def test_a_real_database_outage_dead_letters_nothing(pg_url: str) -> None:
    """Against real PostgreSQL behind a proxy: a 2 s outage, 10x the retry budget, mid-stream."""
    from datetime import UTC, datetime

    from sqlalchemy.engine import make_url

    from inclusion_kit.contracts import Envelope
    from inclusion_kit.messaging.dispatch import Delivery, Dispatcher, HandlerContext, RetryPolicy
    from inclusion_kit.messaging.unit_of_work import UnitOfWork

    from .chain import REGISTRY, NoteWritten

    url = make_url(pg_url)
    proxy = Outage(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    direct = consumer_side(pg_url)
    await direct.create()
    await direct.engine.dispose()
    side = consumer_side(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))

    async def handler(event: object, ctx: HandlerContext[UnitOfWork]) -> None:
        assert isinstance(event, NoteWritten)
        await ctx.uow.session.execute(
            side.extra["tallies"].insert().values(child_ref=event.child_ref, count=1)
        )
        await asyncio.sleep(0.02)

    d = Dispatcher(
        "outage-test",
        REGISTRY,
        {NoteWritten.event_type: handler},
        lambda: side.uow(),
        RetryPolicy(max_attempts=3, backoff_initial=0.05, backoff_max=0.2),  # ~0.15 s of retries
    )
    results: list[object] = []

    async def consume() -> None:
        for i in range(40):
            event = NoteWritten(
                child_ref=f"c{i}",
                aggregate_id="n",
                aggregate_version=1,
                occurred_at=datetime.now(UTC),
                text="x",
            )
            results.append(
                await d.process(Delivery(Envelope.wrap(event, source="inclusion/t", event_id=f"e{i}")))
            )

    try:
        task = asyncio.create_task(consume())
        while len(results) < 10:
            await asyncio.sleep(0.01)
        await proxy.cut()
        await asyncio.sleep(2.0)
        await proxy.start()  # the same port again: the server is back
        await asyncio.wait_for(task, 60)
        assert [r for r in results if isinstance(r, Failure)] == []
        assert await count_rows(side, side.extra["tallies"]) == 40
        assert await count_rows(side, side.tables.inbox) == 40
    finally:
        await side.engine.dispose()
        await proxy.stop()


async def _relay_lock_holders(pg_url: str, source: str) -> int:
    import asyncpg
    from sqlalchemy.engine import make_url

    from inclusion_kit.messaging.relay import advisory_lock_key

    key = advisory_lock_key(source) & 0xFFFFFFFFFFFFFFFF
    conn = await asyncpg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(False))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = $1 AND objid = $2 AND objsubid = 1",
                key >> 32,
                key & 0xFFFFFFFF,
            )
        )
    finally:
        await conn.close()


@pytest.mark.integration
async def test_the_relay_takes_its_lock_again_after_an_outage_and_stops_cleanly(pg_url: str) -> None:
    """A database restart ends the session that held the relay's advisory lock. The relay must
    notice, take the lock again once the database is back (else a standby could take it too and
    two relays would interleave a child's events), and a later stop must not fail on the dead
    connection (the worker exited 1 on SIGTERM after any database restart)."""
    from sqlalchemy.engine import make_url

    from inclusion_kit.messaging.relay import OutboxRelay
    from inclusion_kit.testing.fakes import RecordingPublisher

    from .chain import producer_side, write_note

    url = make_url(pg_url)
    proxy = Outage(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    direct = producer_side(pg_url)
    await direct.create()
    side = producer_side(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    source = "inclusion/test-producer"
    publisher = RecordingPublisher()
    relay = OutboxRelay(
        side.engine, side.tables, publisher, source=source, poll_interval=0.05, lock_retry=0.1
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))

    async def until(condition: Any, timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while not await condition():
                await asyncio.sleep(0.05)

    async def sent(n: int) -> bool:
        return len(publisher.sent) >= n

    async def locked() -> bool:
        return await _relay_lock_holders(pg_url, source) == 1

    try:
        await until(locked)
        await write_note(direct, "child-1", "before")
        await until(lambda: sent(1))
        await proxy.cut()  # the database "restarts": every session ends, its locks with it
        await until(lambda: _unlocked(pg_url, source))
        await asyncio.sleep(1.0)
        await proxy.start()
        await write_note(direct, "child-2", "after")
        await until(lambda: sent(2))
        await until(locked)  # the relay holds its lock again
        stop.set()
        await asyncio.wait_for(task, 20)  # and stops without an error
    finally:
        stop.set()
        if not task.done():
            task.cancel()
        await side.engine.dispose()
        await direct.engine.dispose()
        await proxy.stop()


async def _unlocked(pg_url: str, source: str) -> bool:
    return await _relay_lock_holders(pg_url, source) == 0
