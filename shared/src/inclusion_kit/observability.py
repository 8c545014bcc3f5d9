"""Logs, metrics and correlation ids.

Logs are JSON lines and never contain personal data: only the message and an allow-list of
operational fields are written, and anything that looks like a UPN, an email address, a phone
number or a postcode is masked even inside those. Metrics are per service instance (its own
Prometheus registry), so several services can run in one process in embedded mode.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inclusion_kit.messaging.context import correlation_id_var, new_id, traceparent_var

# Operational fields a log record may carry. Anything else passed in ``extra`` is dropped.
SAFE_FIELDS = frozenset(
    {
        "service",
        "consumer",
        "group",
        "topic",
        "partition",
        "offset",
        "event_id",
        "event_type",
        "dlt_topic",
        "reason",
        "error",
        "attempts",
        "attempt",
        "source",
        "failed",
        "count",
        "method",
        "path",
        "route",
        "status",
        "duration_ms",
        "elapsed_s",
        "rate",
        "mode",
        "bus",
        "version",
        "outcome",
        "school_urn",
        "district",
        "records",
        "accepted",
        "rejected",
        "unchanged",
    }
)

_PII_PATTERNS = [
    (re.compile(r"\b[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]\b"), "[upn]"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b", re.IGNORECASE), "[postcode]"),
    (re.compile(r"(?<![\w+])(?:(?:\+44|0044)\s?(?:\(0\)\s?)?|\(?0)\d(?:[\s)]{0,2}\d){8,9}(?!\w)"), "[phone]"),
]


def scrub(text: str) -> str:
    for pattern, replacement in _PII_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": self.service,
            "msg": scrub(record.getMessage()),
        }
        correlation_id = correlation_id_var.get()
        if correlation_id:
            entry["correlation_id"] = correlation_id
        for key, value in record.__dict__.items():
            if key in SAFE_FIELDS and key not in entry:
                entry[key] = (
                    value
                    if value is None or isinstance(value, int | float)
                    else scrub(value if isinstance(value, str) else str(value))
                )
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type and where it happened; not its message, which may echo input.
            exc_type = record.exc_info[0]
            tb = record.exc_info[2]
            frames = []
            while tb is not None:
                frames.append(f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}")
                tb = tb.tb_next
            entry["exc_type"] = exc_type.__name__
            entry["exc_where"] = frames[-6:]
        return json.dumps(entry, default=str)


class PlainFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        data = json.loads(super().format(record))
        extras = " ".join(f"{k}={v}" for k, v in data.items() if k not in {"ts", "level", "logger", "msg"})
        return f"{data['ts']} {data['level']:<7} {data['msg']} {extras}"


# Loggers whose records below WARNING are written: the platform's own. Libraries' debug and info
# output is withheld whatever the level, because it carries data (aiosqlite and SQLAlchemy log
# every statement with its parameters at DEBUG, HTTP clients their URLs and bodies).
OWN_LOGGERS = frozenset(
    {"inclusion_kit", "inclusion_platform", "referral_api", "cme_tracker", "exclusions", "enforcement",
     "reporting", "portal", "uvicorn.error", "__main__"}
)  # fmt: skip


class LibraryChatterFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        name = record.name
        return name in OWN_LOGGERS or name.split(".", 1)[0] in OWN_LOGGERS


def configure_logging(service: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json_lines else PlainFormatter(service))
    handler.addFilter(LibraryChatterFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_inclusion", False):
            root.removeHandler(existing)
    handler._inclusion = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's access log prints full URLs (query strings may hold identifiers): ours is enough.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("aiokafka", "kafka", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger(noisy).level))


class ServiceMetrics:
    """Prometheus metrics for one service instance."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.http_latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.outbox_unpublished = Gauge(
            "outbox_unpublished_rows", "Outbox rows not yet published", registry=self.registry
        )
        self.outbox_oldest_age = Gauge(
            "outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox row",
            registry=self.registry,
        )
        self.outbox_published = Counter(
            "outbox_published_total", "Outbox rows published", registry=self.registry
        )
        self.consumed = Counter(
            "events_consumed_total",
            "Events consumed by outcome",
            ["consumer", "outcome"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "events_dead_lettered_total",
            "Events sent to dead letters",
            ["consumer", "reason"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "consumer_lag_records",
            "Records behind the end of the partition",
            ["consumer", "topic", "partition"],
            registry=self.registry,
        )

        self.dead_letter_depth = Gauge(
            "dead_letter_depth_records",
            "Dead letters not yet replayed (end offsets minus the replay group's committed offsets)",
            ["consumer", "topic"],
            registry=self.registry,
        )
        self.ingest_records = Counter(
            "ingest_records_total",
            "Records taken in by bulk endpoints (one request carries thousands)",
            ["kind", "outcome"],
            registry=self.registry,
        )

    def count_ingest(self, kind: str, **outcomes: int) -> None:
        """Count a bulk submission's records by outcome (after its commit)."""
        for outcome, value in outcomes.items():
            if value:
                self.ingest_records.labels(kind, outcome).inc(value)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContextMiddleware:
    """Sets the correlation id (from X-Correlation-ID / X-Request-ID, or new), echoes it back,
    and records HTTP metrics by route template (never by raw path, which may hold identifiers)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode(errors="replace") for k, v in scope.get("headers", [])}
        incoming = headers.get("x-correlation-id") or headers.get("x-request-id") or ""
        correlation_id = incoming if _SAFE_ID.match(incoming) else new_id()
        scope.setdefault("state", {})["correlation_id"] = correlation_id  # for the 500 handler
        token = correlation_id_var.set(correlation_id)
        traceparent = headers.get("traceparent", "")
        tp_token = traceparent_var.set(traceparent if _TRACEPARENT.match(traceparent) else None)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-correlation-id", correlation_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            method = scope.get("method", "GET")
            self.metrics.http_requests.labels(method, template, str(status_holder["status"])).inc()
            self.metrics.http_latency.labels(method, template).observe(elapsed)
            correlation_id_var.reset(token)
            traceparent_var.reset(tp_token)


MetricsEndpoint = Callable[[Request], Awaitable[Response]]
