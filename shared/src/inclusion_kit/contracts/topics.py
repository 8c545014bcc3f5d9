"""Kafka topics: one per producing context, several event types per topic."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    REFERRALS = "inclusion.referrals"
    ATTENDANCE = "inclusion.attendance"
    CME = "inclusion.cme"
    EXCLUSIONS = "inclusion.exclusions"
    ENFORCEMENT = "inclusion.enforcement"


TOPICS_BY_CONTEXT: dict[str, str] = {topic.value.split(".", 1)[1]: topic.value for topic in Topic}


def dead_letter_topic(topic: str, group: str) -> str:
    """Dead letters are per topic and consumer group, so replaying one group's failures never
    re-delivers to another group (the shared-retry-topic trap)."""
    return f"{topic}.{group}.dlt"
