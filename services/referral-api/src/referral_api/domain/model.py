"""Aggregates of referral-api. Each carries a version and records the domain events it raises."""
