"""The CloudEvents envelope (Kafka binary mode) and the integration-event base and registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import pytest
from pydantic import ValidationError

from inclusion_kit.contracts.base import ContractError, IntegrationEvent, TolerantEnum
from inclusion_kit.contracts.envelope import (
    CONTENT_TYPE,
    SPEC_VERSION,
    Envelope,
    EnvelopeError,
    _rfc3339,
)
from inclusion_kit.contracts.registry import EventRegistry

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
WHEN = datetime(2024, 9, 2, 8, 30, 15, 123456, tzinfo=UTC)


class ReferralOutcome(TolerantEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    UNKNOWN = "unknown"


class ReferralDecided(IntegrationEvent):
    event_type: ClassVar[str] = "inclusion.referrals.referral.decided.v1"

    outcome: ReferralOutcome
    reason_code: str | None = None


def _event(**overrides: object) -> ReferralDecided:
    fields: dict[str, object] = {
        "child_ref": "child-7f3a",
        "aggregate_id": "referral-42",
        "aggregate_version": 3,
        "occurred_at": WHEN,
        "outcome": ReferralOutcome.ACCEPTED,
    }
    fields.update(overrides)
    return ReferralDecided.model_validate(fields)


def _envelope(**kwargs: str) -> Envelope:
    return Envelope.wrap(
        _event(),
        source="referral-api",
        event_id=kwargs.get("event_id", "0b1e4f1c-7d4e-4a36-9d7a-3c1c2b9e5f10"),
        correlation_id=kwargs.get("correlation_id", "corr-1"),
        causation_id=kwargs.get("causation_id", "cause-1"),
        traceparent=kwargs.get("traceparent", TRACEPARENT),
    )


def _headers(**replace: bytes | None) -> list[tuple[str, bytes]]:
    """Valid binary-mode headers, with some replaced (bytes) or removed (None)."""
    base = dict(_envelope().kafka_headers())
    for name, value in replace.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return list(base.items())


# -- wrap ---------------------------------------------------------------------------------------


def test_wrap_takes_attributes_from_the_event() -> None:
    event = _event()
    envelope = _envelope()
    assert envelope.id == "0b1e4f1c-7d4e-4a36-9d7a-3c1c2b9e5f10"
    assert envelope.type == "inclusion.referrals.referral.decided.v1"
    assert envelope.source == "referral-api"
    assert envelope.time == WHEN
    assert envelope.topic == "inclusion.referrals"
    assert envelope.key == "child-7f3a"
    assert envelope.subject == "referral-42"
    assert envelope.data == event.to_json_bytes()
    assert envelope.content_type == CONTENT_TYPE
    assert envelope.extra_headers == ()


def test_wrap_mints_an_id_when_none_is_given() -> None:
    first = Envelope.wrap(_event(), source="s")
    second = Envelope.wrap(_event(), source="s")
    assert first.id != second.id
    assert len(first.id) == 36


# -- kafka_headers ------------------------------------------------------------------------------


def test_kafka_headers_are_the_cloudevents_binary_mode_attributes() -> None:
    headers = _envelope().kafka_headers()
    assert all(isinstance(name, str) and isinstance(value, bytes) for name, value in headers)
    assert dict(headers) == {
        "ce_specversion": b"1.0",
        "ce_id": b"0b1e4f1c-7d4e-4a36-9d7a-3c1c2b9e5f10",
        "ce_type": b"inclusion.referrals.referral.decided.v1",
        "ce_source": b"referral-api",
        "ce_time": b"2024-09-02T08:30:15.123456Z",
        "content-type": b"application/json",
        "ce_subject": b"referral-42",
        "traceparent": TRACEPARENT.encode(),
        "correlation_id": b"corr-1",
        "causation_id": b"cause-1",
    }
    assert len(headers) == 10  # no duplicates


def test_optional_attributes_are_left_out_when_unset() -> None:
    envelope = Envelope.wrap(_event(), source="referral-api", event_id="e-1")
    names = [name for name, _ in envelope.kafka_headers()]
    assert "traceparent" not in names
    assert "correlation_id" not in names
    assert "causation_id" not in names
    assert "ce_subject" in names


# -- round trip ---------------------------------------------------------------------------------


def test_round_trip_keeps_every_attribute() -> None:
    sent = _envelope()
    received = Envelope.from_kafka(
        topic=sent.topic, key=sent.key.encode(), value=sent.data, headers=sent.kafka_headers()
    )
    assert received == sent
    assert received.id == sent.id
    assert received.type == sent.type
    assert received.source == sent.source
    assert received.subject == "referral-42"
    assert received.correlation_id == "corr-1"
    assert received.causation_id == "cause-1"
    assert received.traceparent == TRACEPARENT
    assert received.content_type == "application/json"
    assert received.data == sent.data
    assert received.key == "child-7f3a"
    assert received.topic == "inclusion.referrals"
    # time: same instant, to the microsecond, in UTC
    assert received.time == WHEN
    assert received.time.microsecond == 123456
    assert received.time.utcoffset() == timedelta(0)
    # the payload reads back as the same event
    assert ReferralDecided.model_validate(received.payload()) == _event()


def test_round_trip_converts_a_non_utc_event_time_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    event = _event(occurred_at=datetime(2024, 9, 2, 10, 30, 15, 5, tzinfo=paris))
    sent = Envelope.wrap(event, source="referral-api", event_id="e-1")
    assert dict(sent.kafka_headers())["ce_time"] == b"2024-09-02T08:30:15.000005Z"
    received = Envelope.from_kafka(
        topic=sent.topic, key=sent.key.encode(), value=sent.data, headers=sent.kafka_headers()
    )
    assert received.time == datetime(2024, 9, 2, 8, 30, 15, 5, tzinfo=UTC)
    assert received.time.utcoffset() == timedelta(0)


def test_round_trip_keeps_a_non_default_content_type() -> None:
    sent = Envelope(
        id="e-1",
        type="inclusion.cme.case.opened.v1",
        source="cme-tracker",
        time=WHEN,
        topic="inclusion.cme",
        key="child-1",
        data=b"{}",
        content_type="application/cloudevents+json; charset=utf-8",
    )
    headers = sent.kafka_headers()
    assert dict(headers)["content-type"] == b"application/cloudevents+json; charset=utf-8"
    received = Envelope.from_kafka(topic="inclusion.cme", key=b"child-1", value=b"{}", headers=headers)
    assert received.content_type == "application/cloudevents+json; charset=utf-8"
    assert received.subject is None


def test_extra_headers_are_sent_after_the_attributes_and_read_back_verbatim() -> None:
    extra = [("dlt_reason", b"permanent"), ("dlt_error", b"\xff\xfe not utf-8"), ("dlt_attempts", b"5")]
    sent = _envelope().with_extra_headers(extra)
    headers = sent.kafka_headers()
    assert headers[-3:] == extra
    received = Envelope.from_kafka(topic=sent.topic, key=sent.key.encode(), value=sent.data, headers=headers)
    assert received.extra_headers == tuple(extra)
    assert received == sent


def test_with_extra_headers_returns_a_copy() -> None:
    original = _envelope()
    copy = original.with_extra_headers([("x", b"1")])
    assert original.extra_headers == ()
    assert copy.extra_headers == (("x", b"1"),)
    assert copy.id == original.id


def test_headers_may_be_a_mapping() -> None:
    sent = _envelope()
    received = Envelope.from_kafka(
        topic=sent.topic, key=sent.key.encode(), value=sent.data, headers=dict(sent.kafka_headers())
    )
    assert received == sent


@pytest.mark.parametrize(
    ("key", "expected"),
    [(b"child-1", "child-1"), (None, ""), (b"", ""), (b"\xffabc", "\ufffdabc")],
)
def test_key_is_decoded_leniently(key: bytes | None, expected: str) -> None:
    received = Envelope.from_kafka(topic="t", key=key, value=b"{}", headers=_headers())
    assert received.key == expected


def test_missing_ce_time_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    received = Envelope.from_kafka(topic="t", key=None, value=b"{}", headers=_headers(ce_time=None))
    assert before <= received.time <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-09-02T08:30:15Z", datetime(2024, 9, 2, 8, 30, 15, tzinfo=UTC)),
        ("2024-09-02T08:30:15.000001Z", datetime(2024, 9, 2, 8, 30, 15, 1, tzinfo=UTC)),
        ("2024-09-02T09:30:15+01:00", datetime(2024, 9, 2, 8, 30, 15, tzinfo=UTC)),
        ("2024-09-02T08:30:15+00:00", datetime(2024, 9, 2, 8, 30, 15, tzinfo=UTC)),
    ],
)
def test_foreign_ce_time_reads_as_the_same_instant(text: str, expected: datetime) -> None:
    received = Envelope.from_kafka(topic="t", key=None, value=b"{}", headers=_headers(ce_time=text.encode()))
    assert received.time == expected


# -- from_kafka errors --------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "ce_source", "ce_specversion"])
def test_each_required_header_is_required(missing: str) -> None:
    with pytest.raises(EnvelopeError, match=f"missing header.*{missing}"):
        Envelope.from_kafka(topic="t", key=b"k", value=b"{}", headers=_headers(**{missing: None}))


def test_all_missing_headers_are_named() -> None:
    with pytest.raises(EnvelopeError) as caught:
        Envelope.from_kafka(topic="t", key=b"k", value=b"{}", headers=[("other", b"x")])
    assert "ce_id, ce_type, ce_source, ce_specversion" in str(caught.value)


@pytest.mark.parametrize("version", [b"0.3", b"1", b"1.0 ", b"2.0", b""])
def test_wrong_specversion_is_refused(version: bytes) -> None:
    with pytest.raises(EnvelopeError, match="specversion"):
        Envelope.from_kafka(topic="t", key=b"k", value=b"{}", headers=_headers(ce_specversion=version))


@pytest.mark.parametrize(
    "name", ["ce_id", "ce_type", "ce_source", "ce_time", "ce_subject", "content-type", "traceparent"]
)
def test_non_utf8_attribute_header_is_refused(name: str) -> None:
    with pytest.raises(EnvelopeError, match=f"header {name} is not UTF-8"):
        Envelope.from_kafka(topic="t", key=b"k", value=b"{}", headers=_headers(**{name: b"\xff\xfe"}))


def test_missing_value_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="empty value"):
        Envelope.from_kafka(topic="t", key=b"k", value=None, headers=_headers())


@pytest.mark.parametrize("text", [b"yesterday", b"2024-13-01T00:00:00Z", b"2024-09-02T25:00:00Z", b"12"])
def test_bad_ce_time_is_refused(text: bytes) -> None:
    with pytest.raises(EnvelopeError, match="bad ce_time"):
        Envelope.from_kafka(topic="t", key=b"k", value=b"{}", headers=_headers(ce_time=text))


def test_envelope_error_is_a_value_error() -> None:
    assert issubclass(EnvelopeError, ValueError)


# -- payload ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"42", "not a JSON object"),
        (b"null", "not a JSON object"),
    ],
)
def test_payload_refuses_non_json_and_non_objects(data: bytes, message: str) -> None:
    envelope = Envelope.from_kafka(topic="t", key=b"k", value=data, headers=_headers())
    with pytest.raises(EnvelopeError, match=message):
        envelope.payload()


def test_payload_reads_a_json_object() -> None:
    envelope = Envelope.from_kafka(topic="t", key=b"k", value=b'{"a": [1, "b"]}', headers=_headers())
    assert envelope.payload() == {"a": [1, "b"]}


# -- _rfc3339 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 9, 2, 8, 30, 15, tzinfo=UTC), "2024-09-02T08:30:15Z"),
        (datetime(2024, 9, 2, 8, 30, 15, 123456, tzinfo=UTC), "2024-09-02T08:30:15.123456Z"),
        (datetime(2024, 9, 2, 8, 30, 15, 1, tzinfo=UTC), "2024-09-02T08:30:15.000001Z"),
        (datetime(2024, 9, 2, 8, 30, 15, tzinfo=timezone(timedelta(0))), "2024-09-02T08:30:15Z"),
        (datetime(2024, 9, 2, 9, 30, 15, tzinfo=timezone(timedelta(hours=1))), "2024-09-02T08:30:15Z"),
        (
            datetime(2024, 9, 2, 3, 0, 0, 42, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            "2024-09-02T08:30:00.000042Z",
        ),
        (datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2023-12-31T23:30:00Z"),
        # naive datetimes are taken to be UTC already
        (datetime(2024, 9, 2, 8, 30, 15), "2024-09-02T08:30:15Z"),
        (datetime(2024, 9, 2, 8, 30, 15, 999999), "2024-09-02T08:30:15.999999Z"),
    ],
)
def test_rfc3339(moment: datetime, expected: str) -> None:
    assert _rfc3339(moment) == expected
    assert datetime.fromisoformat(expected) == (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def test_spec_version_is_one_point_oh() -> None:
    assert SPEC_VERSION == "1.0"


# -- IntegrationEvent ---------------------------------------------------------------------------


def _event_class(event_type: str) -> type[IntegrationEvent]:
    return type("Probe", (IntegrationEvent,), {"event_type": event_type, "__annotations__": {}})


@pytest.mark.parametrize(
    ("event_type", "parts"),
    [
        (
            "inclusion.referrals.referral.submitted.v1",
            {"context": "referrals", "subject": "referral", "action": "submitted", "major": "1"},
        ),
        (
            "inclusion.cme.child-missing.reported.v2",
            {"context": "cme", "subject": "child-missing", "action": "reported", "major": "2"},
        ),
        (
            "inclusion.attendance.mark2.recorded.v10",
            {"context": "attendance", "subject": "mark2", "action": "recorded", "major": "10"},
        ),
    ],
)
def test_good_type_strings(event_type: str, parts: dict[str, str]) -> None:
    cls = _event_class(event_type)
    assert cls.type_parts() == parts
    assert cls.major_version() == int(parts["major"])


@pytest.mark.parametrize(
    "event_type",
    [
        "",
        "inclusion.referrals.referral.submitted",  # no version
        "inclusion.referrals.referral.submitted.v0",  # majors start at 1
        "inclusion.referrals.referral.submitted.v01",
        "inclusion.referrals.referral.submitted.1",
        "inclusion.referrals.referral.submitted.V1",
        "Inclusion.referrals.referral.submitted.v1",
        "inclusion.Referrals.referral.submitted.v1",
        "inclusion.referrals.ReferralSubmitted.v1",  # a class name is not a contract
        "inclusion.referrals.referral_x.submitted.v1",
        "inclusion.referrals.referral.submitted.extra.v1",
        "inclusion.referrals..submitted.v1",
        "inclusion.1referrals.referral.submitted.v1",
        "other.referrals.referral.submitted.v1",
        "inclusion.referrals.referral.submitted.v1 ",
        " inclusion.referrals.referral.submitted.v1",
        "inclusion.referrals.referral.submitted.v1\n",
    ],
)
def test_bad_type_strings(event_type: str) -> None:
    cls = _event_class(event_type)
    with pytest.raises(ContractError, match="bad event type"):
        cls.type_parts()
    with pytest.raises(ContractError):
        cls.topic()
    with pytest.raises(ContractError):
        EventRegistry().register(cls)


@pytest.mark.parametrize(
    ("context", "topic"),
    [
        ("referrals", "inclusion.referrals"),
        ("attendance", "inclusion.attendance"),
        ("cme", "inclusion.cme"),
        ("exclusions", "inclusion.exclusions"),
        ("enforcement", "inclusion.enforcement"),
    ],
)
def test_topic_comes_from_the_context(context: str, topic: str) -> None:
    assert _event_class(f"inclusion.{context}.thing.happened.v1").topic() == topic


@pytest.mark.parametrize("context", ["referral", "reporting", "early-help", "inclusion"])
def test_unknown_context_has_no_topic(context: str) -> None:
    cls = _event_class(f"inclusion.{context}.thing.happened.v1")
    with pytest.raises(ContractError, match=f"no topic for context '{context}'"):
        cls.topic()
    with pytest.raises(ContractError):
        EventRegistry().register(cls)


def test_key_is_the_child_reference() -> None:
    assert _event(child_ref="child-99").key == "child-99"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("accepted", ReferralOutcome.ACCEPTED),
        ("declined", ReferralOutcome.DECLINED),
        ("unknown", ReferralOutcome.UNKNOWN),
        ("withdrawn", ReferralOutcome.UNKNOWN),  # added by a newer producer
        ("ACCEPTED", ReferralOutcome.UNKNOWN),
    ],
)
def test_tolerant_enum_field_reads_unknown_values_as_unknown(value: str, expected: ReferralOutcome) -> None:
    payload = json.loads(_event().to_json_bytes())
    payload["outcome"] = value
    read = ReferralDecided.model_validate_json(json.dumps(payload))
    assert read.outcome is expected
    assert ReferralDecided.model_validate(payload).outcome is expected


def test_tolerant_enum_direct_lookup() -> None:
    assert ReferralOutcome("something-new") is ReferralOutcome.UNKNOWN
    assert ReferralOutcome("declined") is ReferralOutcome.DECLINED


def test_unknown_fields_are_ignored_on_read() -> None:
    payload = json.loads(_event().to_json_bytes())
    payload["added_in_a_later_minor"] = {"x": 1}
    payload["another"] = "value"
    read = ReferralDecided.model_validate_json(json.dumps(payload))
    assert read == _event()
    assert "added_in_a_later_minor" not in read.model_dump()


def test_payload_json_round_trip() -> None:
    event = _event(reason_code="R1")
    data = json.loads(event.to_json_bytes())
    assert data == {
        "child_ref": "child-7f3a",
        "aggregate_id": "referral-42",
        "aggregate_version": 3,
        "occurred_at": "2024-09-02T08:30:15.123456Z",
        "outcome": "accepted",
        "reason_code": "R1",
    }


def test_naive_occurred_at_is_rejected() -> None:
    with pytest.raises(ValidationError, match="occurred_at must be timezone-aware"):
        _event(occurred_at=datetime(2024, 9, 2, 8, 30))
    with pytest.raises(ValidationError, match="timezone-aware"):
        ReferralDecided.model_validate_json(
            '{"child_ref": "c", "aggregate_id": "a", "aggregate_version": 1,'
            ' "occurred_at": "2024-09-02T08:30:00", "outcome": "accepted"}'
        )


def test_aware_occurred_at_is_stored_in_utc() -> None:
    event = _event(occurred_at=datetime(2024, 9, 2, 9, 30, tzinfo=timezone(timedelta(hours=1))))
    assert event.occurred_at == datetime(2024, 9, 2, 8, 30, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("child_ref", ""),
        ("child_ref", "x" * 65),
        ("aggregate_id", ""),
        ("aggregate_version", 0),
    ],
)
def test_envelope_fields_are_bounded(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        _event(**{field: value})


def test_events_are_frozen() -> None:
    with pytest.raises(ValidationError):
        _event().aggregate_version = 4  # type: ignore[misc]


# -- EventRegistry ------------------------------------------------------------------------------


def test_registry_registers_looks_up_and_lists() -> None:
    registry = EventRegistry([ReferralDecided])
    assert ReferralDecided.event_type in registry
    assert registry[ReferralDecided.event_type] is ReferralDecided
    assert registry.get(ReferralDecided.event_type) is ReferralDecided
    assert registry.get("inclusion.referrals.referral.unknown.v1") is None
    assert len(registry) == 1
    assert registry.types() == [ReferralDecided.event_type]
    assert registry.topics() == ["inclusion.referrals"]
    assert list(registry) == [ReferralDecided]


def test_registering_the_same_class_twice_is_harmless() -> None:
    registry = EventRegistry([ReferralDecided])
    assert registry.register(ReferralDecided) is ReferralDecided
    assert len(registry) == 1


def test_duplicate_type_from_another_class_is_refused() -> None:
    registry = EventRegistry([ReferralDecided])

    class Impostor(IntegrationEvent):
        event_type: ClassVar[str] = "inclusion.referrals.referral.decided.v1"

    with pytest.raises(ContractError, match="already registered by ReferralDecided"):
        registry.register(Impostor)
    assert registry[ReferralDecided.event_type] is ReferralDecided
    with pytest.raises(ContractError, match="already registered"):
        EventRegistry([ReferralDecided, Impostor])


def test_registry_is_usable_as_a_decorator_and_sorts_by_type() -> None:
    registry = EventRegistry()

    @registry.register
    class CaseOpened(IntegrationEvent):
        event_type: ClassVar[str] = "inclusion.cme.case.opened.v1"

    @registry.register
    class CaseClosed(IntegrationEvent):
        event_type: ClassVar[str] = "inclusion.cme.case.closed.v1"

    assert registry.types() == ["inclusion.cme.case.closed.v1", "inclusion.cme.case.opened.v1"]
    assert list(registry) == [CaseClosed, CaseOpened]
    assert registry.topics() == ["inclusion.cme"]


def test_class_without_event_type_is_refused() -> None:
    class Untyped(IntegrationEvent):
        pass

    with pytest.raises(ContractError, match="Untyped has no event_type"):
        EventRegistry().register(Untyped)


def test_tolerant_enum_without_unknown_is_refused() -> None:
    class Strict(TolerantEnum):
        A = "a"

    class UsesStrict(IntegrationEvent):
        event_type: ClassVar[str] = "inclusion.cme.case.graded.v1"
        grade: Strict

    with pytest.raises(ContractError, match="Strict lacks UNKNOWN"):
        EventRegistry().register(UsesStrict)
