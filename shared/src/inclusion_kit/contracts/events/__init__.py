"""The public event registry: every integration event another service may subscribe to.

To publish a new event: define its model (an ``IntegrationEvent`` subclass with ``event_type``, a
docstring saying what the fact means, and an ``example``), list it in ``REGISTRY`` below or in its
context module's ``EVENTS``, then run ``inclusion-kit catalog build`` and commit ``shared/catalog/``
with the change.
"""

from __future__ import annotations

from inclusion_kit.contracts.events import cme, enforcement, exclusions
from inclusion_kit.contracts.events.attendance import AttendanceRecorded
from inclusion_kit.contracts.events.referrals import ReferralClosed, ReferralReceived, ReferralTriaged
from inclusion_kit.contracts.events.roll import PupilAddedToRoll, PupilEnrolmentRecorded, PupilRemovedFromRoll
from inclusion_kit.contracts.registry import EventRegistry

REGISTRY = EventRegistry(
    [
        ReferralReceived,
        ReferralTriaged,
        ReferralClosed,
        PupilRemovedFromRoll,
        PupilAddedToRoll,
        PupilEnrolmentRecorded,
        AttendanceRecorded,
        *cme.EVENTS,
        *exclusions.EVENTS,
        *enforcement.EVENTS,
    ]
)

__all__ = ["REGISTRY"]
