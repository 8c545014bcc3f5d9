"""What every write and read of enforcement's API does around its use case.

A write runs in one unit of work with an optional Idempotency-Key: the access audit row and the
stored answer are added just before the use case commits, so the change, its outbox rows, its audit
row and the answer a retry will get commit together, or none of them. Domain errors become problem
details here: an illegal transition or a failed rule is 409, invalid input 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import Select

from enforcement.domain.errors import (
    DomainError,
    IllegalTransition,
    InvalidPayment,
    NoCodeOfConduct,
    OutOfTime,
    RuleFailed,
)
from enforcement.entrypoints.api.dependencies import Runtime
from enforcement.service_layer.handlers import InvalidRequest, UnknownPupil, UnknownSchool
from enforcement.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.audit import record_access
from inclusion_kit.auth import Principal
from inclusion_kit.idempotency import idempotent
from inclusion_kit.pagination import Page, PageRequest
from inclusion_kit.problems import Conflict, FieldProblem, NotFound, ProblemError

T = TypeVar("T", bound=BaseModel)


def problem_for(exc: DomainError) -> ProblemError:
    if isinstance(exc, InvalidRequest):
        return ProblemError(
            422,
            str(exc),
            slug="validation-error",
            errors=[FieldProblem(pointer=f"/{f}", code="invalid", detail=m) for f, m in exc.problems],
        )
    if isinstance(exc, RuleFailed):
        return Conflict(exc.detail, slug=exc.rule, extra={"rule": exc.rule})
    if isinstance(exc, IllegalTransition | OutOfTime):
        return Conflict(str(exc), slug=exc.code)
    if isinstance(exc, InvalidPayment | NoCodeOfConduct | UnknownSchool | UnknownPupil):
        return ProblemError(422, str(exc), slug=exc.code)
    return ProblemError(422, str(exc), slug=exc.code)  # pragma: no cover - every error is listed above


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
    purpose: str,
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
                purpose=purpose,
            )
            headers = {"Location": location(record)} if location else None
            answer.append(await guard.respond(status_code, out(record), headers=headers))

        try:
            done = await work(uow, before_commit)
        except DomainError as exc:
            raise problem_for(exc) from exc
        if done is None:
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
    id_key: str = "id",
) -> Page[T]:
    """Run a list query already shaped by ``paging.apply`` and audit every record returned."""
    async with rt.kernel.uow() as uow:
        rows = (await uow.session.execute(stmt)).mappings().all()
        page = paging.page(rows, item, position_of=lambda row: (row["updated_at"], row[id_key]))
        for row in rows[: paging.limit]:
            await record_access(
                uow.session,
                uow.tables,
                principal,
                action="list",
                resource_type=resource_type,
                resource_id=str(row[id_key]),
                child_ref=row["child_ref"],
                purpose=purpose,
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
    """Load one record (``load`` returns None when absent or out of the caller's scope: 404, never
    403); audit the read in its own small transaction."""
    async with rt.kernel.uow() as uow:
        try:
            record = await load(uow)
        except DomainError as exc:
            raise problem_for(exc) from exc
        if record is None:
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
