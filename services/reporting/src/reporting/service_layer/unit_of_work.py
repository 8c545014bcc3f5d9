"""reporting's unit of work: one transaction per message (or per report read), with its inbox row.

Reporting emits no events; the kit's unit of work gives it the session, the inbox and the audit
tables. The read models' repositories take the session (``adapters/repository.py``).
"""

from __future__ import annotations

from inclusion_kit.messaging.unit_of_work import UnitOfWork as KitUnitOfWork


class UnitOfWork(KitUnitOfWork):
    """The kit's unit of work; reporting's writes are the projector's set-based statements."""
