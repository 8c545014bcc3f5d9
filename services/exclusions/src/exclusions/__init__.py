"""Exclusions: Suspensions, permanent exclusions, sixth-day provision and part-time timetables."""

__version__ = "0.1.0"
