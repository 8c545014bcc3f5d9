"""Logs never carry personal data; correlation ids; metrics by route template, never by raw path."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from inclusion_kit.messaging.context import correlation_id_var, traceparent_var
from inclusion_kit.observability import (
    SAFE_FIELDS,
    JsonFormatter,
    PlainFormatter,
    RequestContextMiddleware,
    ServiceMetrics,
    configure_logging,
    scrub,
)

UPN = "B801200005001"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# -- scrub --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # UPNs
        (UPN, "[upn]"),
        (f"child {UPN} referred", "child [upn] referred"),
        (f"upn={UPN}.", "upn=[upn]."),
        ("A12345678901B", "[upn]"),  # a temporary UPN ends in a letter
        (f"{UPN},{UPN}", "[upn],[upn]"),
        # emails
        ("jane.smith@example.org", "[email]"),
        ("contact j.smith+school@kent.sch.uk now", "contact [email] now"),
        ("Parent: mum_2@mail.example.co.uk;", "Parent: [email];"),
        # postcodes
        ("ME14 1XX", "[postcode]"),
        ("CT1 2AB", "[postcode]"),
        ("lives at CT1 2AB, Canterbury", "lives at [postcode], Canterbury"),
        ("me14 1xx", "[postcode]"),
        ("ME141XX", "[postcode]"),
        ("SW1A 1AA", "[postcode]"),
        ("W1A 0AX", "[postcode]"),
        ("M1 1AE", "[postcode]"),
        ("EC1A 1BB", "[postcode]"),
        # phone numbers
        ("07700 900123", "[phone]"),
        ("07700900123", "[phone]"),
        ("+44 7700 900123", "[phone]"),
        ("+447700900123", "[phone]"),
        ("01622 123456", "[phone]"),
        ("020 7946 0958", "[phone]"),
        ("call 01622 123456.", "call [phone]."),
        ("(01622) 123456", ("[phone]", "([phone]")),  # parenthesised area code, as on letterheads
        ("+44 (0)7700 900123", "[phone]"),
        # several kinds at once
        (
            f"{UPN} jane@example.org ME14 1XX 07700 900123",
            "[upn] [email] [postcode] [phone]",
        ),
    ],
)
def test_scrub_masks_personal_data(text: str, expected: str | tuple[str, ...]) -> None:
    assert scrub(text) in ((expected,) if isinstance(expected, str) else expected)


@pytest.mark.parametrize(
    "text",
    [
        "123e4567-e89b-12d3-a456-426614174000",
        "0b1e4f1c-7d4e-4a36-9d7a-3c1c2b9e5f10",
        "c0ffee00-0000-4000-8000-012345678901",
        "event_id=5f0c9a0e-3b1d-4c2e-8f4a-0123456789ab",  # a uuid4 whose last group starts 0 + 9 digits
        "urn 118000",
        "118000",
        "school_urn=118000 district=Dover",
        "2024-09-02",
        "2024-09-02T08:30:15.123456Z",
        "2024-09-02T08:30:15+01:00",
        "between 2024-09-01 and 2024-12-20",
        "offset 1234567890",
        "count=12345678901",
        "duration_ms=0.123456789",
        "inclusion.referrals.referral.decided.v1",
        "inclusion.referrals.cme-tracker.dlt",
        "traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "LA 886 estab 2001",
        "took 1250 ms for 500 records",
        "HTTP 404 on /children/{ref}",
    ],
)
def test_scrub_leaves_ordinary_ids_and_numbers_alone(text: str) -> None:
    assert scrub(text) == text


# -- JsonFormatter ------------------------------------------------------------------------------


class _Capture(logging.Handler):
    """Formats at emit time (the formatter reads the correlation id from the context)."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, _Capture]]:
    logger = logging.getLogger(f"test.observability.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = _Capture(JsonFormatter("referral-api"))
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


def _entries(handler: _Capture) -> list[dict[str, Any]]:
    entries = []
    for line in handler.lines:
        assert "\n" not in line  # one JSON object per line
        entry = json.loads(line)
        assert isinstance(entry, dict)
        entries.append(entry)
    return entries


def test_one_json_object_per_line_with_the_standard_fields(capture: tuple[logging.Logger, _Capture]) -> None:
    logger, handler = capture
    token = correlation_id_var.set("corr-77")
    try:
        logger.warning("relay paused\nfor %d seconds", 5)
    finally:
        correlation_id_var.reset(token)
    (entry,) = _entries(handler)
    assert entry["level"] == "warning"
    assert entry["msg"] == "relay paused\nfor 5 seconds"
    assert entry["service"] == "referral-api"
    assert entry["correlation_id"] == "corr-77"
    assert entry["logger"] == logger.name
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$", entry["ts"])
    assert set(entry) == {"ts", "level", "logger", "service", "msg", "correlation_id"}


def test_no_correlation_id_outside_a_request(capture: tuple[logging.Logger, _Capture]) -> None:
    logger, handler = capture
    logger.info("tick")
    (entry,) = _entries(handler)
    assert "correlation_id" not in entry


@pytest.mark.parametrize(
    "extra",
    [
        {"upn": UPN},
        {"address": "1 High Street, Maidstone"},
        {"dob": "2015-03-04"},
        {"child_name": "Jane Smith"},
        {"full_name": "Jane Smith"},
        {"first_name": "Jane"},
        {"email": "jane@example.org"},
        {"postcode": "ME14 1XX"},
        {"payload": {"name": "Jane Smith"}},
        {"body": b"Jane Smith"},
        {"child_ref": "child-1"},  # not on the allow-list either
    ],
)
def test_extras_off_the_allow_list_are_dropped(
    capture: tuple[logging.Logger, _Capture], extra: dict[str, Any]
) -> None:
    logger, handler = capture
    logger.info("referral received", extra={**extra, "event_type": "inclusion.referrals.x.y.v1"})
    (entry,) = _entries(handler)
    (key,) = extra
    assert key not in entry
    assert entry["event_type"] == "inclusion.referrals.x.y.v1"
    line = handler.lines[0]
    for value in ("Jane", "Smith", "High Street", "2015-03-04", "ME14", UPN, "example.org", "child-1"):
        assert value not in line


def test_the_name_extra_cannot_reach_the_log(capture: tuple[logging.Logger, _Capture]) -> None:
    logger, handler = capture
    # logging itself refuses an extra that would overwrite LogRecord.name
    with pytest.raises(KeyError, match="name"):
        logger.info("x", extra={"name": "Jane Smith"})
    assert handler.lines == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"error": f"duplicate key ({UPN})"}, {"error": "duplicate key ([upn])"}),
        ({"reason": "bounced: jane@example.org"}, {"reason": "bounced: [email]"}),
        ({"path": f"/children/{UPN}/notes"}, {"path": "/children/[upn]/notes"}),
        ({"district": "Dover", "school_urn": "118000"}, {"district": "Dover", "school_urn": "118000"}),
        (
            {"count": 3, "duration_ms": 12.5, "failed": False},
            {"count": 3, "duration_ms": 12.5, "failed": False},
        ),
        ({"partition": 0, "offset": 1234567890}, {"partition": 0, "offset": 1234567890}),
    ],
)
def test_allow_listed_extras_are_kept_and_scrubbed(
    capture: tuple[logging.Logger, _Capture], extra: dict[str, Any], expected: dict[str, Any]
) -> None:
    logger, handler = capture
    logger.info("x", extra=extra)
    (entry,) = _entries(handler)
    for key, value in expected.items():
        assert entry[key] == value


