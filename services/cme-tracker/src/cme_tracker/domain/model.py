"""Aggregates of cme-tracker. Each carries a version and records the domain events it raises."""
