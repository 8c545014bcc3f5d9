"""Events published by the enforcement context (topic ``inclusion.enforcement``).

Every event here is listed in ``EVENTS`` and so in the public registry; run
``inclusion-kit catalog build`` after a change and commit ``shared/catalog/``.
"""

from __future__ import annotations

from inclusion_kit.contracts.base import IntegrationEvent

EVENTS: tuple[type[IntegrationEvent], ...] = ()
