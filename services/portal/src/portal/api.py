"""Calls to the services' public REST APIs with the signed-in user's token.

Every error answer of a service is an RFC 9457 problem; :class:`ApiError` carries it (status,
title, detail and the per-field ``errors`` with their JSON pointers) so pages can show the
service's own validation next to the fields. Transport failures and 5xx answers become
:class:`ServiceUnavailable`. Response bodies may hold a child's personal data: they are never
logged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from portal.config import SERVICE_NAMES, PortalSettings

log = logging.getLogger(__name__)


@dataclass
class ApiError(Exception):
    status: int
    title: str = ""
    detail: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)
    slug: str = ""

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


class ServiceUnavailable(Exception):
    """A service could not be reached or failed (5xx): not the user's fault."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


@dataclass
class Download:
    content: bytes
    media_type: str
    filename: str | None


def _problem(response: httpx.Response) -> ApiError:
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return ApiError(response.status_code, response.reason_phrase)
    errors = [
        {
            "pointer": str(e.get("pointer", "")),
            "code": str(e.get("code", "")),
            "detail": str(e.get("detail", "")),
        }
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]
    problem_type = str(body.get("type") or "")
    return ApiError(
        status=response.status_code,
        title=str(body.get("title") or response.reason_phrase),
        detail=str(body.get("detail") or ""),
        errors=errors,
        slug=problem_type.rsplit("/", 1)[-1],
    )


class ApiClient:
    """One pooled HTTP client per service, shared by every request of the app."""

    def __init__(self, settings: PortalSettings, clients: Mapping[str, httpx.AsyncClient] | None = None):
        self._owned = clients is None
        timeout = httpx.Timeout(settings.api_timeout_seconds)
        self._clients: dict[str, httpx.AsyncClient] = (
            dict(clients)
            if clients is not None
            else {
                name: httpx.AsyncClient(base_url=settings.services.url(name), timeout=timeout)
                for name in SERVICE_NAMES
            }
        )
        missing = set(SERVICE_NAMES) - set(self._clients)
        if missing:
            raise ValueError(f"no client for services: {sorted(missing)}")

    async def aclose(self) -> None:
        if self._owned:
            for client in self._clients.values():
                await client.aclose()

    async def _send(
        self,
        service: str,
        method: str,
        path: str,
        token: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self._clients[service].request(
                method, path, params=clean, json=json, headers=headers
            )
        except httpx.HTTPError as exc:
            log.warning("service call failed", extra={"service": service, "error": type(exc).__name__})
            raise ServiceUnavailable(service) from None
        if response.status_code >= 500:
            log.warning("service answered %s", response.status_code, extra={"service": service})
            raise ServiceUnavailable(service)
        if response.status_code >= 400:
            raise _problem(response)
        return response

    async def get(self, service: str, path: str, token: str, params: Mapping[str, Any] | None = None) -> Any:
        return (await self._send(service, "GET", path, token, params=params)).json()

    async def post(
        self, service: str, path: str, token: str, body: Any, *, idempotency_key: str | None
    ) -> Any:
        response = await self._send(service, "POST", path, token, json=body, idempotency_key=idempotency_key)
        return response.json() if response.content else None

    async def download(
        self, service: str, path: str, token: str, params: Mapping[str, Any] | None = None
    ) -> Download:
        response = await self._send(service, "GET", path, token, params=params)
        filename = None
        disposition = response.headers.get("content-disposition", "")
        if "filename=" in disposition:
            filename = disposition.split("filename=", 1)[1].strip().strip('"')
        return Download(
            response.content, response.headers.get("content-type", "application/octet-stream"), filename
        )
