"""RFC 9457 problem details on a tiny FastAPI app: every error is application/problem+json, field
errors carry JSON pointers and never echo the submitted values, 500s say nothing of the cause."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy.exc
from fastapi import FastAPI, Header, HTTPException, Query
from pydantic import BaseModel, Field, field_validator

from inclusion_kit.observability import JsonFormatter, RequestContextMiddleware, ServiceMetrics
from inclusion_kit.problems import (
    MEDIA_TYPE,
    PROBLEM_BASE,
    Conflict,
    FieldProblem,
    NotFound,
    ProblemError,
    install_problem_handlers,
    validation_problem,
)

SECRET_UPN = "B801200005001"
SECRET_NAME = "Jane Smith"


class Child(BaseModel):
    upn: str = Field(pattern=r"^[A-Z][0-9]{12}$", max_length=13)
    name: str = Field(min_length=1, max_length=5)
    year_group: int = Field(ge=0, le=14)


class Sibling(BaseModel):
    upn: str = Field(pattern=r"^[A-Z][0-9]{12}$")


class Referral(BaseModel):
    child: Child
    siblings: list[Sibling] = Field(default_factory=list)
    reason: str

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if value.startswith("bad"):
            raise ValueError("reason must be one of the published codes")
        return value


def make_app(*, with_context: bool = False) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    if with_context:
        app.add_middleware(RequestContextMiddleware, metrics=ServiceMetrics("test"))

    @app.post("/referrals", status_code=201)
    async def create(referral: Referral) -> dict[str, str]:
        return {"status": "created"}

    @app.get("/cases")
    async def cases(
        updated_after: Annotated[int, Query()],
        idempotency_key: Annotated[str, Header(max_length=8)] = "k",
    ) -> dict[str, int]:
        return {"updated_after": updated_after}

    @app.get("/limited")
    async def limited() -> None:
        raise ProblemError(
            429,
            "Slow down.",
            headers={"Retry-After": "30"},
            extra={"limit": 600, "window": "1m", "status": 999, "type": "overwritten?"},
        )

    @app.get("/custom")
    async def custom() -> None:
        raise ProblemError(
            409,
            "Already closed.",
            slug="case-closed",
            title="Case closed",
            errors=[FieldProblem(pointer="/status", code="closed", detail="The case is closed.")],
            extra={"closed_on": "2024-09-01"},
        )

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("case")

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict("Version mismatch.", slug="stale-version", extra={"current_version": 4})

    @app.get("/validation")
    async def validation() -> None:
        raise validation_problem(
            [{"loc": ("body", "child", "dob"), "msg": "Value error, too young", "type": "value_error"}]
        )

    @app.get("/secure")
    async def secure() -> None:
        raise HTTPException(401, "Bearer token required.", headers={"WWW-Authenticate": 'Bearer realm="x"'})

    @app.get("/forbidden")
    async def forbidden() -> None:
        raise HTTPException(403, detail={"reason": "structured detail is dropped"})

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(f"database said: {SECRET_NAME} {SECRET_UPN} duplicate key")

    @app.get("/db-refused")
    async def db_refused() -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    @app.get("/db-starting")
    async def db_starting() -> None:
        class CannotConnectNow(Exception):  # asyncpg's CannotConnectNowError, as SQLAlchemy wraps it
            sqlstate = "57P03"

        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, CannotConnectNow("the database is starting up"))

    @app.get("/pydantic-inside")
    async def pydantic_inside() -> None:
        Child.model_validate({"upn": SECRET_UPN.lower(), "name": "x", "year_group": 3})

    return app


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == MEDIA_TYPE
    body = response.json()
    assert body["status"] == status
    assert body["type"] == PROBLEM_BASE + slug
    assert isinstance(body["title"], str) and body["title"]
    return body


# -- validation ---------------------------------------------------------------------------------

VALID = {"child": {"upn": "A123456789012", "name": "Al", "year_group": 3}, "reason": "attendance"}


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    document = json.loads(json.dumps(VALID))
    target: Any = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("body", "pointer", "code"),
    [
        (_with(("child", "upn"), "X" + SECRET_UPN), "/child/upn", "string_too_long"),
        (_with(("child", "upn"), SECRET_UPN.lower()), "/child/upn", "string_pattern_mismatch"),
        (_with(("child", "name"), SECRET_NAME), "/child/name", "string_too_long"),
        (_with(("child", "year_group"), "Year Eleven"), "/child/year_group", "int_parsing"),
        (_with(("child", "year_group"), 15), "/child/year_group", "less_than_equal"),
        (
            _with(("siblings",), [{"upn": SECRET_UPN}, {"upn": SECRET_UPN.lower()}]),
            "/siblings/1/upn",
            "string_pattern_mismatch",
        ),
        (_with(("reason",), "bad: " + SECRET_NAME), "/reason", "value_error"),
        ({"child": VALID["child"]}, "/reason", "missing"),
        (_with(("child",), SECRET_NAME), "/child", "model_attributes_type"),
    ],
)
async def test_body_validation_is_a_422_with_json_pointers_and_no_echo(
    client: httpx.AsyncClient, body: dict[str, Any], pointer: str, code: str
) -> None:
    response = await client.post("/referrals", json=body)
    problem = _assert_problem(response, 422, "validation-failed")
    assert problem["title"] == "Validation failed"
    assert problem["detail"] == "The request has invalid or missing fields."
    assert problem["instance"] == "/referrals"
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [(pointer, code)]
    assert set(problem["errors"][0]) == {"pointer", "code", "detail"}
    assert problem["errors"][0]["detail"]
    text = response.text
    for value in (SECRET_UPN, SECRET_UPN.lower(), SECRET_NAME, "Year Eleven", "input", "ctx"):
        assert value not in text


async def test_custom_validator_message_loses_the_value_error_prefix(client: httpx.AsyncClient) -> None:
    response = await client.post("/referrals", json=_with(("reason",), "bad"))
    (error,) = response.json()["errors"]
    assert error["detail"] == "reason must be one of the published codes"


async def test_several_field_errors_are_all_listed(client: httpx.AsyncClient) -> None:
    body = {"child": {"upn": SECRET_UPN.lower(), "name": "", "year_group": -1}}
    response = await client.post("/referrals", json=body)
    problem = _assert_problem(response, 422, "validation-failed")
    assert sorted(e["pointer"] for e in problem["errors"]) == [
        "/child/name",
        "/child/upn",
        "/child/year_group",
        "/reason",
    ]
    assert SECRET_UPN.lower() not in response.text


async def test_malformed_json_body_is_a_422_without_the_text(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/referrals",
        content=b'{"child": "' + SECRET_NAME.encode() + b'", oops',
        headers={"content-type": "application/json"},
    )
    problem = _assert_problem(response, 422, "validation-failed")
    assert problem["errors"][0]["code"] == "json_invalid"
    assert SECRET_NAME not in response.text
    assert "oops" not in response.text


async def test_missing_body_points_at_the_whole_document(client: httpx.AsyncClient) -> None:
    response = await client.post("/referrals")
    problem = _assert_problem(response, 422, "validation-failed")
    # RFC 6901: "" is the whole document; "/" would be the member named "" at the root.
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [("", "missing")]


@pytest.mark.parametrize(
    ("params", "headers", "pointer", "code"),
    [
        ({}, {}, "query/updated_after", "missing"),
        ({"updated_after": SECRET_NAME}, {}, "query/updated_after", "int_parsing"),
        (
            {"updated_after": "1"},
            {"idempotency-key": SECRET_UPN},
            "header/idempotency-key",
            "string_too_long",
        ),
    ],
)
async def test_parameter_errors_name_their_location(
    client: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str], pointer: str, code: str
) -> None:
    response = await client.get("/cases", params=params, headers=headers)
    problem = _assert_problem(response, 422, "validation-failed")
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [(pointer, code)]
    assert SECRET_NAME not in response.text
    assert SECRET_UPN not in response.text


async def test_pydantic_error_raised_in_a_handler_is_a_422_without_the_value(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/pydantic-inside")
    problem = _assert_problem(response, 422, "validation-failed")
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [("upn", "string_pattern_mismatch")]
    assert SECRET_UPN.lower() not in response.text


async def test_validation_problem_helper(client: httpx.AsyncClient) -> None:
    response = await client.get("/validation")
    problem = _assert_problem(response, 422, "validation-failed")
    assert problem["errors"] == [{"pointer": "/child/dob", "code": "value_error", "detail": "too young"}]


# -- ProblemError -------------------------------------------------------------------------------


async def test_problem_error_with_headers_and_extra_fields(client: httpx.AsyncClient) -> None:
    response = await client.get("/limited")
    problem = _assert_problem(response, 429, "rate-limited")
    assert response.headers["retry-after"] == "30"
    assert problem == {
        "type": PROBLEM_BASE + "rate-limited",
        "title": "Too many requests",
        "status": 429,  # extra fields never overwrite the standard members
        "detail": "Slow down.",
        "instance": "/limited",
        "limit": 600,
        "window": "1m",
    }


async def test_problem_error_with_slug_title_errors_and_extra(client: httpx.AsyncClient) -> None:
    response = await client.get("/custom")
    problem = _assert_problem(response, 409, "case-closed")
    assert problem["title"] == "Case closed"
    assert problem["detail"] == "Already closed."
    assert problem["errors"] == [{"pointer": "/status", "code": "closed", "detail": "The case is closed."}]
    assert problem["closed_on"] == "2024-09-01"


@pytest.mark.parametrize(
    ("path", "status", "slug", "detail", "extra"),
    [
        ("/missing", 404, "not-found", "No such case, or you may not see it.", {}),
        ("/conflict", 409, "stale-version", "Version mismatch.", {"current_version": 4}),
    ],
)
async def test_problem_subclasses(
    client: httpx.AsyncClient, path: str, status: int, slug: str, detail: str, extra: dict[str, Any]
) -> None:
    response = await client.get(path)
    problem = _assert_problem(response, status, slug)
    assert problem["detail"] == detail
    for key, value in extra.items():
        assert problem[key] == value


# -- HTTPException and routing ------------------------------------------------------------------


async def test_http_401_keeps_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get("/secure")
    problem = _assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == 'Bearer realm="x"'
    assert problem["title"] == "Unauthenticated"
    assert problem["detail"] == "Bearer token required."
    assert problem["instance"] == "/secure"


async def test_http_exception_with_structured_detail_drops_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/forbidden")
    problem = _assert_problem(response, 403, "forbidden")
    assert "detail" not in problem
    assert "structured detail" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "status", "slug", "title"),
    [
        ("GET", "/nowhere", 404, "not-found", "Not found"),
        ("GET", "/children/B801200005001/notes", 404, "not-found", "Not found"),
        ("DELETE", "/referrals", 405, "method-not-allowed", "Method not allowed"),
        ("PUT", "/cases", 405, "method-not-allowed", "Method not allowed"),
    ],
)
async def test_routing_errors_are_problems(
    client: httpx.AsyncClient, method: str, path: str, status: int, slug: str, title: str
) -> None:
    response = await client.request(method, path)
    problem = _assert_problem(response, status, slug)
    assert problem["title"] == title
    assert problem["instance"] == path
    if status == 405:
        assert response.headers["allow"]


# -- unexpected errors --------------------------------------------------------------------------


async def test_unexpected_exception_is_a_bare_500(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="inclusion_kit.problems"):
        response = await client.get("/boom")
    problem = _assert_problem(response, 500, "internal-error")
    assert problem["title"] == "Internal server error"
    assert problem["detail"] == "Something went wrong on our side; quote the correlation id."
    for leaked in ("RuntimeError", "database said", SECRET_NAME, SECRET_UPN, "duplicate key", "Traceback"):
        assert leaked not in response.text
    # ...but it is logged for the operators (the log formatter keeps the type, not the message)
    records = [r for r in caplog.records if r.name == "inclusion_kit.problems"]
    assert [r.getMessage() for r in records] == ["unhandled error"]
    assert records[0].exc_info is not None and records[0].exc_info[0] is RuntimeError


@pytest.mark.parametrize("path", ["/db-refused", "/db-starting"])
async def test_an_unavailable_database_is_a_503_with_retry_after(
    client: httpx.AsyncClient, path: str
) -> None:
    """Found by bench/chaos.py: while PostgreSQL restarted, writes answered 500, which a client
    does not retry. Nothing was stored; the same request (same Idempotency-Key) can be resent."""
    response = await client.get(path)
    problem = _assert_problem(response, 503, "database-unavailable")
    assert response.headers["retry-after"] == "5"
    assert "nothing was stored" in problem["detail"]
    assert "5432" not in response.text and "starting up" not in response.text


class _Lines(logging.Handler):
    """Formats at emit time (the formatter reads the correlation id from the context)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_unexpected_exception_500_carries_the_request_correlation_id() -> None:
    handler = _Lines()
    logger = logging.getLogger("inclusion_kit.problems")
    logger.addHandler(handler)
    try:
        transport = httpx.ASGITransport(app=make_app(with_context=True), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/boom", headers={"X-Correlation-ID": "corr-500-abc"})
    finally:
        logger.removeHandler(handler)
    (line,) = handler.lines
    logged = json.loads(line)
    assert logged["msg"] == "unhandled error"
    assert logged["exc_type"] == "RuntimeError"
    assert SECRET_UPN not in line and SECRET_NAME not in line
    problem = _assert_problem(response, 500, "internal-error")
    # "quote the correlation id": the caller must be given the id that the logs carry
    assert problem.get("correlation_id") == "corr-500-abc"
    assert response.headers.get("x-correlation-id") == "corr-500-abc"
    assert SECRET_UPN not in response.text
    # and the operators' log line for it carries the same id
    assert logged.get("correlation_id") == "corr-500-abc"


async def test_handled_problems_carry_the_request_correlation_id() -> None:
    transport = httpx.ASGITransport(app=make_app(with_context=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/missing", headers={"X-Correlation-ID": "corr-404-abc"})
    problem = _assert_problem(response, 404, "not-found")
    assert problem["correlation_id"] == "corr-404-abc"
    assert response.headers["x-correlation-id"] == "corr-404-abc"
