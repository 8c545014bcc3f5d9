"""Domain errors of exclusions: rule violations the API turns into problem details."""

from __future__ import annotations


class DomainError(Exception):
    """A request that breaks a rule of the domain."""

    code = "domain-rule"


class Rejected(DomainError):
    """The notification breaks one or more rules; each is a (field, message) pair."""

    code = "notification-rejected"

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))
        self.errors = errors


class NotOnRoll(DomainError):
    """The UPN is not on that school's roll (as the roll events have told this service)."""

    code = "not-on-roll"


class SuspensionCapExceeded(DomainError):
    code = "suspension-cap-exceeded"

    def __init__(self, academic_year: str, so_far: float, requested: float, cap: float) -> None:
        super().__init__(
            f"this suspension of {requested:g} days would take the pupil past the maximum of {cap:g} "
            f"school days of suspension in {academic_year}: the pupil has {so_far:g} days so far"
        )
        self.academic_year = academic_year
        self.so_far = so_far
        self.requested = requested
        self.cap = cap


class DuplicateNotification(DomainError):
    code = "duplicate-notification"

    def __init__(self, message: str, existing_id: str) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class IllegalTransition(DomainError):
    code = "illegal-transition"
