"""Domain errors of referral-api: rule violations the API turns into problem details."""

from __future__ import annotations


class DomainError(Exception):
    """A request that breaks a rule of the domain."""

    code = "domain-rule"


class IllegalTransition(DomainError):
    code = "illegal-transition"


class UnknownSchool(DomainError):
    code = "unknown-school"


class NotActingForSchool(DomainError):
    code = "not-acting-for-school"
