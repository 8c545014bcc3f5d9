"""FastAPI dependencies of enforcement: the runtime and the caller's scope."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from enforcement.service_layer.handlers import Context
from enforcement.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import Principal, Role
from inclusion_kit.service import ServiceKernel


@dataclass(frozen=True)
class Runtime:
    kernel: ServiceKernel[UnitOfWork]
    context: Context


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


def district_limit(principal: Principal) -> list[str] | None:
    """The districts a principal is limited to (None: every district), case-folded."""
    if Role.ADMIN in principal.roles or not principal.districts:
        return None
    return sorted(d.casefold() for d in principal.districts)


async def in_scope(uow: UnitOfWork, principal: Principal, school_urn: str | None) -> bool:
    """A school sees its own URNs' records; an officer limited to districts sees those of schools
    in them; everyone else with an LA role sees all."""
    if school_urn is None or not principal.can_act_for_urn(school_urn):
        return False
    if principal.is_school_only:
        return True
    if district_limit(principal) is None:
        return True
    school = await uow.schools.get(school_urn)
    return principal.in_district(school["district"] if school else None)
