"""Domain errors of reporting: what the API turns into problem details."""

from __future__ import annotations


class ReportingError(Exception):
    """Base of reporting's rule violations."""


class InvalidPeriod(ReportingError):
    """A report asked for a period the LA's calendar does not have (names the parameter)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


class InvalidIndicatorTable(ReportingError):
    """The indicator configuration (the county's table of floors and targets) is malformed."""
