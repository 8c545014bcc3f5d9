"""A registry of event types: type string -> model class, refusing duplicates."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from inclusion_kit.contracts.base import ContractError, IntegrationEvent, TolerantEnum

E = TypeVar("E", bound=type[IntegrationEvent])


class EventRegistry:
    def __init__(self, events: Iterable[type[IntegrationEvent]] = ()) -> None:
        self._by_type: dict[str, type[IntegrationEvent]] = {}
        for event in events:
            self.register(event)

    def register(self, event: E) -> E:
        """Register ``event`` (usable as a class decorator)."""
        event_type = getattr(event, "event_type", None)
        if not isinstance(event_type, str):
            raise ContractError(f"{event.__name__} has no event_type")
        event.type_parts()  # validates the type string
        event.topic()  # validates the context
        if event_type in self._by_type and self._by_type[event_type] is not event:
            raise ContractError(
                f"event type {event_type!r} is already registered by {self._by_type[event_type].__qualname__}"
            )
        for name, field in event.__pydantic_fields__.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, TolerantEnum):
                if "UNKNOWN" not in annotation.__members__:
                    raise ContractError(f"{event_type}.{name}: {annotation.__name__} lacks UNKNOWN")
        self._by_type[event_type] = event
        return event

    def get(self, event_type: str) -> type[IntegrationEvent] | None:
        return self._by_type.get(event_type)

    def __getitem__(self, event_type: str) -> type[IntegrationEvent]:
        return self._by_type[event_type]

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._by_type

    def __iter__(self) -> Iterator[type[IntegrationEvent]]:
        return iter(sorted(self._by_type.values(), key=lambda e: e.event_type))

    def __len__(self) -> int:
        return len(self._by_type)

    def types(self) -> list[str]:
        return sorted(self._by_type)

    def topics(self) -> list[str]:
        return sorted({event.topic() for event in self._by_type.values()})