@pytest.mark.parametrize(
    "value",
    [
        ValueError(f"Jane Smith {UPN} jane@example.org"),
        [UPN, "jane@example.org"],
        {"to": "jane@example.org", "upn": UPN},
    ],
)
def test_non_string_allow_listed_extras_are_scrubbed_too(
    capture: tuple[logging.Logger, _Capture], value: Any
) -> None:
    logger, handler = capture
    logger.warning("delivery failed", extra={"error": value})
    (line,) = handler.lines
    assert "error" in json.loads(line)
    assert UPN not in line
    assert "jane@example.org" not in line


def test_the_message_is_scrubbed(capture: tuple[logging.Logger, _Capture]) -> None:
    logger, handler = capture
    logger.info("lookup %s by %s", UPN, "officer@kent.gov.uk")
    (entry,) = _entries(handler)
    assert entry["msg"] == "lookup [upn] by [email]"


def _raise_deep() -> None:
    raise ValueError(f"Jane Smith {UPN}")


def test_exceptions_log_type_and_frames_but_never_the_message(
    capture: tuple[logging.Logger, _Capture],
) -> None:
    logger, handler = capture
    try:
        _raise_deep()
    except ValueError:
        logger.exception("import failed")
    (line,) = handler.lines
    entry = json.loads(line)
    assert entry["level"] == "error"
    assert entry["msg"] == "import failed"
    assert entry["exc_type"] == "ValueError"
    where = entry["exc_where"]
    assert isinstance(where, list) and 1 <= len(where) <= 6
    assert all(re.match(r"^[^/]+\.py:\d+$", frame) for frame in where)
    assert where[-1].startswith("test_observability.py:")
    assert "Jane" not in line
    assert "Smith" not in line
    assert UPN not in line
    assert "Traceback" not in line


