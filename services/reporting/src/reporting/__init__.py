"""Reporting: Read models built from events: indicators against targets, breakdowns and exports."""

__version__ = "0.1.0"
