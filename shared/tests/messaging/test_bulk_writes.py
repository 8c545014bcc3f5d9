"""Bulk paths of the unit of work and the audit (COPY on PostgreSQL, executemany on SQLite): the
rows are the same on both, and they commit or roll back with the caller's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from inclusion_kit.audit import record_access_many
from inclusion_kit.auth import Principal, Role
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.messaging.context import correlation_id_var
from inclusion_kit.messaging.unit_of_work import COPY_THRESHOLD, envelope_from_outbox
from inclusion_kit.testing import infra

from .chain import NoteWritten, Side, producer_side

SCHOOL = Principal("mis-1", frozenset({Role.SCHOOL}), urns=frozenset({"118000"}))


@pytest.fixture(params=["sqlite", "postgresql"])
async def side(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[Side]:
    if request.param == "sqlite":
        made = producer_side(sqlite_url)
        await made.create()
        yield made
        await made.engine.dispose()
        return
    admin = request.getfixturevalue("postgres_admin_url")
    name = await infra.create_database(admin)
    made = producer_side(infra.database_url(admin, name))
    try:
        await made.create()
        yield made
    finally:
        await made.engine.dispose()
        await infra.drop_database(admin, name)


def note(i: int) -> NoteWritten:
    return NoteWritten(
        child_ref=f"c-{i:04d}",
        aggregate_id=f"n-{i}",
        aggregate_version=1,
        occurred_at=datetime(2025, 10, 6, 9, 0, tzinfo=UTC),
        text=f"note {i}",
    )


async def count(side: Side, table: Any) -> int:
    async with side.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize("events", [3, COPY_THRESHOLD + 36])
async def test_outbox_rows_are_the_events_whichever_way_they_are_written(side: Side, events: int) -> None:
    token = correlation_id_var.set("corr-bulk")
    try:
        async with side.uow() as uow:
            await uow.session.execute(insert(side.extra["notes"]).values(id="n-0", child_ref="c-0", text="x"))
            sent = [uow.emit(note(i)) for i in range(events)]
            await uow.commit()
    finally:
        correlation_id_var.reset(token)
    async with side.engine.connect() as conn:
        rows = (await conn.execute(select(side.tables.outbox).order_by(side.tables.outbox.c.seq))).all()
    stored: list[Envelope] = [envelope_from_outbox(r) for r in rows]
    assert [(e.id, e.type, e.key, e.data, e.topic, e.correlation_id) for e in stored] == [
        (e.id, e.type, e.key, e.data, e.topic, "corr-bulk") for e in sent
    ]
    assert all(r.published_at is None and r.attempts == 0 for r in rows)


async def test_bulk_outbox_rolls_back_with_the_change(side: Side) -> None:
    async with side.uow() as uow:
        await uow.session.execute(insert(side.extra["notes"]).values(id="n-0", child_ref="c-0", text="x"))
        for i in range(COPY_THRESHOLD * 2):
            uow.emit(note(i))
        await uow._write_outbox(datetime.now(UTC))  # written, then the transaction fails
        await uow.rollback()
    assert await count(side, side.tables.outbox) == 0
    assert await count(side, side.extra["notes"]) == 0


async def test_record_access_many_one_row_per_child_in_the_callers_transaction(side: Side) -> None:
    refs = [f"c-{i:04d}" for i in range(150)]
    async with side.uow() as uow:
        written = await record_access_many(
            uow.session,
            uow.tables,
            SCHOOL,
            action="create",
            resource_type="attendance",
            resource_id="s-1",
            child_refs=[*refs, refs[0]],  # a repeat is audited once
            purpose="attendance-marks",
        )
        await uow.rollback()
    assert written == 150
    assert await count(side, side.tables.audit_log) == 0
    async with side.uow() as uow:
        await record_access_many(
            uow.session,
            uow.tables,
            SCHOOL,
            action="create",
            resource_type="attendance",
            resource_id="s-1",
            child_refs=refs,
            purpose="attendance-marks",
        )
        await uow.commit()
    log = side.tables.audit_log
    async with side.engine.connect() as conn:
        rows = (await conn.execute(select(log).order_by(log.c.seq))).all()
    assert [r.child_ref for r in rows] == refs
    assert {(r.actor, r.actor_role, r.action, r.resource_type, r.resource_id, r.outcome) for r in rows} == {
        ("mis-1", "school", "create", "attendance", "s-1", "success")
    }


async def test_record_access_many_refuses_personal_data(side: Side) -> None:
    async with side.uow() as uow:
        with pytest.raises(ValueError, match="UPN"):
            await record_access_many(
                uow.session,
                uow.tables,
                SCHOOL,
                action="create",
                resource_type="attendance",
                resource_id="s-1",
                child_refs=["H886200024001"],
                purpose="attendance-marks",
            )
