"""Correlation and causation ids carried through a request or a message (contextvars)."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)
traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)


def new_id() -> str:
    return str(uuid.uuid4())


def current_correlation_id() -> str:
    """The current correlation id, minting one when nothing set it (a scheduled job, a CLI)."""
    value = correlation_id_var.get()
    if value is None:
        value = new_id()
        correlation_id_var.set(value)
    return value
