"""Repositories of enforcement: load and save aggregates through the unit of work's session."""