def test_exception_frames_are_capped_at_six(capture: tuple[logging.Logger, _Capture]) -> None:
    logger, handler = capture

    def recurse(n: int) -> None:
        if n == 0:
            raise KeyError("B801200005001")
        recurse(n - 1)

    try:
        recurse(20)
    except KeyError:
        logger.error("failed", exc_info=True)
    (entry,) = _entries(handler)
    assert entry["exc_type"] == "KeyError"
    assert len(entry["exc_where"]) == 6
    assert UPN not in handler.lines[0]


def test_plain_formatter_is_scrubbed_and_drops_unsafe_extras() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "seen %s", (UPN,), None)
    record.__dict__.update({"dob": "2015-03-04", "status": 200})
    line = PlainFormatter("cme-tracker").format(record)
    assert "seen [upn]" in line
    assert "status=200" in line
    assert "service=cme-tracker" in line
    assert "2015-03-04" not in line
    assert UPN not in line


def test_safe_fields_hold_no_obvious_personal_data() -> None:
    for unsafe in ("name", "upn", "dob", "address", "email", "postcode", "phone", "child_ref", "payload"):
        assert unsafe not in SAFE_FIELDS


# -- RequestContextMiddleware -------------------------------------------------------------------


@pytest.fixture
async def context_app() -> AsyncIterator[tuple[httpx.AsyncClient, ServiceMetrics]]:
    metrics = ServiceMetrics("test-svc")
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    @app.get("/children/{ref}")
    async def child(ref: str) -> dict[str, str | None]:
        return {"ref": ref, "correlation_id": correlation_id_var.get(), "traceparent": traceparent_var.get()}

    @app.post("/children/{ref}/notes/{note_id}", status_code=201)
    async def note(ref: str, note_id: int) -> dict[str, int]:
        return {"note": note_id}

    @app.get("/metrics")
    async def metrics_endpoint() -> Any:
        return metrics.render()

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, metrics


@pytest.mark.parametrize(
    "incoming",
    [
        "corr-123",
        "0b1e4f1c-7d4e-4a36-9d7a-3c1c2b9e5f10",
        "svc.referral:42_x",
        "a",
        "x" * 64,
    ],
)
async def test_valid_correlation_id_is_used_and_echoed(
    context_app: tuple[httpx.AsyncClient, ServiceMetrics], incoming: str
) -> None:
    client, _ = context_app
    response = await client.get("/children/abc", headers={"X-Correlation-ID": incoming})
    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == incoming
    assert response.json()["correlation_id"] == incoming


async def test_x_request_id_is_accepted_too(context_app: tuple[httpx.AsyncClient, ServiceMetrics]) -> None:
    client, _ = context_app
    response = await client.get("/children/abc", headers={"X-Request-ID": "req-9"})
    assert response.headers["x-correlation-id"] == "req-9"
    assert response.json()["correlation_id"] == "req-9"


