"""FastAPI dependencies of exclusions: principal, unit of work, pagination."""
