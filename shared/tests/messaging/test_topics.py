"""Outside local and test modes the worker never creates topics: a missing one is an error that
names it (topics.yaml declares partitions, replication and retention)."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from inclusion_kit.messaging.kafka import MissingTopics, ensure_topics
from inclusion_kit.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def test_missing_topics_are_named_not_created(kafka_settings: KafkaSettings) -> None:
    topic = kafka_settings.topic_prefix + "inclusion.cme"
    with pytest.raises(MissingTopics, match=topic):
        await ensure_topics(kafka_settings, [topic], create=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        assert topic not in await admin.list_topics()
        await ensure_topics(kafka_settings, [topic])  # local/test: created
        await ensure_topics(kafka_settings, [topic], create=False)  # now present: no error
        assert topic in await admin.list_topics()
    finally:
        await admin.close()
