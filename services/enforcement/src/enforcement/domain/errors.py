"""Domain errors of enforcement: rule violations the API turns into problem details."""

from __future__ import annotations


class DomainError(Exception):
    """A request that breaks a rule of the domain."""

    code = "domain-rule"


class IllegalTransition(DomainError):
    """The record is not in a state that allows this step (the API answers 409)."""

    code = "illegal-transition"


class NoCodeOfConduct(DomainError):
    """No code of conduct is configured for the LA on the date that matters."""

    code = "no-code-of-conduct"


class RuleFailed(DomainError):
    """A rule of the code of conduct forbids the step (e.g. a third notice within three years)."""

    code = "rule-failed"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


class InvalidPayment(DomainError):
    """The payment does not settle the notice on its date (wrong amount, or too late)."""

    code = "invalid-payment"


class OutOfTime(DomainError):
    """The six-month limit for laying information has passed."""

    code = "out-of-time"
