"""Repositories of cme-tracker: load and save aggregates through the unit of work's session."""
