"""Fuzzing every service's API from its own OpenAPI document (schemathesis).

For each of the five services the app is built in-process on SQLite, seeded with the reference
data it needs (referral-api's schools) and with every event it consumes (each contract's own
``example``, delivered through the service's real dispatcher), then every documented operation is
called with generated requests - valid ones (positive) and invalid ones (negative) - as every
role. Checked on every response:

- no 5xx (``not_a_server_error``);
- the status code is one the operation documents (``status_code_conformance``);
- the content type and the body match the documented response (``content_type_conformance``,
  ``response_schema_conformance``);
- invalid input is refused with a 4xx (``negative_data_rejection``).

Then a stateful run follows the links schemathesis infers between operations (an id returned by
one call used in the next), so generated requests reach existing records, not only 404s.

Sizes: ``FUZZ_EXAMPLES`` valid examples per operation and admitted role (half as many invalid;
default 4, about a minute for the module in CI), ``FUZZ_STATEFUL_EXAMPLES`` stateful scenarios
(default 5). CI's runs are deterministic (the same requests each time, so a failure reproduces);
``FUZZ_RANDOM=1`` explores new ones. By hand, e.g.::

    FUZZ_EXAMPLES=100 FUZZ_STATEFUL_EXAMPLES=50 FUZZ_RANDOM=1 uv run pytest \\
        tests/robustness/test_fuzz_apis.py -s

Every problem found is collected (not only the first) and reported with a curl command to
reproduce it. The number of requests tried per service is printed (``-s``). What the fuzzer found
is pinned by the regression tests at the end of this module.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import NoLinksFound
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import insert

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.messaging.dispatch import Delivery, Failure
from inclusion_platform.embedded import SERVICES, ServiceEntry

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "5"))
SCHOOL_URN = "118000"
SCHOOLS = [
    ("118000", "8862000", "Example Primary School", "primary", "Maidstone"),
    ("118001", "8864000", "Example High School", "secondary", "Dover"),
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
POSITIVE = schemathesis.GenerationMode.POSITIVE
NEGATIVE = schemathesis.GenerationMode.NEGATIVE
# Deterministic in CI (the same requests every run, so a failure reproduces); FUZZ_RANDOM=1 explores.
RANDOM = os.environ.get("FUZZ_RANDOM", "") not in ("", "0")


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> bytes:
    # The bulk endpoints document one line's schema; a generated body is one line.
    lines = (
        value if isinstance(value, list) and value and all(isinstance(v, dict) for v in value) else [value]
    )
    return b"".join(json.dumps(line, default=str).encode() + b"\n" for line in lines)


@schemathesis.serializer("text/csv")
def _csv(_ctx: Any, value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else str(value).encode()


@dataclass
class Findings:
    """Failures collected across the run (not raised at once: one run shows every problem)."""

    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def record(self, label: str, role: str, error: FailureGroup) -> None:
        kinds = ", ".join(sorted({type(failure).__name__ for failure in error.exceptions}))
        self.failures.setdefault((label, kinds, ""), f"[as {role}] {error.message}"[:3000])

    def crash(self, label: str, role: str, error: Exception, case: Any) -> None:
        self.by_status[500] += 1
        self.failures.setdefault(
            (label, "unhandled " + type(error).__name__, ""),
            f"[as {role}] {type(error).__name__}: {error}\n    {case.as_curl_command()}"[:3000],
        )

    def report(self) -> str:
        return "\n\n".join(f"{op} {kind}: {text}" for (op, kind, _t), text in sorted(self.failures.items()))


def tokens(auth: Any) -> dict[str, dict[str, str]]:
    out = {}
    for role in Role:
        urns = [SCHOOL_URN] if role is Role.SCHOOL else []
        value = mint_token(auth, subject=f"fuzz-{role}", roles=[role], urns=urns)
        out[str(role)] = {"Authorization": f"Bearer {value}"}
    return out


async def prepare(entry: ServiceEntry, tmp_path: Path) -> Any:
    settings = entry.settings_class(  # type: ignore[call-arg]
        mode="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / (entry.name + '.db')}",
        # Fuzzing sends thousands of requests per token: the limiter is tested in test_limits.py.
        http={"rate_limit_per_minute": 0},
    )
    kernel = entry.bootstrap(settings)
    await kernel.migrate()
    if entry.name == "referral-api":
        from referral_api.adapters.orm import schools

        now = datetime.now(UTC)
        async with kernel.engine.begin() as conn:
            await conn.execute(
                insert(schools),
                [
                    {
                        "urn": urn,
                        "laestab": laestab,
                        "la_code": "886",
                        "name": name,
                        "phase": phase,
                        "district": district,
                        "is_open": True,
                        "updated_at": now,
                    }
                    for urn, laestab, name, phase, district in SCHOOLS
                ],
            )
    # Every event the service consumes, from the contracts' own examples: records to find.
    for dispatcher in kernel.dispatchers():
        for event_type in sorted(dispatcher.handlers):
            model = kernel.registry[event_type]
            if model.example is None:
                continue
            event = model.model_validate(model.example)
            outcome = await dispatcher.process(Delivery(Envelope.wrap(event, source="inclusion/fuzz-seed")))
            assert not isinstance(outcome, Failure), (entry.name, event_type, outcome)
    await kernel.dispose()
    return settings


def bulk(operation: Any) -> bool:
    content = (operation.definition.raw.get("requestBody") or {}).get("content", {})
    return any(media in content for media in ("application/x-ndjson", "text/csv"))


def fuzz_operation(
    operation: Any,
    mode: schemathesis.GenerationMode,
    headers: dict[str, str],
    role: str,
    examples: int,
    findings: Findings,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    checks = NEGATIVE_CHECKS if mode is schemathesis.GenerationMode.NEGATIVE else CHECKS
    if bulk(operation):
        # Bulk files are read line by line: a bad line is reported in the 200 answer's rejections
        # (as documented), not refused with a 4xx, so negative input is not "accepted data".
        checks = CHECKS

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    # The token is fixed (not generated, not negated): the authorisation matrix attacks tokens.
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    def run(case: Any) -> None:
        findings.requests += 1
        try:
            response = case.call(headers=headers)
        except Exception as error:  # the app raised: a real server would have answered 500
            findings.crash(label, role, error, case)
            return
        findings.by_status[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as error:
            findings.record(label, role, error)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Nothing to negate (an operation without parameters or body): no negative case exists.
        assert mode is schemathesis.GenerationMode.NEGATIVE, label


def fuzz_stateful(schema: Any, headers: dict[str, str], findings: Findings) -> None:
    machine = schema.as_state_machine()

    original_call: Callable[..., Any] = machine.call

    def call(self: Any, case: Any, **kwargs: Any) -> Any:
        kwargs["headers"] = {**(kwargs.get("headers") or {}), **headers}
        findings.requests += 1
        try:
            response = original_call(self, case, **kwargs)
        except Exception as error:
            findings.crash(
                f"stateful {case.operation.method.upper()} {case.operation.path}", "admin", error, case
            )
            raise
        findings.by_status[response.status_code] += 1
        return response

    def validate_response(self: Any, response: Any, case: Any, **kwargs: Any) -> None:
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as error:
            findings.record(f"stateful {case.operation.method.upper()} {case.operation.path}", "admin", error)

    machine.call = call
    machine.validate_response = validate_response
    try:
        run_machine(machine)
    except NoLinksFound:
        pass  # no answer feeds another operation's parameters (reporting's read-only reports)


def run_machine(machine: Any) -> None:
    machine.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=not RANDOM,
            stateful_step_count=6,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )


@pytest.mark.parametrize("entry", SERVICES, ids=lambda e: e.name)
def test_fuzz_service_api(entry: ServiceEntry, tmp_path: Path) -> None:
    settings = asyncio.run(prepare(entry, tmp_path))
    app = entry.create_app(settings)
    findings = Findings()
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        role_headers = tokens(settings.auth)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert operations, f"{entry.name} documents no operation"
        for operation in operations:
            admitted = operation.definition.raw.get("x-roles") or [str(r) for r in Role]
            for role, headers in role_headers.items():
                if role not in admitted:
                    # Refused with 403 whatever the input: one try shows the refusal is
                    # documented; the authorisation matrix covers the rest.
                    fuzz_operation(operation, POSITIVE, headers, role, 1, findings)
                    continue
                # Valid input as every admitted role (what a role may see differs); invalid input
                # as each too - validation comes before scoping, so fewer examples suffice.
                fuzz_operation(operation, POSITIVE, headers, role, EXAMPLES, findings)
                fuzz_operation(operation, NEGATIVE, headers, role, max(1, EXAMPLES // 2), findings)
        stateless = findings.requests
        fuzz_stateful(schema, role_headers["admin"], findings)
    finally:
        schemathesis_asgi.shutdown_lifespans()
    print(
        f"\n{entry.name}: {findings.requests} requests fuzzed ({stateless} stateless over "
        f"{len(operations)} operations x {len(Role)} roles, valid and invalid input, "
        f"{findings.requests - stateless} stateful); statuses {dict(sorted(findings.by_status.items()))}"
    )
    if findings.failures:
        pytest.fail(
            f"{entry.name}: {len(findings.failures)} problem(s)\n\n{findings.report()}", pytrace=False
        )


# -- regressions: what the fuzzer found, pinned -------------------------------------------------
BY_NAME = {entry.name: entry for entry in SERVICES}


async def client_for(name: str, tmp_path: Path) -> Any:
    entry = BY_NAME[name]
    settings = await prepare(entry, tmp_path)
    app = entry.create_app(settings)
    return app, settings, tokens(settings.auth)


async def call(app: Any, method: str, url: str, **kwargs: Any) -> Any:
    import httpx

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, url, **kwargs)


def documented(app: Any, method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = app.openapi()["paths"][path][method]["responses"]
    return responses


async def test_regression_academic_year_that_does_not_follow_on_is_422_not_500(tmp_path: Path) -> None:
    # GET /reason-codes?academic_year=0000/00 matched the pattern and crashed (500) parsing it.
    app, _settings, role = await client_for("exclusions", tmp_path)
    response = await call(
        app, "GET", "/reason-codes", params={"academic_year": "0000/00"}, headers=role["officer"]
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == "query/academic_year"
    ok = await call(app, "GET", "/reason-codes", params={"academic_year": "2025/26"}, headers=role["officer"])
    assert ok.status_code == 200 and ok.json(), ok.text


async def test_regression_timestamps_carry_an_offset_on_sqlite(tmp_path: Path) -> None:
    # SQLite hands back naive datetimes: schools' updated_at and roll changes' received_at were
    # answered without an offset, which is not an RFC 3339 date-time as documented.
    app, _settings, role = await client_for("referral-api", tmp_path)
    example = app.openapi()["components"]["schemas"]["DeletionReturnIn"]["examples"][1]
    created = await call(
        app,
        "POST",
        "/roll-changes/deletions",
        json=example,
        headers={**role["admin"], "Idempotency-Key": "regression-offset"},
    )
    assert created.status_code == 201, created.text
    schools = await call(app, "GET", "/schools", headers=role["admin"])
    changes = await call(app, "GET", "/roll-changes", headers=role["admin"])
    stamps = [s["updated_at"] for s in schools.json()["items"]]
    stamps += [c["received_at"] for c in changes.json()["items"]]
    assert len(stamps) == len(SCHOOLS) + 1, stamps
    for stamp in stamps:
        assert datetime.fromisoformat(stamp.replace("Z", "+00:00")).utcoffset() is not None, stamp


async def test_regression_undecodable_bodies_and_bad_cursors_answer_a_documented_400(tmp_path: Path) -> None:
    # FastAPI answers 400 for a body that is not UTF-8, the kit 400 for a forged cursor: neither
    # was documented. Now 400 is, with the problem schema under application/problem+json.
    app, _settings, role = await client_for("referral-api", tmp_path)
    body = await call(
        app,
        "POST",
        "/referrals",
        content=b"\xff\xfe{",
        headers={**role["officer"], "Content-Type": "application/json", "Idempotency-Key": "regression-400"},
    )
    assert body.status_code == 400, body.text
    assert body.headers["content-type"].startswith("application/problem+json")
    cursor = await call(app, "GET", "/referrals", params={"cursor": "forged"}, headers=role["officer"])
    assert cursor.status_code == 400, cursor.text
    for method, path in (("post", "/referrals"), ("get", "/referrals")):
        responses = documented(app, method, path)
        assert "400" in responses
        for status in ("400", "401", "403", "404", "413", "422", "429"):
            schema = responses[status]["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, (path, status)


async def test_regression_updated_after_as_a_bare_number_is_422(tmp_path: Path) -> None:
    # pydantic read updated_after=0 as Unix seconds; the documented input is an ISO 8601 instant.
    app, _settings, role = await client_for("enforcement", tmp_path)
    for value in ("0", "-234", "1700000000.5"):
        response = await call(
            app, "GET", "/penalty-notices", params={"updated_after": value}, headers=role["officer"]
        )
        assert response.status_code == 422, (value, response.text)
        assert response.json()["errors"][0]["pointer"] == "query/updated_after"
    fine = await call(
        app,
        "GET",
        "/penalty-notices",
        params={"updated_after": "2025-01-31T09:00:00Z"},
        headers=role["officer"],
    )
    assert fine.status_code == 200, fine.text
