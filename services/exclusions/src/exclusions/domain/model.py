"""Aggregates of exclusions. Each carries a version and records the domain events it raises."""
