"""Public event contracts: pydantic models only (no SQLAlchemy, aiokafka or FastAPI here)."""

from inclusion_kit.contracts.base import ContractError, IntegrationEvent, TolerantEnum, x_pii
from inclusion_kit.contracts.envelope import Envelope, EnvelopeError
from inclusion_kit.contracts.registry import EventRegistry
from inclusion_kit.contracts.topics import Topic, dead_letter_topic

__all__ = [
    "ContractError",
    "Envelope",
    "EnvelopeError",
    "EventRegistry",
    "IntegrationEvent",
    "TolerantEnum",
    "Topic",
    "dead_letter_topic",
    "x_pii",
]
