"""A consumer's transaction is durable before its offsets are committed (found by bench/chaos.py).

The consume loop commits Kafka offsets right after the message's transaction commits. With the
server's ``synchronous_commit = off`` (what deploy/local/postgres.sh configures) a commit returns
before its WAL is flushed, so a PostgreSQL crash lost inbox rows and effects whose offsets were
already committed: the chaos bench's consumers missed a whole register's events for good. The
inbox insert now makes the transaction's commit synchronous, whatever the server's setting.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from inclusion_kit.contracts import Envelope

from .chain import NoteWritten, Side, consumer_side

pytestmark = pytest.mark.integration


def envelope(i: int) -> Envelope:
    event = NoteWritten(
        child_ref=f"c{i}", aggregate_id="n", aggregate_version=1, occurred_at=datetime.now(UTC), text="x"
    )
    return Envelope.wrap(event, source="inclusion/test", event_id=f"e{i}")


async def _setting_in_transaction(side: Side, many: bool) -> tuple[str, str]:
    async with side.uow() as uow:
        # The server (or the session) runs with asynchronous commits, as deploy/local does.
        await uow.session.execute(text("SET synchronous_commit TO off"))
        before = (await uow.session.execute(text("SHOW synchronous_commit"))).scalar_one()
        if many:
            await uow.record_inbox_many("durable-test", [(envelope(1), 0, 1), (envelope(2), 0, 2)])
        else:
            await uow.record_inbox("durable-test", envelope(3), partition=0, offset=3)
        during = (await uow.session.execute(text("SHOW synchronous_commit"))).scalar_one()
        await uow.commit()
    return str(before), str(during)


@pytest.mark.parametrize("many", [False, True], ids=["one", "batch"])
async def test_a_consumers_transaction_commits_synchronously(pg_url: str, many: bool) -> None:
    side = consumer_side(pg_url)
    await side.create()
    try:
        assert await _setting_in_transaction(side, many) == ("off", "on")
        async with side.engine.connect() as conn:  # SET LOCAL: nothing leaks past the transaction
            assert (await conn.execute(text("SELECT count(*) FROM inbox"))).scalar_one() == (2 if many else 1)
    finally:
        await side.engine.dispose()
