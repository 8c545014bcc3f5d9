"""Domain errors of cme-tracker: rule violations the API turns into problem details."""

from __future__ import annotations


class DomainError(Exception):
    """A request that breaks a rule of the domain."""

    code = "domain-rule"


class IllegalTransition(DomainError):
    """The case or registration is not in a state that allows this (answered 409)."""

    code = "illegal-transition"


class EnquiriesIncomplete(IllegalTransition):
    """Closing as not found needs every item of the reasonable-enquiries checklist tried."""

    code = "enquiries-incomplete"


class InvalidRequest(DomainError):
    """A value the rules refuse (answered 422 with the field named)."""

    code = "invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
