"""FastAPI dependencies of enforcement: principal, unit of work, pagination."""
