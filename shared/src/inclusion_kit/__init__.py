"""inclusion_kit: contracts and plumbing for the platform's services.

Boring on purpose: event contracts, messaging (outbox, inbox, consumers), database helpers,
auth, settings, observability and standard reference data (UPNs, the school calendar, attendance
codes). No business rules live here.
"""

__version__ = "0.1.0"
