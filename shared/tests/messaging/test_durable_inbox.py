"""A unit of work's commit is durable when it returns (found by bench/chaos.py).

The consume loop commits Kafka offsets right after the message's transaction commits, and an API
answers 2xx right after its unit of work commits. With the server's ``synchronous_commit = off``
(what deploy/local/postgres.sh configures) a commit returns before its WAL is flushed, so a
PostgreSQL crash lost inbox rows and effects whose offsets were already committed: the chaos
bench's consumers missed a whole register's events for good. Every unit of work's transaction on
PostgreSQL now commits synchronously, whatever the server's setting, also when a service writes
its inbox rows its own way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text

from inclusion_kit.contracts import Envelope

from .chain import NoteWritten, Side, consumer_side

pytestmark = pytest.mark.integration

DURABLE = "SET LOCAL synchronous_commit TO on"


def envelope(i: int) -> Envelope:
    note = NoteWritten(
        child_ref=f"c{i}", aggregate_id="n", aggregate_version=1, occurred_at=datetime.now(UTC), text="x"
    )
    return Envelope.wrap(note, source="inclusion/test", event_id=f"e{i}")


@contextmanager
def statements(side: Side) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(side.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(side.engine.sync_engine, "before_cursor_execute", record)


@pytest.mark.parametrize("how", ["one", "batch", "its-own-way"])
async def test_a_consumers_transaction_commits_synchronously(pg_url: str, how: str) -> None:
    side = consumer_side(pg_url)
    await side.create()
    try:
        with statements(side) as seen:
            async with side.uow() as uow:
                # The server (or the session) runs with asynchronous commits, as deploy/local does.
                await uow.session.execute(text("SET synchronous_commit TO off"))
                if how == "one":
                    await uow.record_inbox("durable-test", envelope(1), partition=0, offset=1)
                elif how == "batch":
                    await uow.record_inbox_many("durable-test", [(envelope(1), 0, 1)])
                else:  # a service's own inbox insert, outside the kit's methods
                    await uow.session.execute(
                        text(
                            "INSERT INTO inbox (consumer, event_id, event_type, topic, processed_at) "
                            "VALUES ('durable-test', 'e1', 't', 'inclusion.test', now())"
                        )
                    )
                await uow.commit()
        # After the inbox row, before the commit. (The kit's batch insert goes straight to asyncpg,
        # which these SQLAlchemy hooks do not see: then the durable setting must still be sent.)
        inbox = next((i for i, s in enumerate(seen) if "inbox" in s), 0)
        assert DURABLE in seen[inbox:], seen
        async with side.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM inbox"))).scalar_one() == 1
    finally:
        await side.engine.dispose()
