"""FastAPI dependencies of referral-api: the runtime, the unit of work, the principal."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from inclusion_kit.service import ServiceKernel
from referral_api.service_layer.handlers import Context
from referral_api.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Runtime:
    kernel: ServiceKernel[UnitOfWork]
    context: Context


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value
