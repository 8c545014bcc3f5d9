"""FastAPI dependencies of cme-tracker: the runtime, who may do what, and scoping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from cme_tracker.service_layer.handlers import Context
from cme_tracker.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.auth import Principal, Role, require_roles
from inclusion_kit.service import ServiceKernel

# Officers work cases; managers read them; a school may follow the cases of its own pupils.
READERS = require_roles(Role.OFFICER, Role.MANAGER, Role.ADMIN, Role.SCHOOL)
WORKERS = require_roles(Role.OFFICER, Role.ADMIN)
LA_READERS = require_roles(Role.OFFICER, Role.MANAGER, Role.ADMIN)


@dataclass(frozen=True)
class Runtime:
    kernel: ServiceKernel[UnitOfWork]
    context: Context


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


def visible(principal: Principal, school: dict[str, Any] | None, district: str | None) -> bool:
    """A school sees its own schools' records; an officer limited to districts sees those in them
    (a record with no district: unrestricted officers only). Anything else answers 404."""
    if principal.is_school_only:
        return principal.can_act_for_urn((school or {}).get("urn"))
    return principal.in_district(district)
