"""Turning one delivered envelope into at most one effect, whatever the transport.

The same :class:`Dispatcher` runs behind the Kafka consume loop, the embedded bus and
``dlt-replay``. For each envelope it: ignores types this consumer does not handle (skip);
validates the payload against the registered contract (invalid: permanent); opens a unit of work;
records the inbox row ``(consumer, event id)`` (already there: duplicate, nothing changes); runs
the handler; commits effects, outgoing events and the inbox row together.

Failures are classified up front: *permanent* (the message can never succeed: malformed, invalid
contract, a handler's :class:`PermanentError`) goes to the dead letters at once; *transient*
(database or broker unavailable, a handler's :class:`TransientError`, anything unexpected) is
retried in place with exponential backoff, keeping the partition's (one child's) order, up to
``max_attempts``, then dead-lettered; *skip* (:class:`SkipMessage`) acknowledges without effect.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError

from inclusion_kit.contracts.base import IntegrationEvent
from inclusion_kit.contracts.envelope import Envelope, EnvelopeError
from inclusion_kit.contracts.registry import EventRegistry
from inclusion_kit.messaging.availability import infrastructure_unavailable
from inclusion_kit.messaging.context import causation_id_var, correlation_id_var
from inclusion_kit.messaging.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

U = TypeVar("U", bound=UnitOfWork)


class PermanentError(Exception):
    """The message can never be processed; retrying is pointless."""


class TransientError(Exception):
    """A temporary condition; the message may succeed later."""


class SkipMessage(Exception):
    """Acknowledge the message without effect (e.g. a stale aggregate version)."""


class Outcome(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    DEAD_LETTERED = "dead_lettered"


class FailureKind(enum.StrEnum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"


@dataclass(frozen=True, slots=True)
class Delivery:
    envelope: Envelope
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    reason: str  # "permanent" or "retries-exhausted"
    error: str  # exception class and message, never the payload
    attempts: int


@dataclass(frozen=True, slots=True)
class HandlerContext(Generic[U]):
    uow: U
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class BatchContext(Generic[U]):
    uow: U
    envelopes: list[Envelope]


Handler = Callable[[IntegrationEvent, HandlerContext[U]], Awaitable[None]]
# Applies consecutive events of one type together (same effect as the single handler on each,
# in order). Optional: consumers with heavy volume (attendance, projections) provide one.
BatchHandler = Callable[[list[IntegrationEvent], BatchContext[U]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_initial: float = 0.2
    backoff_max: float = 10.0

    def delay(self, attempt: int) -> float:
        base: float = min(self.backoff_max, self.backoff_initial * (2 ** (attempt - 1)))
        return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto


def classify(exc: BaseException) -> FailureKind:
    if isinstance(exc, PermanentError | EnvelopeError | ValidationError):
        return FailureKind.PERMANENT
    if isinstance(exc, TransientError | OperationalError | ConnectionError | TimeoutError | OSError):
        return FailureKind.TRANSIENT
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return FailureKind.TRANSIENT
    # An unexpected error may be a bug or a passing condition we did not foresee: retry it a
    # bounded number of times, then dead-letter it so the partition moves on.
    return FailureKind.TRANSIENT


def describe(exc: BaseException) -> str:
    # Exception text from validation may echo input values; keep only the class and the
    # locations of the failing fields, never values (they may be personal data).
    if isinstance(exc, ValidationError):
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
        return f"ValidationError: invalid field(s) {', '.join(fields)}"
    if isinstance(exc, PermanentError | TransientError | SkipMessage | EnvelopeError):
        # Our own messages: written to explain, not to carry input.
        return f"{type(exc).__name__}: {str(exc)[:500]}"
    if isinstance(exc, DBAPIError):
        # SQLAlchemy's text includes the statement's parameters: potentially a child's details.
        return f"{type(exc).__name__} ({type(exc.orig).__name__})"
    # A foreign exception's text may echo input (names, addresses): the class tells enough.
    return type(exc).__name__


class Dispatcher(Generic[U]):
    def __init__(
        self,
        consumer: str,
        registry: EventRegistry,
        handlers: Mapping[str, Handler[U]],
        uow_factory: Callable[[], U],
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        batch_handlers: Mapping[str, BatchHandler[U]] | None = None,
    ) -> None:
        unknown = [t for t in handlers if t not in registry]
        if batch_handlers and set(batch_handlers) - set(handlers):
            raise ValueError(f"{consumer}: a batch handler needs a single-event handler too (for retries)")
        self.batch_handlers = dict(batch_handlers or {})
        if unknown:
            raise ValueError(f"{consumer}: handlers for unregistered event types {unknown}")
        self.consumer = consumer
        self.registry = registry
        self.handlers = dict(handlers)
        self.uow_factory = uow_factory
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    @property
    def topics(self) -> list[str]:
        return sorted({self.registry[t].topic() for t in self.handlers})

    def handles(self, event_type: str) -> bool:
        return event_type in self.handlers

    async def dispatch_once(self, delivery: Delivery) -> Outcome:
        envelope = delivery.envelope
        handler = self.handlers.get(envelope.type)
        if handler is None:
            return Outcome.SKIPPED  # unknown or uninteresting type: tolerant reader
        model = self.registry[envelope.type]
        event = model.model_validate_json(envelope.data)
        correlation_token = correlation_id_var.set(envelope.correlation_id or envelope.id)
        causation_token = causation_id_var.set(envelope.id)
        try:
            async with self.uow_factory() as uow:
                fresh = await uow.record_inbox(
                    self.consumer, envelope, partition=delivery.partition, offset=delivery.offset
                )
                if not fresh:
                    return Outcome.DUPLICATE
                try:
                    await handler(event, HandlerContext(uow=uow, envelope=envelope))
                except SkipMessage:
                    # Keep the inbox row so a redelivery is recognised, but change nothing else.
                    await uow.rollback()
                    async with self.uow_factory() as skip_uow:
                        await skip_uow.record_inbox(
                            self.consumer, envelope, partition=delivery.partition, offset=delivery.offset
                        )
                        await skip_uow.commit()
                    return Outcome.SKIPPED
                await uow.commit()
                return Outcome.APPLIED
        finally:
            correlation_id_var.reset(correlation_token)
            causation_id_var.reset(causation_token)

    async def dispatch_batch(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        """Apply several deliveries in ONE transaction: each one's inbox row and effects commit
        together with the others', so every message is still all-or-nothing. Raises on any
        failure (after rolling the whole batch back); the caller then falls back to one by one.

        Inbox rows go in with one statement. Consecutive events of a type that has a batch
        handler are applied by one call (one child's events keep their order)."""
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        events: list[IntegrationEvent | None] = [None] * len(deliveries)
        for i, delivery in enumerate(deliveries):
            if delivery.envelope.type not in self.handlers:
                outcomes[i] = Outcome.SKIPPED
            else:
                events[i] = self.registry[delivery.envelope.type].model_validate_json(delivery.envelope.data)
        async with self.uow_factory() as uow:
            handled = [d for i, d in enumerate(deliveries) if outcomes[i] is None]
            fresh = await uow.record_inbox_many(
                self.consumer, [(d.envelope, d.partition, d.offset) for d in handled]
            )
            seen: set[str] = set()
            run: list[tuple[IntegrationEvent, Envelope]] = []
            run_type: str | None = None
            for i, delivery in enumerate(deliveries):
                if outcomes[i] is not None:
                    continue
                envelope = delivery.envelope
                if envelope.id not in fresh or envelope.id in seen:
                    outcomes[i] = Outcome.DUPLICATE
                    continue
                seen.add(envelope.id)
                outcomes[i] = Outcome.APPLIED
                event = events[i]
                assert event is not None
                if envelope.type in self.batch_handlers:
                    if run and run_type != envelope.type:
                        await self._apply_run(uow, run_type, run)
                        run = []
                    run_type = envelope.type
                    run.append((event, envelope))
                    continue
                if run:
                    await self._apply_run(uow, run_type, run)
                    run = []
                await self._apply_one(uow, event, envelope)
            if run:
                await self._apply_run(uow, run_type, run)
            await uow.commit()
        return [o if o is not None else Outcome.SKIPPED for o in outcomes]

    async def _apply_one(self, uow: U, event: IntegrationEvent, envelope: Envelope) -> None:
        correlation_token = correlation_id_var.set(envelope.correlation_id or envelope.id)
        causation_token = causation_id_var.set(envelope.id)
        try:
            await self.handlers[envelope.type](event, HandlerContext(uow=uow, envelope=envelope))
        finally:
            correlation_id_var.reset(correlation_token)
            causation_id_var.reset(causation_token)

    async def _apply_run(
        self, uow: U, event_type: str | None, run: list[tuple[IntegrationEvent, Envelope]]
    ) -> None:
        assert event_type is not None
        await self.batch_handlers[event_type](
            [event for event, _ in run], BatchContext(uow=uow, envelopes=[envelope for _, envelope in run])
        )

    async def process_batch(self, deliveries: Sequence[Delivery]) -> list[Outcome | Failure]:
        """The batched fast path, and the per-message policy whenever the batch fails."""
        if len(deliveries) > 1:
            try:
                return list(await self.dispatch_batch(deliveries))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info(
                    "batch failed, processing one by one",
                    extra={"consumer": self.consumer, "count": len(deliveries), "error": describe(exc)},
                )
        return [await self.process(delivery) for delivery in deliveries]

    async def process(self, delivery: Delivery) -> Outcome | Failure:
        """Dispatch with the retry policy; a :class:`Failure` means: dead-letter it."""
        attempt = 0
        outages = 0
        while True:
            attempt += 1
            try:
                return await self.dispatch_once(delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # classified below; nothing escapes unclassified
                kind = classify(exc)
                detail = describe(exc)
                if kind is FailureKind.PERMANENT:
                    log.warning(
                        "permanent failure",
                        extra={
                            "consumer": self.consumer,
                            "event_id": delivery.envelope.id,
                            "event_type": delivery.envelope.type,
                            "error": detail,
                        },
                    )
                    return Failure(kind, "permanent", detail, attempt)
                # An unavailable database fails every message alike: it spends no attempts.
                outages += infrastructure_unavailable(exc)
                if attempt - outages >= self.policy.max_attempts:
                    log.error(
                        "retries exhausted",
                        extra={
                            "consumer": self.consumer,
                            "event_id": delivery.envelope.id,
                            "event_type": delivery.envelope.type,
                            "error": detail,
                            "attempts": attempt,
                        },
                    )
                    return Failure(kind, "retries-exhausted", detail, attempt)
                log.info(
                    "transient failure, retrying",
                    extra={
                        "consumer": self.consumer,
                        "event_id": delivery.envelope.id,
                        "attempt": attempt,
                        "error": detail,
                    },
                )
                await self._sleep(self.policy.delay(min(attempt, 32)))
