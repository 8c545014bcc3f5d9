"""What every write and list of exclusions's API does around its use case.

A write runs in one unit of work with an optional Idempotency-Key: the access audit row and the
stored answer are added just before the use case commits, so the change, its outbox rows, its audit
row and the answer a retry will get commit together, or none of them. A list writes one audit row
per child's record it returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import Select

from exclusions.entrypoints.api.dependencies import Runtime
from exclusions.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.audit import record_access
from inclusion_kit.auth import Principal
from inclusion_kit.idempotency import idempotent
from inclusion_kit.pagination import Page, PageRequest
from inclusion_kit.problems import NotFound


class Record(Protocol):
    id: str
    child_ref: str


R = TypeVar("R", bound=Record)
T = TypeVar("T", bound=BaseModel)


async def audited_write(
    request: Request,
    principal: Principal,
    rt: Runtime,
    work: Callable[[UnitOfWork, Callable[[Any], Awaitable[None]]], Awaitable[Any]],
    *,
    status_code: int,
    out: Callable[[Any], BaseModel],
    action: str,
    resource_type: str,
    purpose: Callable[[Any], str] | str,
    location: Callable[[Any], str] | None = None,
    missing: str = "record",
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
                action=action,
                resource_type=resource_type,
                resource_id=record.id,
                child_ref=record.child_ref,
                purpose=purpose(record) if callable(purpose) else purpose,
            )
            headers = {"Location": location(record)} if location else None
            answer.append(await guard.respond(status_code, out(record), headers=headers))

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
        for record in page.items:
            await record_access(
                uow.session,
                uow.tables,
                principal,
                action="list",
                resource_type=resource_type,
                resource_id=cast(Record, record).id,
                child_ref=cast(Record, record).child_ref,
                purpose=purpose,
            )
        await uow.commit()
    return page


async def audited_read(
    rt: Runtime,
    principal: Principal,
    load: Callable[[UnitOfWork], Awaitable[Any]],
    visible: Callable[[Any], bool],
    *,
    resource_type: str,
    purpose: str,
    missing: str,
) -> Any:
    """Load one record; 404 when absent or not the caller's to see (never 403: that would confirm
    it exists); audit the read in its own small transaction."""
    async with rt.kernel.uow() as uow:
        record = await load(uow)
        if record is None or not visible(record):
            raise NotFound(missing)
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
    return record
