"""Repositories of referral-api: load and save aggregates through the unit of work's session."""
