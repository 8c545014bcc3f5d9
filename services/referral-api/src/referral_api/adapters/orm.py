"""Tables of referral-api's own database (no other service reads them)."""

from __future__ import annotations

from inclusion_kit.db.metadata import KitTables, make_metadata

metadata = make_metadata()
# Outbox, inbox, dead letters and audit log: the plumbing every service owns.
tables = KitTables(metadata)
