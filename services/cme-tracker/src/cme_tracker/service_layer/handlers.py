"""Handlers of cme-tracker: commands from the API and events from other services."""

from __future__ import annotations

from cme_tracker.service_layer.unit_of_work import UnitOfWork
from inclusion_kit.service import ConsumerSpec

# The consumer groups of this service and the event types each handles.
CONSUMERS: list[ConsumerSpec[UnitOfWork]] = []
