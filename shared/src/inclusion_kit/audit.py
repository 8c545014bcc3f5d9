"""The access audit: every read or write of a child's record leaves a row (ARCHITECTURE §6).

:func:`record_access` inserts into the service's ``audit_log`` table on the caller's session or
connection and never commits: a write and its audit row commit (or roll back) together, and a
read's audit row is committed by the caller's unit of work. Rows hold references only (the
principal's subject, roles, the resource's id and the platform's opaque ``child_ref``): never
names, UPNs or other personal data. Values that look like a UPN are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from inclusion_kit.auth import Principal
from inclusion_kit.db.engine import asyncpg_connection
from inclusion_kit.db.metadata import KitTables
from inclusion_kit.messaging.context import current_correlation_id

__all__ = ["AuditAction", "AuditEntry", "AuditOutcome", "audit_trail", "record_access", "record_access_many"]


class AuditAction(StrEnum):
    READ = "read"
    LIST = "list"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str
    actor_role: str
    action: str
    resource_type: str
    resource_id: str
    child_ref: str | None
    purpose: str
    outcome: str
    at: datetime | None = None
    correlation_id: str | None = None


# Column widths of KitTables.audit_log: a value that does not fit is a programming error.
_LIMITS: Final = {
    "actor": 200,
    "actor_role": 40,
    "action": 40,
    "resource_type": 60,
    "resource_id": 64,
    "child_ref": 64,
    "purpose": 200,
    "outcome": 20,
}
# Anything shaped like a UPN (check letter, 11 digits, digit or letter), valid or not.
_UPN_LIKE: Final = re.compile(r"(?<![A-Z0-9])[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z](?![A-Z0-9])")


def _check(name: str, value: str | None, *, required: bool = True) -> None:
    if value is None:
        if required:
            raise ValueError(f"audit {name} is required")
        return
    if required and not value.strip():
        raise ValueError(f"audit {name} must not be empty")
    if len(value) > _LIMITS[name]:
        raise ValueError(f"audit {name} is longer than {_LIMITS[name]} characters")
    if _UPN_LIKE.search(value.upper()):
        raise ValueError(f"audit {name} looks like a UPN: audit rows hold opaque references only")


async def record_access(
    session_or_conn: AsyncSession | AsyncConnection,
    tables: KitTables,
    principal: Principal,
    *,
    action: AuditAction | str,
    resource_type: str,
    resource_id: str,
    child_ref: str | None = None,
    purpose: str,
    outcome: AuditOutcome | str = AuditOutcome.SUCCESS,
    at: datetime | None = None,
) -> AuditEntry:
    """Insert an audit row inside the caller's transaction (no commit) and return it.

    ``purpose`` is a short, code-like reason ("attendance casework", "CME enquiry"), never free
    text about the child. ``at`` defaults to now (UTC); the correlation id is the current one.
    """
    entry = AuditEntry(
        actor=principal.subject,
        actor_role=principal.role_names,
        action=str(action),
        resource_type=resource_type,
        resource_id=resource_id,
        child_ref=child_ref,
        purpose=purpose,
        outcome=str(outcome),
        at=(at or datetime.now(UTC)).astimezone(UTC),
        correlation_id=current_correlation_id()[:64],
    )
    for name in ("actor", "actor_role", "action", "resource_type", "resource_id", "purpose", "outcome"):
        _check(name, getattr(entry, name))
    _check("child_ref", entry.child_ref, required=False)
    await session_or_conn.execute(
        insert(tables.audit_log).values(
            at=entry.at,
            actor=entry.actor,
            actor_role=entry.actor_role,
            action=entry.action,
            resource_type=entry.resource_type,
            resource_id=entry.resource_id,
            child_ref=entry.child_ref,
            purpose=entry.purpose,
            correlation_id=entry.correlation_id,
            outcome=entry.outcome,
        )
    )
    return entry


async def record_access_many(
    session: AsyncSession,
    tables: KitTables,
    principal: Principal,
    *,
    action: AuditAction | str,
    resource_type: str,
    resource_id: str,
    child_refs: Iterable[str],
    purpose: str,
    outcome: AuditOutcome | str = AuditOutcome.SUCCESS,
    at: datetime | None = None,
) -> int:
    """One audit row per child for one bulk read or write (a school's register touches hundreds
    of children's records), in the caller's transaction; COPY on PostgreSQL. Returns the count."""
    when = (at or datetime.now(UTC)).astimezone(UTC)
    correlation_id = current_correlation_id()[:64]
    fixed = {
        "actor": principal.subject,
        "actor_role": principal.role_names,
        "action": str(action),
        "resource_type": resource_type,
        "resource_id": resource_id,
        "purpose": purpose,
        "outcome": str(outcome),
    }
    for name, value in fixed.items():
        _check(name, value)
    refs = list(dict.fromkeys(child_refs))
    for ref in refs:
        _check("child_ref", ref)
    if not refs:
        return 0
    columns = ["at", *fixed, "correlation_id", "child_ref"]
    head = (when, *fixed.values(), correlation_id)
    driver = await asyncpg_connection(session)
    if driver is not None:
        await driver.copy_records_to_table(
            tables.audit_log.name,
            records=[(*head, ref) for ref in refs],
            columns=columns,
            schema_name=tables.audit_log.schema,
        )
    else:
        await session.execute(
            insert(tables.audit_log), [dict(zip(columns, (*head, ref), strict=True)) for ref in refs]
        )
    return len(refs)


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything written here was UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        actor=row.actor,
        actor_role=row.actor_role,
        action=row.action,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        child_ref=row.child_ref,
        purpose=row.purpose,
        outcome=row.outcome,
        at=_as_utc(row.at),
        correlation_id=row.correlation_id,
    )


async def audit_trail(
    session_or_conn: AsyncSession | AsyncConnection,
    tables: KitTables,
    *,
    child_ref: str,
    limit: int | None = None,
) -> list[AuditEntry]:
    """The audit rows about ``child_ref``, oldest first (for officer views and tests)."""
    table = tables.audit_log
    query = select(table).where(table.c.child_ref == child_ref).order_by(table.c.at, table.c.seq)
    if limit is not None:
        query = query.limit(limit)
    result = await session_or_conn.execute(query)
    return [_entry(row) for row in result]
