"""Use cases: handlers run inside a unit of work."""
