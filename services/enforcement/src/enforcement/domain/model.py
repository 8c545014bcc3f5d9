"""Aggregates of enforcement. Each carries a version and records the domain events it raises."""
