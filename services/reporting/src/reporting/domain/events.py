"""Domain events of reporting: none are published.

Reporting only consumes (ARCHITECTURE.md §1): its read models are built from other contexts'
events and it raises no facts of its own for other services to act on.
"""
