"""CloudEvents 1.0 envelope, Kafka protocol binding in binary content mode.

In binary mode the event attributes travel as Kafka headers prefixed ``ce_`` and the record value
is the event data itself (the model's JSON), so a plain Kafka consumer that knows nothing of this
package can read the payload and validate it against the published JSON Schema.

Headers: ``ce_id`` (= the outbox row id, stable across re-sends), ``ce_type`` (the contract),
``ce_source`` (the producing service), ``ce_time``, ``ce_subject`` (the aggregate id),
``ce_specversion`` (1.0), ``content-type``, and the extensions ``traceparent``,
``correlation_id``, ``causation_id``. The record key is the child's reference.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from inclusion_kit.contracts.base import IntegrationEvent

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_specversion")
_SPEC_HEADER = ("ce_specversion", SPEC_VERSION.encode())
_JSON_HEADER = ("content-type", CONTENT_TYPE.encode())
_ATTRIBUTE_HEADERS = frozenset({"content-type", "traceparent", "correlation_id", "causation_id"})


class EnvelopeError(ValueError):
    """A record is not a valid CloudEvent in Kafka binary mode (a permanent failure)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    id: str
    type: str
    source: str
    time: datetime
    topic: str
    key: str
    data: bytes
    subject: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    content_type: str = CONTENT_TYPE
    # Extra headers that are not CloudEvents attributes (e.g. dead-letter reasons); kept verbatim.
    extra_headers: tuple[tuple[str, bytes], ...] = field(default=())

    @classmethod
    def wrap(
        cls,
        event: IntegrationEvent,
        *,
        source: str,
        event_id: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        return cls(
            id=event_id or str(uuid.uuid4()),
            type=event.event_type,
            source=source,
            time=event.occurred_at,
            topic=event.topic(),
            key=event.key,
            data=event.to_json_bytes(),
            subject=event.aggregate_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
            traceparent=traceparent,
        )

    def with_extra_headers(self, headers: Sequence[tuple[str, bytes]]) -> Envelope:
        return replace(self, extra_headers=tuple(headers))

    def payload(self) -> dict[str, Any]:
        try:
            value = json.loads(self.data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EnvelopeError(f"event {self.id}: data is not JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise EnvelopeError(f"event {self.id}: data is not a JSON object")
        return value

    # -- Kafka binary mode ----------------------------------------------------------------------
    def kafka_headers(self) -> list[tuple[str, bytes]]:
        headers: list[tuple[str, bytes]] = [
            _SPEC_HEADER,
            ("ce_id", self.id.encode()),
            ("ce_type", self.type.encode()),
            ("ce_source", self.source.encode()),
            ("ce_time", _rfc3339(self.time).encode()),
            _JSON_HEADER
            if self.content_type == CONTENT_TYPE
            else ("content-type", self.content_type.encode()),
        ]
        if self.subject is not None:
            headers.append(("ce_subject", self.subject.encode()))
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        if self.correlation_id:
            headers.append(("correlation_id", self.correlation_id.encode()))
        if self.causation_id:
            headers.append(("causation_id", self.causation_id.encode()))
        if self.extra_headers:
            headers.extend(self.extra_headers)
        return headers

    @classmethod
    def from_kafka(
        cls,
        *,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes],
    ) -> Envelope:
        items = headers.items() if isinstance(headers, Mapping) else headers
        known: dict[str, str] = {}
        extra: list[tuple[str, bytes]] = []
        for name, raw in items:
            if name in _ATTRIBUTE_HEADERS or name.startswith("ce_"):
                try:
                    known[name] = raw.decode()
                except UnicodeDecodeError as exc:
                    raise EnvelopeError(f"header {name} is not UTF-8") from exc
            else:
                extra.append((name, raw))
        missing = [name for name in REQUIRED_HEADERS if name not in known]
        if missing:
            raise EnvelopeError(f"not a CloudEvent: missing header(s) {', '.join(missing)}")
        if known["ce_specversion"] != SPEC_VERSION:
            raise EnvelopeError(f"unsupported CloudEvents specversion {known['ce_specversion']!r}")
        if value is None:
            raise EnvelopeError(f"event {known['ce_id']}: empty value")
        time_text = known.get("ce_time")
        try:
            time = datetime.fromisoformat(time_text) if time_text else datetime.now(UTC)
        except ValueError as exc:
            raise EnvelopeError(f"event {known['ce_id']}: bad ce_time {time_text!r}") from exc
        # Keep UTC whatever offset a foreign producer used; a time without one is taken as UTC.
        time = time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)
        return cls(
            id=known["ce_id"],
            type=known["ce_type"],
            source=known["ce_source"],
            time=time,
            topic=topic,
            key=key.decode(errors="replace") if key else "",
            data=value,
            subject=known.get("ce_subject"),
            correlation_id=known.get("correlation_id"),
            causation_id=known.get("causation_id"),
            traceparent=known.get("traceparent"),
            content_type=known.get("content-type", CONTENT_TYPE),
            extra_headers=tuple(extra),
        )


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.utcoffset():
        moment = moment.astimezone(UTC)
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
