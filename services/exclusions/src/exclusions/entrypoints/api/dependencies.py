"""FastAPI dependencies of exclusions: the runtime (kernel and handlers' context) and scoping."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from exclusions import views
from exclusions.service_layer.handlers import Context
from exclusions.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import Principal, Role
from inclusion_kit.service import ServiceKernel


@dataclass(frozen=True)
class Runtime:
    kernel: ServiceKernel[UnitOfWork]
    context: Context


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


@dataclass(frozen=True)
class Scope:
    """What a principal may see: a school its own URNs; an officer limited to districts those."""

    visible_urns: list[str] | None
    districts: list[str] | None

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        return cls(
            visible_urns=sorted(principal.urns) if principal.is_school_only else None,
            districts=views.district_limit(principal.districts, Role.ADMIN in principal.roles),
        )

    async def allows(self, uow: UnitOfWork, school_urn: str) -> bool:
        if self.visible_urns is not None and school_urn not in self.visible_urns:
            return False
        if self.districts is None:
            return True
        district = await views.school_district(uow.session, school_urn)
        return district is not None and district.casefold() in self.districts
