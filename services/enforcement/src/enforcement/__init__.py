"""Enforcement: Attendance positions, persistent absence, penalty notices and prosecutions."""

__version__ = "0.1.0"