@pytest.mark.parametrize(
    "incoming",
    [
        "has spaces in it",
        "x" * 65,
        "y" * 200,
        "semi;colon",
        "slash/ed",
        'quote"d',
        f"<script>{UPN}</script>",
        "ünïcode",
        "",
    ],
)
async def test_invalid_correlation_id_is_replaced(
    context_app: tuple[httpx.AsyncClient, ServiceMetrics], incoming: str
) -> None:
    client, _ = context_app
    response = await client.get("/children/abc", headers={"X-Correlation-ID": incoming.encode()})
    echoed = response.headers["x-correlation-id"]
    assert echoed != incoming
    assert UUID_RE.match(echoed)
    assert response.json()["correlation_id"] == echoed


async def test_missing_correlation_id_is_minted_per_request(
    context_app: tuple[httpx.AsyncClient, ServiceMetrics],
) -> None:
    client, _ = context_app
    first = await client.get("/children/abc")
    second = await client.get("/children/abc")
    assert UUID_RE.match(first.headers["x-correlation-id"])
    assert first.headers["x-correlation-id"] != second.headers["x-correlation-id"]
    assert correlation_id_var.get() is None  # reset after the request


@pytest.mark.parametrize(
    ("incoming", "expected"),
    [
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", None),
        ("garbage", None),
        ("", None),
    ],
)
async def test_traceparent_is_taken_only_when_well_formed(
    context_app: tuple[httpx.AsyncClient, ServiceMetrics], incoming: str, expected: str | None
) -> None:
    client, _ = context_app
    response = await client.get("/children/abc", headers={"traceparent": incoming})
    assert response.json()["traceparent"] == expected


async def test_metrics_are_recorded_by_route_template(
    context_app: tuple[httpx.AsyncClient, ServiceMetrics],
) -> None:
    client, metrics = context_app
    for ref in ("abc", UPN, "def"):
        assert (await client.get(f"/children/{ref}")).status_code == 200
    assert (await client.post(f"/children/{UPN}/notes/7")).status_code == 201
    assert (await client.post(f"/children/{UPN}/notes/not-a-number")).status_code == 422
    assert (await client.get(f"/nowhere/{UPN}")).status_code == 404

    body = metrics.render().body.decode()
    assert 'http_requests_total{method="GET",route="/children/{ref}",status="200"} 3.0' in body
    assert (
        'http_requests_total{method="POST",route="/children/{ref}/notes/{note_id}",status="201"} 1.0' in body
    )
    assert (
        'http_requests_total{method="POST",route="/children/{ref}/notes/{note_id}",status="422"} 1.0' in body
    )
    assert 'http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in body
    assert 'http_request_duration_seconds_count{method="GET",route="/children/{ref}"} 3.0' in body
    for raw in ("/children/abc", "/children/def", UPN, "not-a-number", "/nowhere"):
        assert raw not in body


async def test_metrics_endpoint_serves_prometheus_text(
    context_app: tuple[httpx.AsyncClient, ServiceMetrics],
) -> None:
    client, _ = context_app
    await client.get("/children/abc")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'route="/children/{ref}"' in response.text
    assert "/children/abc" not in response.text


def test_each_service_has_its_own_registry() -> None:
    a, b = ServiceMetrics("a"), ServiceMetrics("b")
    a.http_requests.labels("GET", "/x", "200").inc()
    assert 'route="/x"' in a.render().body.decode()
    assert 'route="/x"' not in b.render().body.decode()


def test_libraries_debug_and_info_are_withheld_whatever_the_level(capsys: pytest.CaptureFixture[str]) -> None:
    """aiosqlite and SQLAlchemy log every statement with its parameters at DEBUG: a DEBUG run must
    still not write them. The platform's own debug lines are written (scrubbed)."""
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    try:
        configure_logging("referral-api", level="DEBUG")
        logging.getLogger("aiosqlite").debug("executing INSERT ... ('Zephyrine', 'Quillfeather')")
        logging.getLogger("httpx").info("HTTP Request: POST http://x/referrals")
        logging.getLogger("referral_api.service_layer").debug("ingest chunk applied")
        logging.getLogger("sqlalchemy.engine").warning("pool overflow")
        err = capsys.readouterr().err
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_inclusion", False):
                root.removeHandler(handler)
        root.setLevel(before[0])
    assert "Zephyrine" not in err and "HTTP Request" not in err
    assert "ingest chunk applied" in err and "pool overflow" in err
