"""The access audit: rows commit and roll back with the caller's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from inclusion_kit.audit import AuditAction, AuditEntry, AuditOutcome, audit_trail, record_access
from inclusion_kit.auth import Principal, Role
from inclusion_kit.db.metadata import KitTables, make_metadata
from inclusion_kit.messaging.context import correlation_id_var

OFFICER = Principal(
    "officer-7", frozenset({Role.OFFICER, Role.EARLY_HELP}), districts=frozenset({"Dover"}), name="Pat"
)
SCHOOL = Principal("mis-vendor-1", frozenset({Role.SCHOOL}), urns=frozenset({"118000"}), client_id="mis")


class Schema:
    def __init__(self) -> None:
        self.metadata: MetaData = make_metadata()
        self.kit = KitTables(self.metadata)
        self.cases = Table(
            "cases",
            self.metadata,
            Column("id", String(36), primary_key=True),
            Column("child_ref", String(64), nullable=False),
        )


@pytest.fixture
async def db() -> AsyncIterator[tuple[Schema, AsyncEngine]]:
    schema = Schema()
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as conn:
        await conn.run_sync(schema.metadata.create_all)
    yield schema, engine
    await engine.dispose()


@pytest.fixture
def sessions(db: tuple[Schema, AsyncEngine]) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(db[1], expire_on_commit=False)


async def test_record_and_read_back(
    db: tuple[Schema, AsyncEngine], sessions: async_sessionmaker[AsyncSession]
) -> None:
    schema, _ = db
    token = correlation_id_var.set("corr-123")
    try:
        async with sessions() as session, session.begin():
            written = await record_access(
                session,
                schema.kit,
                OFFICER,
                action=AuditAction.READ,
                resource_type="case",
                resource_id="case-1",
                child_ref="child-abc",
                purpose="attendance casework",
            )
            await record_access(
                session,
                schema.kit,
                SCHOOL,
                action="update",
                resource_type="attendance_return",
                resource_id="ret-9",
                child_ref="child-abc",
                purpose="termly return",
                outcome=AuditOutcome.DENIED,
                at=datetime(2030, 1, 1, tzinfo=UTC),
            )
            await record_access(
                session,
                schema.kit,
                OFFICER,
                action="list",
                resource_type="case",
                resource_id="*",
                child_ref="child-other",
                purpose="caseload",
            )
    finally:
        correlation_id_var.reset(token)

    async with sessions() as session:
        trail = await audit_trail(session, schema.kit, child_ref="child-abc")
    assert len(trail) == 2
    first, second = trail
    assert first == written
    assert first.actor == "officer-7"
    assert first.actor_role == "early_help,officer"
    assert first.action == "read"
    assert first.outcome == "success"
    assert first.correlation_id == "corr-123"
    assert first.at is not None and first.at.tzinfo is not None
    assert abs((datetime.now(UTC) - first.at).total_seconds()) < 60
    assert second == AuditEntry(
        actor="mis-vendor-1",
        actor_role="school",
        action="update",
        resource_type="attendance_return",
        resource_id="ret-9",
        child_ref="child-abc",
        purpose="termly return",
        outcome="denied",
        at=datetime(2030, 1, 1, tzinfo=UTC),
        correlation_id="corr-123",
    )
    # Display names never reach the audit log.
    async with sessions() as session:
        rows = (await session.execute(select(schema.kit.audit_log))).mappings().all()
    assert all("Pat" not in str(value) for row in rows for value in row.values())


async def test_entry_commits_with_the_write(
    db: tuple[Schema, AsyncEngine], sessions: async_sessionmaker[AsyncSession]
) -> None:
    schema, _ = db
    async with sessions() as session, session.begin():
        await session.execute(insert(schema.cases).values(id="case-2", child_ref="child-xyz"))
        await record_access(
            session,
            schema.kit,
            OFFICER,
            action="create",
            resource_type="case",
            resource_id="case-2",
            child_ref="child-xyz",
            purpose="referral triage",
        )
        # Visible inside the caller's transaction before it commits.
        assert len(await audit_trail(session, schema.kit, child_ref="child-xyz")) == 1
    async with sessions() as session:
        assert len(await audit_trail(session, schema.kit, child_ref="child-xyz")) == 1
        assert (await session.scalar(select(func.count()).select_from(schema.cases))) == 1


async def test_entry_disappears_on_rollback(
    db: tuple[Schema, AsyncEngine], sessions: async_sessionmaker[AsyncSession]
) -> None:
    schema, _ = db
    with pytest.raises(RuntimeError, match="boom"):
        async with sessions() as session, session.begin():
            await session.execute(insert(schema.cases).values(id="case-3", child_ref="child-rb"))
            await record_access(
                session,
                schema.kit,
                OFFICER,
                action="update",
                resource_type="case",
                resource_id="case-3",
                child_ref="child-rb",
                purpose="attendance casework",
            )
            raise RuntimeError("boom")
    async with sessions() as session:
        assert await audit_trail(session, schema.kit, child_ref="child-rb") == []
        assert (await session.scalar(select(func.count()).select_from(schema.cases))) == 0

    # record_access never commits on its own: an uncommitted session leaves nothing behind.
    async with sessions() as session:
        await record_access(
            session,
            schema.kit,
            OFFICER,
            action="read",
            resource_type="case",
            resource_id="case-3",
            child_ref="child-rb",
            purpose="attendance casework",
        )
    async with sessions() as session:
        assert await audit_trail(session, schema.kit, child_ref="child-rb") == []


async def test_works_on_a_core_connection(db: tuple[Schema, AsyncEngine]) -> None:
    schema, engine = db
    async with engine.begin() as conn:
        await record_access(
            conn,
            schema.kit,
            SCHOOL,
            action="export",
            resource_type="attendance_marks",
            resource_id="118000-2030-01",
            child_ref=None,
            purpose="monthly export",
        )
    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(schema.kit.audit_log))
        assert count == 1
        assert await audit_trail(conn, schema.kit, child_ref="anything") == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("child_ref", "B801200005001", "looks like a UPN"),  # a valid UPN
        ("resource_id", "pupil-A123456789012", "looks like a UPN"),  # UPN-shaped, embedded
        ("purpose", "call about b801200005001", "looks like a UPN"),
        ("purpose", "", "must not be empty"),
        ("resource_type", "x" * 61, "longer than 60"),
        ("child_ref", "c" * 65, "longer than 64"),
        ("action", "", "must not be empty"),
    ],
)
async def test_refuses_personal_data_and_oversized_values(
    db: tuple[Schema, AsyncEngine],
    sessions: async_sessionmaker[AsyncSession],
    field: str,
    value: str,
    message: str,
) -> None:
    schema, _ = db
    values = {
        "action": "read",
        "resource_type": "case",
        "resource_id": "case-1",
        "child_ref": "child-1",
        "purpose": "attendance casework",
    }
    values[field] = value
    async with sessions() as session, session.begin():
        with pytest.raises(ValueError, match=message):
            await record_access(
                session,
                schema.kit,
                OFFICER,
                action=values["action"],
                resource_type=values["resource_type"],
                resource_id=values["resource_id"],
                child_ref=values["child_ref"],
                purpose=values["purpose"],
            )
        assert (await session.scalar(select(func.count()).select_from(schema.kit.audit_log))) == 0
