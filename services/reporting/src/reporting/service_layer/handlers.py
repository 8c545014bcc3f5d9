"""Handlers of reporting: commands from the API and events from other services."""

from __future__ import annotations

from inclusion_kit.service import ConsumerSpec
from reporting.service_layer.unit_of_work import UnitOfWork

# The consumer groups of this service and the event types each handles.
CONSUMERS: list[ConsumerSpec[UnitOfWork]] = []
