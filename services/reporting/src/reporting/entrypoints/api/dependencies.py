"""FastAPI dependencies of reporting: principal, unit of work, pagination."""
