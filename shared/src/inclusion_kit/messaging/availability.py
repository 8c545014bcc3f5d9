"""Is a failure the infrastructure being unavailable, rather than anything about the message?

A consumer's database restarting (connection refused or lost, "the database system is starting
up", an administrator's shutdown) fails every message alike for as long as it lasts. Counting such
failures against a message's bounded retries would dead-letter whatever the consumer happened to
hold during an outage of more than a few seconds, and its effects would be missing from the read
models until someone replays the dead letters: ``bench/chaos.py`` found exactly that after a
PostgreSQL restart. The dispatcher therefore keeps retrying these (with its capped backoff) without
spending the message's attempts; the message is dead-lettered only for failures of its own.
"""

from __future__ import annotations

# SQLSTATEs of an unavailable server: class 08 (connection exception) by prefix, and these.
_UNAVAILABLE_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, shutting down, in recovery)
        "53300",  # too_many_connections
    }
)
_CLOSED_MESSAGES = ("connection is closed", "connection was closed", "underlying connection is closed")


def _sqlstate(exc: BaseException) -> str | None:
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str):
            return value
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (SQLAlchemy's ``orig``), its causes and contexts."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(seen) < 16:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        orig = getattr(current, "orig", None)
        pending.extend(
            [current.__context__, current.__cause__, orig if isinstance(orig, BaseException) else None]
        )
    return seen


def infrastructure_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database (or the connection to it) is down, not the message bad."""
    for e in _chain(exc):
        if isinstance(e, ConnectionError):  # refused, reset, aborted, broken pipe
            return True
        if getattr(e, "connection_invalidated", False):  # SQLAlchemy recognised a disconnect
            return True
        state = _sqlstate(e)
        if state is not None and (state.startswith("08") or state in _UNAVAILABLE_SQLSTATES):
            return True
        if type(e).__name__ == "InterfaceError" and any(m in str(e) for m in _CLOSED_MESSAGES):
            return True
    return False
