"""The Early Help example subscriber (docs/examples/early_help_subscriber.py) against the real
broker: it receives each event type the guide documents once, validated against the committed
schema, ignores other types, and skips a redelivered event."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.contracts.events import REGISTRY
from inclusion_kit.messaging.kafka import KafkaPublisher, ensure_topics, make_producer
from inclusion_kit.settings import KafkaSettings

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "early_help_subscriber.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("early_help_subscriber", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def envelope(event_type: str, child_ref: str) -> Envelope:
    model = REGISTRY[event_type]
    assert model.example is not None
    event = model.model_validate({**model.example, "child_ref": child_ref})
    return Envelope.wrap(event, source="inclusion/test")


def test_the_guide_names_only_published_event_types() -> None:
    example = load_example()
    assert example.WANTED <= set(REGISTRY.types())
    assert {t for t in REGISTRY.topics()} >= set(example.TOPICS)


async def test_the_subscriber_receives_what_the_guide_documents(kafka_settings: KafkaSettings) -> None:
    example = load_example()
    prefix = kafka_settings.topic_prefix
    await ensure_topics(kafka_settings, [prefix + t for t in example.TOPICS])
    wanted = sorted(example.WANTED)
    sent = [envelope(t, f"c-{i:016x}") for i, t in enumerate(wanted)]
    other = envelope("inclusion.referrals.pupil.added-to-roll.v1", "c-ffffffffffffffff")
    producer = make_producer(kafka_settings, client_id="test-early-help")
    await producer.start()
    try:
        publisher = KafkaPublisher(producer, prefix)
        assert await publisher.publish_batch([*sent, other, sent[0]]) == [None] * (len(sent) + 2)
    finally:
        await producer.stop()

    received: list[Any] = []

    async def handle(event: Any) -> None:
        received.append(event)

    subscriber = example.Subscriber(handle)
    stop = asyncio.Event()
    task = asyncio.create_task(
        example.consume(
            kafka_settings.bootstrap_servers,
            f"{prefix}early-help",
            subscriber,
            stop,
            topics=[prefix + t for t in example.TOPICS],
        )
    )
    try:
        for _ in range(200):
            if len(received) >= len(sent) and subscriber.ignored >= 1:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert sorted((e.type, e.id, e.child_ref) for e in received) == sorted(
        (s.type, s.id, s.key) for s in sent
    )
    assert subscriber.ignored == 1
