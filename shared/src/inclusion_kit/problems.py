"""RFC 9457 problem details for every error a service returns.

Every 4xx/5xx body is ``application/problem+json`` with ``type``, ``title``, ``status``, ``detail``
and, for validation errors, ``errors``: one entry per field with a JSON pointer (``pointer``),
a machine-readable ``code`` and a message. Input values are never echoed back (they may be a
child's personal data). Unexpected errors become a bare 500 with a correlation id to quote.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from inclusion_kit.calendar import CalendarRangeError
from inclusion_kit.messaging.availability import infrastructure_unavailable
from inclusion_kit.messaging.context import correlation_id_var

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://inclusion-platform.example/problems/"
MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    408: "Request timeout",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Validation failed",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    408: "request-timeout",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


class FieldProblem(BaseModel):
    pointer: str = Field(
        description="JSON pointer to the field in the request (RFC 6901), "
        "or a parameter location such as 'query/updated_after'."
    )
    code: str = Field(description="Machine-readable reason, e.g. 'missing', 'invalid_upn'.")
    detail: str


class Problem(BaseModel):
    """The documented shape of every error body (for OpenAPI)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    correlation_id: str | None = None
    errors: list[FieldProblem] | None = None


class ProblemError(Exception):
    """Raise from anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: Sequence[FieldProblem] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title or _TITLES.get(status, "Error"))
        self.status = status
        self.detail = detail
        self.slug = slug or _SLUGS.get(status, "error")
        self.title = title or _TITLES.get(status, "Error")
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class NotFound(ProblemError):
    def __init__(self, what: str = "resource") -> None:
        super().__init__(404, f"No such {what}, or you may not see it.")


class Conflict(ProblemError):
    def __init__(
        self, detail: str, *, slug: str = "conflict", extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(409, detail, slug=slug, extra=extra)


def problem_response(
    status: int,
    *,
    detail: str | None = None,
    slug: str | None = None,
    title: str | None = None,
    instance: str | None = None,
    errors: Sequence[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or _SLUGS.get(status, "error")),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    correlation_id = correlation_id_var.get()
    if correlation_id:
        body["correlation_id"] = correlation_id
    if errors:
        body["errors"] = [e.model_dump() for e in errors]
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=MEDIA_TYPE)


def _pointer(loc: Sequence[int | str], body: Any = None) -> str:
    parts = list(loc)
    if parts and parts[0] == "body":
        # RFC 6901: "" is the whole document, "/a/b" a member. Discriminated unions put the tag
        # into the location (body -> "child_missing_education" -> child): drop path elements that
        # are not in the submitted document, so the pointer points into what the client sent.
        path: list[int | str] = []
        node = body
        rest = parts[1:]
        for index, part in enumerate(rest):
            last = index == len(rest) - 1
            if (
                isinstance(node, dict)
                and part not in node
                and not last
                and (rest[index + 1] in node or part in {v for v in node.values() if isinstance(v, str)})
            ):
                continue  # a union tag (it is the value of the discriminator, e.g. "kind")
            path.append(part)
            node = (
                node.get(part)
                if isinstance(node, dict)
                else (
                    node[part]
                    if isinstance(node, list) and isinstance(part, int) and part < len(node)
                    else None
                )
            )
        return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
    return "/".join(str(p) for p in parts)  # e.g. query/updated_after, header/idempotency-key


def field_problems(errors: Sequence[Any], body: Any = None) -> list[FieldProblem]:
    problems = []
    for error in errors:
        loc = [p for p in error.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-"))]
        message = str(error.get("msg", "invalid"))
        # pydantic prefixes custom errors with "Value error, "; drop it for readers.
        message = message.removeprefix("Value error, ")
        problems.append(
            FieldProblem(pointer=_pointer(loc, body), code=str(error.get("type", "invalid")), detail=message)
        )
    return problems


def validation_problem(errors: Sequence[Any], detail: str | None = None) -> ProblemError:
    return ProblemError(
        422, detail or "The request has invalid or missing fields.", errors=field_problems(errors)
    )


# Seconds a client is asked to wait when the database is unavailable (a restart takes a few).
UNAVAILABLE_RETRY_AFTER_SECONDS = 5


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status,
            detail=exc.detail,
            slug=exc.slug,
            title=exc.title,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            422,
            detail="The request has invalid or missing fields.",
            instance=request.url.path,
            errors=field_problems(exc.errors(), getattr(exc, "body", None)),
        )

    @app.exception_handler(ValidationError)
    async def _pydantic(request: Request, exc: ValidationError) -> JSONResponse:
        return problem_response(
            422,
            detail="The request has invalid or missing fields.",
            instance=request.url.path,
            errors=field_problems(exc.errors()),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            exc.status_code, detail=detail, instance=request.url.path, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(CalendarRangeError)
    async def _calendar(request: Request, exc: CalendarRangeError) -> JSONResponse:
        # The LA has not configured term dates for the year a rule needs: an operator's fix, not a
        # client's, and not a crash.
        log.error("school calendar not configured", extra={"path": request.url.path})
        return problem_response(
            503,
            detail="The local authority's school calendar does not cover the dates this request needs; "
            "the service's operators must add the term dates.",
            slug="calendar-not-configured",
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette runs this outside the middleware's context: restore the request's id.
        correlation_id = correlation_id_var.get() or getattr(request.state, "correlation_id", None)
        token = correlation_id_var.set(correlation_id)
        try:
            if infrastructure_unavailable(exc):
                # The database is restarting or unreachable: nothing was stored (the transaction
                # did not commit), and the same request with the same Idempotency-Key can be sent
                # again shortly. Say so, rather than a 500 a client would not retry.
                log.warning(
                    "database unavailable", extra={"path": request.url.path, "error": type(exc).__name__}
                )
                headers = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}
                if correlation_id:
                    headers["X-Correlation-ID"] = correlation_id
                return problem_response(
                    503,
                    detail="The service's database is unavailable for a moment; nothing was stored. "
                    "Send the same request again (with the same Idempotency-Key) after Retry-After.",
                    slug="database-unavailable",
                    instance=request.url.path,
                    headers=headers,
                )
            log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
            return problem_response(
                500,
                detail="Something went wrong on our side; quote the correlation id.",
                instance=request.url.path,
                headers={"X-Correlation-ID": correlation_id} if correlation_id else None,
            )
        finally:
            correlation_id_var.reset(token)


# The problem body's schema, stated under its real media type (``model=Problem`` alone puts it
# under application/json only, and leaves application/problem+json bodies unchecked).
PROBLEM_SCHEMA_REF: dict[str, Any] = {"$ref": "#/components/schemas/Problem"}

# Documented on every route: 400 is a body that is not text in the declared encoding or a list
# cursor that was tampered with.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "description": _TITLES[status],
        "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}},
    }
    for status in (400, 401, 403, 404, 413, 422, 429, 503)
}
