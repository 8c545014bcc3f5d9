"""What every write and list of cme-tracker's API does around its use case.

A write runs in one unit of work with an optional Idempotency-Key: the access audit row and the
stored answer are added just before the use case commits, so the change, its outbox rows, its audit
row and the answer a retry will get commit together, or none of them. A list writes one audit row
per child's record it returns; a read writes one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import Select, insert

from cme_tracker.entrypoints.api.dependencies import Runtime
from cme_tracker.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.audit import record_access
from inclusion_kit.auth import Principal
from inclusion_kit.idempotency import idempotent
from inclusion_kit.pagination import Page, PageRequest
from inclusion_kit.problems import NotFound


class Record(Protocol):
    id: str
    child_ref: str


T = TypeVar("T", bound=BaseModel)


async def audited_write(
    request: Request,
    principal: Principal,
    rt: Runtime,
    work: Callable[[UnitOfWork, Callable[[Any], Awaitable[None]]], Awaitable[Any]],
    *,
    status_code: int,
    out: Callable[[Any], BaseModel],
    resource_type: str,
    purpose: str,
    missing: str,
) -> Response:
    """Run ``work(uow, before_commit)``; it must call ``before_commit(record)`` before committing."""
    async with rt.kernel.uow() as uow, idempotent(request, uow, principal, required=False) as guard:
        if guard.replay is not None:
            return guard.replay  # a retry: the first answer; nothing runs again
        answer: list[Response] = []

        async def before_commit(record: Any) -> None:
            await record_access(
                uow.session,
                uow.tables,
                principal,
                action="update",
                resource_type=resource_type,
                resource_id=record.id,
                child_ref=record.child_ref,
                purpose=purpose,
            )
            answer.append(await guard.respond(status_code, out(record)))

        if await work(uow, before_commit) is None:
            raise NotFound(missing)
    return answer[0]


async def audited_page(
    rt: Runtime,
    principal: Principal,
    paging: PageRequest,
    stmt: Select[Any],
    item: Callable[[Any], T],
    *,
    resource_type: str,
    purpose: str,
) -> Page[T]:
    """Run a list query already shaped by ``paging.apply`` and audit every record returned."""
    async with rt.kernel.uow() as uow:
        rows = (await uow.session.execute(stmt)).mappings().all()
        page = paging.page(rows, item, position_of=lambda row: (row["updated_at"], row["id"]))
        records = [cast(Record, record) for record in page.items]
        if records:
            # One row per record, in one statement: a caseload page is up to a thousand children.
            # The first row goes through record_access, which checks the values' shape; the
            # others differ only by the service's own ids and references.
            first = await record_access(
                uow.session,
                uow.tables,
                principal,
                action="list",
                resource_type=resource_type,
                resource_id=records[0].id,
                child_ref=records[0].child_ref,
                purpose=purpose,
            )
            if len(records) > 1:
                await uow.session.execute(
                    insert(uow.tables.audit_log),
                    [
                        {
                            "at": first.at,
                            "actor": first.actor,
                            "actor_role": first.actor_role,
                            "action": first.action,
                            "resource_type": first.resource_type,
                            "resource_id": r.id,
                            "child_ref": r.child_ref,
                            "purpose": first.purpose,
                            "correlation_id": first.correlation_id,
                            "outcome": first.outcome,
                        }
                        for r in records[1:]
                    ],
                )
        await uow.commit()
    return page


async def audited_read(
    rt: Runtime,
    principal: Principal,
    load: Callable[[UnitOfWork], Awaitable[Any]],
    *,
    resource_type: str,
    purpose: str,
    missing: str,
) -> Any:
    """Load one record (``load`` returns None when absent or out of scope: 404, never 403) and
    audit the read in the same small transaction. ``load`` may return (record, extra)."""
    async with rt.kernel.uow() as uow:
        loaded = await load(uow)
        if loaded is None:
            raise NotFound(missing)
        record = loaded[0] if isinstance(loaded, tuple) else loaded
        await record_access(
            uow.session,
            uow.tables,
            principal,
            action="read",
            resource_type=resource_type,
            resource_id=record.id,
            child_ref=record.child_ref,
            purpose=purpose,
        )
        await uow.commit()
    return loaded
