"""Repositories of reporting: load and save aggregates through the unit of work's session."""
