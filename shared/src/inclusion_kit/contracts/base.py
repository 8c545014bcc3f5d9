"""The integration-event base class.

An integration event is a public, versioned fact another service (or an Early Help system) may
subscribe to. The contract is the type string ``inclusion.<context>.<subject>.<action>.v<major>``,
never the Python class name, so a class can be renamed or moved without breaking anyone.

Readers are tolerant: unknown fields are ignored, and enums built on :class:`TolerantEnum` map
values they do not know to ``unknown``. Writers evolve additively (new optional fields with
defaults); anything else is a new major version published beside the old one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inclusion_kit.contracts.topics import TOPICS_BY_CONTEXT

TYPE_PATTERN = re.compile(
    r"^inclusion\.(?P<context>[a-z][a-z0-9-]*)\.(?P<subject>[a-z][a-z0-9-]*)"
    r"\.(?P<action>[a-z][a-z0-9-]*)\.v(?P<major>[1-9][0-9]*)\Z"
)


class ContractError(ValueError):
    """A contract definition is malformed (bad type string, unknown context, duplicate...)."""


class TolerantEnum(StrEnum):
    """A string enum that reads values it does not know as ``unknown``.

    Producers may add enum values additively; an older consumer must keep working, so it sees
    ``unknown`` rather than failing validation. Every subclass must define ``UNKNOWN = "unknown"``.
    """

    @classmethod
    def _missing_(cls, value: object) -> TolerantEnum:
        unknown = cls.__members__.get("UNKNOWN")
        if unknown is None:  # pragma: no cover - a definition error, caught by the registry tests
            raise ContractError(f"{cls.__name__} is a TolerantEnum without an UNKNOWN member")
        return unknown


def x_pii(description: str = "") -> dict[str, Any]:
    """JSON-schema extras marking a field as personal data (``x-pii: true``)."""
    extra: dict[str, Any] = {"x-pii": True}
    return (
        {"description": description, "json_schema_extra": extra}
        if description
        else {"json_schema_extra": extra}
    )


class IntegrationEvent(BaseModel):
    """Base of every public event.

    Subclasses set ``event_type`` (the contract) as a class variable and declare their payload.
    Every event is about one child: ``child_ref`` is the platform's reference for the child and is
    the Kafka key, so one child's events stay in order on one partition.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    event_type: ClassVar[str]
    # Example payload used for the catalogue; each subclass provides one.
    example: ClassVar[dict[str, Any] | None] = None

    child_ref: str = Field(
        min_length=1,
        max_length=64,
        description="The platform's opaque reference for the child (not personal data by itself); "
        "the Kafka key.",
    )
    aggregate_id: str = Field(min_length=1, max_length=64, description="Id of the record that changed.")
    aggregate_version: int = Field(ge=1, description="Version of that record after the change.")
    occurred_at: datetime = Field(description="When the change happened (UTC, RFC 3339).")

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        return value.astimezone(UTC)

    # -- contract metadata -------------------------------------------------------------------
    @classmethod
    def type_parts(cls) -> dict[str, str]:
        match = TYPE_PATTERN.match(cls.event_type)
        if match is None:
            raise ContractError(f"{cls.__name__}: bad event type {cls.event_type!r}")
        return match.groupdict()

    @classmethod
    def topic(cls) -> str:
        """The topic is fixed by the type string's context (one topic per producing context)."""
        context = cls.type_parts()["context"]
        try:
            return TOPICS_BY_CONTEXT[context]
        except KeyError as exc:
            raise ContractError(f"{cls.event_type}: no topic for context {context!r}") from exc

    @classmethod
    def major_version(cls) -> int:
        return int(cls.type_parts()["major"])

    @property
    def key(self) -> str:
        return self.child_ref

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()
